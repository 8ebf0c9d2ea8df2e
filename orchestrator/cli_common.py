"""What every command shares: the app, one-line errors, settings, tables."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import requests
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from common.config import ConfigError, Settings, load_settings
from common.text import data_text, printable
from tasks.preflight import no_new_database_left_on_failure

app = typer.Typer(
    help="Run an organisation's AI coding agents across its GitHub repositories, on the record.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Data is printed as `Text` (see common/text.py), never as markup; no `:emoji:` codes either.
console = Console(emoji=False)
err = Console(stderr=True, emoji=False)


class State:
    config: str | None = None
    db: str | None = None


state = State()


@app.callback()
def main(
    config: Annotated[
        str | None, typer.Option("--config", envvar="ORCHESTRATOR_CONFIG", help="configuration file")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="DuckDB file (overrides database.path)")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="show Prefect's run logs")] = False,
) -> None:
    """Issue Orchestrator: snapshot GitHub into DuckDB, plan, dispatch, forecast."""
    if not verbose:  # urllib3 announces every retry; the command's one-line error says what matters
        logging.getLogger("urllib3").setLevel(logging.ERROR)
    state.config, state.db = config, db


def fail(message: str, code: int = 1) -> None:
    """One line on stderr and exit; the message is plain text, whatever it holds."""
    try:
        line = Text.assemble(("error:", "bold red"), " ", printable(message))
        err.print(line, highlight=False, soft_wrap=True)
    except Exception:  # noqa: BLE001 - the error line itself must never become a traceback
        typer.echo(f"error: {printable(message).encode('ascii', 'replace').decode()}", err=True)
    raise typer.Exit(code)


def friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors a user can act on into one line and an exit code."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from tasks.github_client import GitHubError

        try:
            with no_new_database_left_on_failure(_database_if_known()):
                return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except ConfigError as exc:
            fail(str(exc), 2)
        except GitHubError as exc:
            fail(str(exc), 1)
        except FileNotFoundError as exc:
            fail(str(exc), 1)
        except (ConnectionError, requests.exceptions.ConnectionError) as exc:
            reason = re.search(r"\[Errno -?\d+\] [^'\")]+|timed out|Connection aborted", str(exc))
            fail(f"cannot reach the GitHub API: {reason.group(0) if reason else exc.__class__.__name__}", 1)
        except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
            if os.environ.get("ORCHESTRATOR_DEBUG"):
                raise
            text = str(exc).splitlines()[0] if str(exc) else ""
            fail(f"{exc.__class__.__name__}: {text} (set ORCHESTRATOR_DEBUG=1 for details)", 1)

    return wrapper


def _database_if_known() -> str | None:
    """The database a command may create, when known (a bad configuration is the command's to report)."""
    try:
        return state.db or settings().database.path
    except ConfigError:
        return None


def settings() -> Settings:
    loaded = load_settings(state.config)
    if state.db:
        loaded.database.path = state.db
    return loaded


def db_path() -> str:
    """The database to read: --db, else the configured one, else the default."""
    if state.db:
        return state.db
    try:
        return settings().database.path
    except ConfigError:
        if state.config or Path("orchestrator.toml").exists():
            raise
        return "orchestrator.duckdb"


def print_frame(frame: Any, title: str | None = None) -> None:
    """A pandas frame as a Rich table; every header and cell is data (no markup, no escape codes)."""
    table = Table(title=data_text(title) if title else None, show_lines=False)
    for column in frame.columns:
        table.add_column(data_text(column), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*(data_text(value) for value in row))
    console.print(table)


def print_json(data: Any) -> None:
    """JSON for scripts: plain, on stdout, no colour."""
    import json
    import sys

    sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")
