"""Schema versions and upgrades: a database written by release 0.1.0 (tests/fixtures/db-0.1.0, made by
that release's snapshot, plan, execute --apply and forecast) upgrades in place with every row kept,
a newer database is refused in one line, and a failed upgrade leaves the file as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from tasks import schema_upgrade, store
from tasks.schema_upgrade import SCHEMA_VERSION, DatabaseSchemaError, Migration

FIXTURE = Path(__file__).parent / "fixtures" / "db-0.1.0"


def load_fixture(path: Path) -> None:
    """A fresh DuckDB file holding the fixture: 0.1.0's tables, rows, sequence and views."""
    statements = [s.strip() for s in (FIXTURE / "schema.sql").read_text().split(";\n") if s.strip()]
    con = duckdb.connect(str(path))
    try:
        for statement in (s for s in statements if not s.startswith("CREATE VIEW")):
            con.execute(statement)
        for line in (FIXTURE / "load.sql").read_text().splitlines():
            if line.strip():
                con.execute(line.replace("FROM '", f"FROM '{FIXTURE}/", 1))
        views = [s for s in statements if s.startswith("CREATE VIEW")]
        while views:  # the export lists views in no particular order: each after those it reads
            waiting = []
            for statement in views:
                try:
                    con.execute(statement)
                except (duckdb.CatalogException, duckdb.BinderException):  # a view it reads is not there yet
                    waiting.append(statement)
            assert len(waiting) < len(views), waiting[0][:200]
            views = waiting
        con.execute("CHECKPOINT")
    finally:
        con.close()


def columns_of(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    rows = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main' AND NOT internal "
        "AND table_name IN (SELECT table_name FROM duckdb_tables()) ORDER BY table_name, column_index"
    ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def rows_of(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    names = ", ".join(f'"{c}"' for c in columns)
    return con.execute(f"SELECT {names} FROM {table} ORDER BY ALL").fetchall()


def snapshot_of(path: Path) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Every table's columns and rows."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {table: (cols, rows_of(con, table, cols)) for table, cols in columns_of(con).items()}
    finally:
        con.close()


@pytest.fixture
def old_db(tmp_path: Path) -> Path:
    path = tmp_path / "orchestrator.duckdb"
    load_fixture(path)
    return path


def test_the_fixture_is_a_0_1_0_database_with_rows_in_every_table(old_db: Path) -> None:
    before = snapshot_of(old_db)
    assert "schema_meta" not in before and len(before) >= 16
    assert all(rows for _, rows in before.values()), [t for t, (_, rows) in before.items() if not rows]
    con = duckdb.connect(str(old_db), read_only=True)
    state = schema_upgrade.inspect(con)
    con.close()
    assert (state.version, state.release, state.needs_upgrade) == (1, "0.1.0", True)


def test_a_write_command_upgrades_a_0_1_0_database_keeping_every_row(old_db: Path) -> None:
    before = snapshot_of(old_db)
    with store.writer(old_db) as con:
        after_columns = columns_of(con)
        for table, (columns, rows) in before.items():
            assert after_columns[table][: len(columns)] == columns, table  # old columns kept, in order
            assert rows_of(con, table, columns) == rows, table  # every row, every old value
        history = con.execute("SELECT version, release, from_version FROM schema_meta").fetchall()
        assert [(v, f) for v, _, f in history] == [(SCHEMA_VERSION, 1)]
        views = [name for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
        assert {"issues", "ready_queue", "daily_usage", "stuck_prs"} <= set(views)
        for view in views:
            con.execute(f"SELECT * FROM {view} LIMIT 1").fetchall()  # every view answers
        assert con.execute("SELECT count(*) FROM issues").fetchone()[0] > 0
    backup = schema_upgrade.backup_path(old_db, 1)
    assert snapshot_of(backup) == before  # the copy is the 0.1.0 database, whole
    con = duckdb.connect(str(backup), read_only=True)
    assert schema_upgrade.inspect(con).version == 1
    con.close()


def test_a_column_or_table_declared_later_reaches_an_old_database_with_its_default(
    old_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The generic step: whatever `store.TABLES` declares that the database lacks is added, rows kept,
    and an ordered migration (a backfill) runs once, after the new columns exist."""
    tables = dict(store.TABLES)
    tables["action_log"] += ", acted_by VARCHAR DEFAULT 'unknown', attempts INTEGER"
    tables["write_marks"] = "mark VARCHAR PRIMARY KEY, marked_at TIMESTAMP"
    monkeypatch.setattr(store, "TABLES", tables)
    backfill = Migration(SCHEMA_VERSION, "attempts of done actions", lambda c: c.execute(
        "UPDATE action_log SET attempts = 1 WHERE status = 'done'"))  # fmt: skip
    monkeypatch.setattr(schema_upgrade, "MIGRATIONS", [backfill])
    before = snapshot_of(old_db)["action_log"]
    with store.writer(old_db) as con:
        assert rows_of(con, "action_log", before[0]) == before[1]
        added = con.execute("SELECT DISTINCT acted_by FROM action_log").fetchall()
        done = con.execute("SELECT count(*) FILTER (status = 'done'), count(attempts) FROM action_log").fetchone()
        assert con.execute("SELECT count(*) FROM write_marks").fetchone()[0] == 0
    assert added == [("unknown",)] and done[0] == done[1] > 0
    with store.writer(old_db) as con:  # current now: the migration does not run again
        con.execute("UPDATE action_log SET attempts = 7")
    with store.writer(old_db) as con:
        assert con.execute("SELECT DISTINCT attempts FROM action_log").fetchall() == [(7,)]


def test_a_failed_upgrade_leaves_the_database_as_it_was(old_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def breaks(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("DELETE FROM action_log")  # undone with the rest
        raise RuntimeError("injected failure")

    monkeypatch.setattr(schema_upgrade, "MIGRATIONS", [Migration(SCHEMA_VERSION, "fails", breaks)])
    before = snapshot_of(old_db)
    with pytest.raises(DatabaseSchemaError) as failure:
        with store.writer(old_db):
            pass
    message = str(failure.value)
    assert "\n" not in message and "injected failure" in message and "unchanged" in message
    assert snapshot_of(old_db) == before  # no new column, table, version row or lost row
    monkeypatch.setattr(schema_upgrade, "MIGRATIONS", [])
    with store.writer(old_db) as con:  # the next write command upgrades it
        assert con.execute("SELECT max(version) FROM schema_meta").fetchone()[0] == SCHEMA_VERSION


def test_a_database_from_a_newer_release_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.duckdb"
    with store.writer(path) as con:
        con.execute(
            "INSERT INTO schema_meta VALUES (?, '9.1.0', now()::TIMESTAMP, ?)", [SCHEMA_VERSION + 7, SCHEMA_VERSION]
        )
    before = snapshot_of(path)
    with pytest.raises(DatabaseSchemaError, match=r"schema 9 \(release 9.1.0\).*upgrade the orchestrator to 9.1.0"):
        with store.writer(path):
            pass
    from orchestrator.cli import app

    for args in (["sql", "SELECT 1"], ["report", "--out", str(tmp_path / "r.html")]):
        result = CliRunner().invoke(app, ["--db", str(path), *args])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "newer than this release" in lines[0] and "9.1.0" in lines[0], result.output
    assert snapshot_of(path) == before and not list(tmp_path.glob("*.bak-*"))


def test_a_read_command_upgrades_an_old_database_first(old_db: Path) -> None:
    """The choice for read-only commands: they upgrade transparently (with the same copy), so every
    command works on an old file; only a file that cannot be written is refused, naming the fix."""
    from orchestrator.cli import app

    result = CliRunner().invoke(app, ["--db", str(old_db), "sql", "SELECT count(*) AS n FROM issues", "--json"])
    assert result.exit_code == 0, result.output
    assert schema_upgrade.backup_path(old_db, 1).exists()
    con = duckdb.connect(str(old_db), read_only=True)
    assert schema_upgrade.inspect(con).version == SCHEMA_VERSION
    con.close()
    backup = schema_upgrade.backup_path(old_db, 1)  # the copy is read as it is, never upgraded
    result = CliRunner().invoke(app, ["--db", str(backup), "sql", "SELECT count(*) AS n FROM issues", "--json"])
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(backup), read_only=True)
    assert schema_upgrade.inspect(con).version == 1
    con.close()
    assert not list(old_db.parent.glob("*.bak-1.bak-*"))


def test_a_new_database_records_its_version_and_makes_no_copy(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.duckdb"
    with store.writer(path) as con:
        assert con.execute("SELECT version, from_version FROM schema_meta").fetchall() == [(SCHEMA_VERSION, None)]
    with store.writer(path) as con:  # opening it again adds no history row
        assert con.execute("SELECT count(*) FROM schema_meta").fetchone()[0] == 1
    assert not list(tmp_path.glob("*.bak-*"))


def test_the_package_version_is_the_latest_schema_release() -> None:
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == schema_upgrade.RELEASES[SCHEMA_VERSION]
