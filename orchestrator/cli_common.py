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

from orchestrator.config import ConfigError, Settings, load_settings

app = typer.Typer(
    help="Run an organisation's AI coding agents across its GitHub repositories, on the record.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)


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
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors a user can act on into one line and an exit code."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from tasks.github_client import GitHubError

        try:
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
    """A pandas frame as a Rich table."""
    table = Table(title=title, show_lines=False)
    for column in frame.columns:
        table.add_column(str(column), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*("" if value is None else str(value) for value in row))
    console.print(table)


def print_json(data: Any) -> None:
    """JSON for scripts: plain, on stdout, no colour."""
    import json
    import sys

    sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")
