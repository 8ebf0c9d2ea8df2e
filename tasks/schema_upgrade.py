"""Schema versions and upgrades: the DuckDB file is the product's history, so a release never loses it.

The database records its schema version in `schema_meta` (one row per upgrade: version, release,
upgraded_at, from_version). A database without that table was written by release 0.1.0 (schema 1).
Opening a database for writing brings an older one up to `SCHEMA_VERSION` in place, in one
transaction, after copying the file to `<db>.bak-<old version>`:

1. additive, found by comparing the declared schema (`store.TABLES`) with the database: missing
   tables are created, missing columns added (`ALTER TABLE ... ADD COLUMN` with the declared
   default), so a new column needs nothing but its line in `TABLES`;
2. explicit, for anything else (a rename, a backfill): the `MIGRATIONS` whose version is above the
   database's, in order;
3. views: the release's views replace the old ones (views the release no longer has are dropped).

A database written by a newer release is refused in one line. A failed upgrade rolls back whole:
the file stays as it was, at its old version (and the copy stays too).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import duckdb

from common.config import ConfigError
from tasks import store

SCHEMA_VERSION = 2
# The release that introduced each schema version (named in messages about old and new files).
RELEASES: dict[int, str] = {1: "0.1.0", 2: "0.2.0"}
META_TABLE = "schema_meta"
FINGERPRINT_TABLE = "schema_fingerprint"  # the hash of the schema last applied (see apply_schema)
META_COLUMNS = "version INTEGER NOT NULL, release VARCHAR, upgraded_at TIMESTAMP NOT NULL, from_version INTEGER"


@dataclass(frozen=True)
class Migration:
    """One non-additive step: `apply(con)` runs inside the upgrade's transaction, after the additive
    step (new columns exist), when the database's version is below `version`."""

    version: int
    description: str
    apply: Callable[[duckdb.DuckDBPyConnection], None]


# Ordered by version. Additive changes (a table, a column) need no entry: they are found by comparison.
MIGRATIONS: list[Migration] = []


class DatabaseSchemaError(ConfigError):
    """A database this release cannot use as it is: newer than the release, or an upgrade that failed."""


@dataclass
class SchemaState:
    """How a database stands against this release's declared schema."""

    version: int | None  # None: an empty database (no tables yet)
    release: str | None  # the release that last wrote its schema, when recorded
    missing_tables: list[str] = field(default_factory=list)
    # (table, column, type, default)
    missing_columns: list[tuple[str, str, str, str | None]] = field(default_factory=list)

    @property
    def is_newer(self) -> bool:
        return self.version is not None and self.version > SCHEMA_VERSION

    @property
    def needs_upgrade(self) -> bool:
        """An existing database that this release would change (its tables, columns or version)."""
        if self.version is None or self.is_newer:
            return False
        return self.version < SCHEMA_VERSION or bool(self.missing_tables or self.missing_columns)

    def describe(self) -> str:
        """e.g. `schema 1 (release 0.1.0)`."""
        release = self.release or RELEASES.get(self.version or 0)
        return f"schema {self.version}" + (f" (release {release})" if release else "")


# ── reading where a database stands ───────────────────────────────────────────


@lru_cache(maxsize=8)
def _declared(tables: tuple[tuple[str, str], ...]) -> dict[str, list[tuple[str, str, str | None]]]:
    """The declared tables' columns as DuckDB reads them: {table: [(column, type, default)]}."""
    scratch = duckdb.connect()
    try:
        for name, columns in tables:
            scratch.execute(f"CREATE TABLE {name} ({columns})")
        rows = scratch.execute(
            "SELECT table_name, column_name, data_type, column_default FROM duckdb_columns() "
            "WHERE schema_name = 'main' AND NOT internal "
            "AND table_name IN (SELECT table_name FROM duckdb_tables()) ORDER BY table_name, column_index"
        ).fetchall()
    finally:
        scratch.close()
    declared: dict[str, list[tuple[str, str, str | None]]] = {}
    for table, column, data_type, default in rows:
        declared.setdefault(table, []).append((column, data_type, default))
    return declared


def declared_schema() -> dict[str, list[tuple[str, str, str | None]]]:
    return _declared(tuple(store.TABLES.items()) + ((META_TABLE, META_COLUMNS),))


def _existing_columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    rows = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main' AND NOT internal "
        "AND table_name IN (SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main')"
    ).fetchall()
    existing: dict[str, set[str]] = {}
    for table, column in rows:
        existing.setdefault(table, set()).add(column)
    return existing


def inspect(con: duckdb.DuckDBPyConnection) -> SchemaState:
    """Where the database stands: its version and what the declared schema has that it lacks."""
    existing = _existing_columns(con)
    version, release = (1, RELEASES[1]) if existing else (None, None)  # no schema_meta: release 0.1.0
    if META_TABLE in existing:
        row = con.execute(f"SELECT version, release FROM {META_TABLE} ORDER BY version DESC LIMIT 1").fetchone()
        if row is not None:
            version, release = int(row[0]), row[1]
    state = SchemaState(version=version, release=release)
    for table, columns in declared_schema().items():
        if table not in existing:
            state.missing_tables.append(table)
            continue
        state.missing_columns += [(table, *c) for c in columns if c[0] not in existing[table]]
    return state


def refuse_newer(path: str | Path, state: SchemaState) -> None:
    """One line, naming the version and the release to upgrade to, for a database from a newer release."""
    if state.is_newer:
        wanted = state.release or f"the release with schema {state.version}"
        raise DatabaseSchemaError(
            f"{path}: the database has {state.describe()}, newer than this release "
            f"({RELEASES[SCHEMA_VERSION]}, schema {SCHEMA_VERSION}): upgrade the orchestrator to {wanted} or later"
        )


# ── changing it ───────────────────────────────────────────────────────────────


def _current_release() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("issue-orchestrator")
    except PackageNotFoundError:
        return RELEASES[SCHEMA_VERSION]
    return max(installed, RELEASES[SCHEMA_VERSION], key=lambda v: tuple(int(p) for p in v.split(".")[:3]))


def _add_missing(con: duckdb.DuckDBPyConnection, state: SchemaState) -> None:
    """Create the missing tables and add the missing columns (with their declared default)."""
    declared_sql = dict(store.TABLES) | {META_TABLE: META_COLUMNS}
    for table in state.missing_tables:
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({declared_sql[table]})")
    for table, column, data_type, default in state.missing_columns:
        clause = f" DEFAULT {default}" if default is not None else ""
        con.execute(f'ALTER TABLE {table} ADD COLUMN IF NOT EXISTS "{column}" {data_type}{clause}')


def _drop_stale_views(con: duckdb.DuckDBPyConnection, keep: set[str]) -> None:
    """Views an older release made that this one does not declare (they may read what changed)."""
    stale = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal AND NOT temporary"
    ).fetchall()
    for (name,) in stale:
        if name not in keep:
            con.execute(f'DROP VIEW IF EXISTS "{name}"')


def _create_views(con: duckdb.DuckDBPyConnection) -> set[str]:
    from analytics.views import create_views

    con.execute("CREATE SEQUENCE IF NOT EXISTS snapshot_run_id START 1")
    for name, sql in store.VIEWS.items():
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
    return set(store.VIEWS) | set(create_views(con))


def apply_schema(con: duckdb.DuckDBPyConnection, migrations: list[Migration] | None = None) -> SchemaState:
    """Bring the database to this release's schema in one transaction (safe to run again).

    Returns the state it found. Raises DatabaseSchemaError for a newer database (nothing changed).
    """
    state = inspect(con)
    refuse_newer("database", state)
    fingerprint = _fingerprint()
    if state.version == SCHEMA_VERSION and migrations is None and _fingerprint_stored(con) == fingerprint:
        return state  # this exact schema already: recreating every view costs seconds per writer
    steps = MIGRATIONS if migrations is None else migrations
    with store.transaction(con):
        _add_missing(con, state)
        for migration in steps:
            if state.version is not None and state.version < migration.version <= SCHEMA_VERSION:
                migration.apply(con)
        if state.version is not None and state.version < SCHEMA_VERSION:
            _drop_stale_views(con, keep=set())
        _create_views(con)
        if state.version is None or state.version < SCHEMA_VERSION:
            con.execute(
                f"INSERT INTO {META_TABLE} VALUES (?, ?, ?, ?)",
                [SCHEMA_VERSION, _current_release(), datetime.now(UTC).replace(tzinfo=None), state.version],
            )
        con.execute(f"CREATE TABLE IF NOT EXISTS {FINGERPRINT_TABLE} (fingerprint VARCHAR)")
        con.execute(f"DELETE FROM {FINGERPRINT_TABLE}")
        con.execute(f"INSERT INTO {FINGERPRINT_TABLE} VALUES (?)", [fingerprint])
    return state


def _fingerprint() -> str:
    """This release's tables and views, hashed: a database holding it needs no work on open."""
    from analytics.views import view_definitions

    return store.content_hash({"tables": store.TABLES, "views": store.VIEWS, "sql": view_definitions()})


def _fingerprint_stored(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        row = con.execute(f"SELECT max(fingerprint) FROM {FINGERPRINT_TABLE}").fetchone()
    except duckdb.CatalogException:
        return None
    return row[0] if row else None


def backup_path(path: str | Path, version: int) -> Path:
    return Path(f"{path}.bak-{version}")


def _copy_aside(path: Path, version: int) -> Path:
    """A consistent copy of a closed, checkpointed file (written beside, then renamed into place)."""
    target = backup_path(path, version)
    partial = target.with_name(target.name + ".partial")
    shutil.copy2(path, partial)
    os.replace(partial, target)
    return target


def open_current(path: str | Path) -> duckdb.DuckDBPyConnection:
    """A read-write connection to a database at this release's schema (the caller holds the writers'
    lock). An older database is copied aside, then upgraded in one transaction."""
    path = Path(path)
    con = store.connect(path)
    try:
        state = inspect(con)
        refuse_newer(path, state)
        backup = None
        if state.needs_upgrade:
            con.execute("CHECKPOINT")  # everything in the file, nothing in the WAL: the copy is whole
            con.close()
            backup = _copy_aside(path, state.version or 1)
            con = store.connect(path)
        try:
            apply_schema(con)
        except DatabaseSchemaError:
            raise
        except Exception as exc:
            reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            kept = f"; a copy is at {backup}" if backup else ""
            raise DatabaseSchemaError(
                f"{path}: upgrading from {state.describe()} to schema {SCHEMA_VERSION} failed ({reason}); "
                f"the database is unchanged{kept}"
            ) from None
    except BaseException:
        con.close()
        raise
    return con


def ensure_current(path: str | Path, timeout: float = 600) -> None:
    """Upgrade the file at `path` if it is older than this release (a reader's first step); a newer
    one is refused. Looks read-only first, so a current database costs one short open."""
    from filelock import FileLock

    path = Path(path)
    if not path.exists() or re.search(r"\.bak-\d+$", path.name):
        return  # an upgrade's copy is read as it is: it must stay the old version to go back to
    try:
        probe = store.connect(path, read_only=True)
    except duckdb.IOException:
        return  # a writer has it open (and brings it up to date): the reader waits for it as before
    try:
        state = inspect(probe)
    finally:
        probe.close()
    refuse_newer(path, state)
    if not state.needs_upgrade:
        return
    try:
        with FileLock(f"{path}.lock", timeout=timeout):
            open_current(path).close()
    except OSError as exc:
        raise DatabaseSchemaError(
            f"{path}: the database has {state.describe()} and cannot be upgraded here "
            f"({exc.strerror or exc.__class__.__name__}): run any write command (e.g. `orchestrator snapshot`) "
            "where the file can be written to upgrade it"
        ) from None
