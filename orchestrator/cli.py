"""The `orchestrator` command line: a few lines per command over the flows.

Errors a user can fix (configuration, token, GitHub's answers, SQL) are one line on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os

# Quiet, reliable Prefect on a fresh machine: no telemetry, a start-up timeout long
# enough for the first database migration (about 22 s on 2 cores), and only warnings.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
# One-shot commands print their own summary and one-line errors; Prefect's run logs
# (with tracebacks) stay in the Prefect UI. `--verbose` or ORCHESTRATOR_DEBUG shows them.
if os.environ.get("ORCHESTRATOR_DEBUG") or "--verbose" in os.sys.argv:
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")

import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import wraps  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Annotated, Any  # noqa: E402

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from orchestrator.config import ConfigError, Settings, load_settings  # noqa: E402

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
        except ConfigError as exc:
            fail(str(exc), 2)
        except GitHubError as exc:
            fail(str(exc), 1)
        except FileNotFoundError as exc:
            fail(str(exc), 1)
        except ConnectionError as exc:
            fail(f"cannot reach GitHub: {exc.__class__.__name__}", 1)
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


# ── commands ──────────────────────────────────────────────────────────────────


@app.command()
@friendly
def snapshot(full: Annotated[bool, typer.Option(help="list everything, not just what changed")] = False) -> None:
    """Snapshot every configured repository's issues, PRs, comments and events into DuckDB.

    Example: orchestrator --config orchestrator.toml snapshot
    """
    from flows.snapshot import snapshot as run

    summary = run(settings(), full=full)
    console.print(
        f"snapshot {summary['run_id']}: {len(summary['repos'])} repos, {summary['requests']} requests "
        f"({summary['requests_not_modified']} not modified), {summary['versions_added']} versions added, "
        f"rate limit left {summary['rate_limit_remaining']}"
    )


@app.command()
@friendly
def sql(
    query: Annotated[str, typer.Argument(help="a SELECT (the database is opened read-only)")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON rows")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="print CSV")] = False,
) -> None:
    """Query the database read-only and print the result.

    Example: orchestrator sql "SELECT repo, count(*) FROM issues GROUP BY repo"
    """
    import duckdb

    from tasks import store

    with store.reader(db_path()) as con:
        try:
            frame = con.execute(query).fetchdf()
        except duckdb.Error as exc:
            fail(f"query failed: {str(exc).splitlines()[0]}", 1)
    if as_json:
        console.print_json(frame.to_json(orient="records", date_format="iso"))
    elif as_csv:
        sys.stdout.write(frame.to_csv(index=False))
    else:
        print_frame(frame)


def print_frame(frame: Any, title: str | None = None) -> None:
    table = Table(title=title, show_lines=False)
    for column in frame.columns:
        table.add_column(str(column), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*("" if value is None else str(value) for value in row))
    console.print(table)


@app.command()
@friendly
def sandbox(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 8765,
    seed: Annotated[int, typer.Option(help="seed of the demo organisation")] = 7,
) -> None:
    """Run the GitHub sandbox alone (demo organisation `dappcore`), for trying things by hand.

    Example: orchestrator sandbox --port 8765, then set api_url = "http://127.0.0.1:8765".
    """
    from orchestrator.sandbox.server import run_forever

    run_forever(port=port, seed=seed)


@app.command()
@friendly
def demo(
    db: Annotated[str, typer.Option(help="where the demo database goes")] = "orchestrator-demo.duckdb",
) -> None:
    """Start the sandbox with the demo organisation, snapshot it and summarise the database.

    Example: orchestrator demo, then orchestrator --db orchestrator-demo.duckdb sql "SELECT * FROM issues"
    """
    from orchestrator.demo import run_demo

    run_demo(Path(state.db or db), console)


if __name__ == "__main__":
    app()
