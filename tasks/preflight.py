"""Quick, clear failures: what a command checks before it starts a flow, and what it cleans up after.

A command's flow runs on Prefect, whose temporary server takes ~15 s to start; a refused token
or a database that cannot be written is known before that, so it is reported before that. A
command that fails leaves no database it created itself (nor its lock file) behind.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common.config import ConfigError, Settings


class DatabaseUnwritable(ConfigError):
    """The database path cannot be written: a directory, an unwritable folder, a read-only file."""


def check_database_path(path: str | Path) -> None:
    """Raise DatabaseUnwritable (one line) unless a writer could create or open `path`.

    Checked by trying, not with os.access (which says yes to root on a read-only mount): without
    it the writers' file lock would wait its whole timeout on a folder it cannot write.
    """
    path = Path(path)
    if path.is_dir():
        raise DatabaseUnwritable(f"database.path: {path} is a directory, not a DuckDB file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent, prefix=".orchestrator-probe-"):
            pass
        if path.exists():
            with open(path, "ab"):  # appends nothing: only asks for write access
                pass
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise DatabaseUnwritable(f"database.path: cannot write {path}: {reason.lower()}") from None


def check_github(settings: Settings) -> None:
    """The token is there and GitHub accepts it (one free request), before any flow starts."""
    from tasks.github_client import check_credentials

    check_credentials(settings)  # a token, or an App (its JWT, its installation and a token from it)


def preflight(settings: Settings) -> None:
    """What a command that writes the database and talks to GitHub checks before starting its flow."""
    check_database_path(settings.database.path)
    check_github(settings)


def _database_files(db: Path) -> list[Path]:
    return [db, Path(f"{db}.wal"), Path(f"{db}.lock")]


def _holds_anything(db: Path) -> bool:
    """Whether the database holds work worth keeping: a complete snapshot, a plan or a ledger row."""
    import duckdb

    queries = (
        "SELECT count(*) FROM snapshot_runs WHERE status = 'complete'",
        "SELECT count(*) FROM dispatch_plans",
        "SELECT count(*) FROM action_log",
    )
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:
        return True  # cannot tell (another process has it open): keep it
    try:
        for sql in queries:
            try:
                if con.execute(sql).fetchone()[0]:
                    return True
            except duckdb.CatalogException:
                continue  # the table was never created
        return False
    finally:
        con.close()


def _remove_new_database(db: Path, new: list[Path]) -> None:
    from filelock import FileLock, Timeout

    if db not in new or not db.is_file():
        return
    try:
        with FileLock(f"{db}.lock", timeout=5):  # no writer of another command is in it right now
            if _holds_anything(db):
                return
            for leftover in new:
                leftover.unlink(missing_ok=True)
    except (Timeout, OSError):
        return


@contextmanager
def no_new_database_left_on_failure(path: str | Path | None) -> Iterator[None]:
    """If the body fails, remove the database (and its .wal and .lock) when this command created it
    and it holds nothing worth keeping; a database that existed before is never touched."""
    if path is None:
        yield
        return
    db = Path(path)
    new = [file for file in _database_files(db) if not file.exists()]
    try:
        yield
    except BaseException as exc:
        if getattr(exc, "exit_code", 1) != 0:  # typer.Exit(0) is a success
            _remove_new_database(db, new)
        raise
