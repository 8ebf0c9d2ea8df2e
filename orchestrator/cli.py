"""The `orchestrator` command line: a few lines per command over the flows.

Errors a user can fix (configuration, token, GitHub's answers, SQL) are one line on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os
import sys
import time

INVOKED = time.perf_counter()  # `--verbose` reports the time from here to the first GitHub request

# Quiet, reliable Prefect on a fresh machine: no telemetry, a start-up timeout long
# enough for the first database migration (about 22 s on 2 cores), and only warnings.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
# One-shot commands print their own summary and one-line errors; Prefect's run logs
# (with tracebacks) stay in the Prefect UI. `--verbose` or ORCHESTRATOR_DEBUG shows them.
if os.environ.get("ORCHESTRATOR_DEBUG") or "--verbose" in sys.argv or "serve" in sys.argv[1:]:
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")

# Prefect's temporary server (started when no PREFECT_API_URL is set) ends with this command,
# even one killed outright: a cron timeout or `kill -9` must not leave ~190 MB behind.
from common.lifetime import bind_prefect_servers  # noqa: E402

bind_prefect_servers()

from pathlib import Path  # noqa: E402
from typing import Annotated  # noqa: E402

import typer  # noqa: E402

from orchestrator.cli_common import app, console, db_path, fail, friendly, print_frame, settings, state  # noqa: E402

# ── commands ──────────────────────────────────────────────────────────────────


@app.command()
@friendly
def snapshot(full: Annotated[bool, typer.Option(help="list everything, not just what changed")] = False) -> None:
    """Snapshot every configured repository's issues, PRs, comments and events into DuckDB.

    Example: orchestrator --config orchestrator.toml snapshot
    """
    from orchestrator.sandbox_link import connect_sandbox
    from tasks.preflight import preflight

    configured = settings()
    connect_sandbox(configured, state.config)  # the demo's configuration: is its sandbox running?
    preflight(configured)  # a refused token or an unwritable database: said in seconds, before Prefect starts

    from rich.progress import Progress

    from common.text import markup_safe
    from flows.snapshot import snapshot as run

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("snapshot", total=None)

        def advance(repo: str, done: int, total: int) -> None:
            bar.update(task, total=total, completed=done, description=f"snapshot {markup_safe(repo)}")

        summary = run(configured, full=full, progress=advance)
    console.print(
        f"snapshot {summary['run_id']}: {len(summary['repos'])} repos, {summary['requests']} requests "
        f"({summary['requests_not_modified']} not modified), {summary['versions_added']} versions added, "
        f"rate limit left {summary['rate_limit_remaining']}"
    )
    if state.verbose:
        from tasks.github_client import FIRST_REQUEST

        since = {phase: f"{at - INVOKED:.2f} s" for phase, at in FIRST_REQUEST.items()}
        console.print(
            f"first GitHub request {since.get('preflight', 'none')} after invocation (pre-flight check), "
            f"the snapshot's first {since.get('flow', 'none')}; {summary['graphql_points']} GraphQL points, "
            f"read path {summary['read_path']}"
        )


@app.command()
@friendly
def sql(
    query: Annotated[str, typer.Argument(help="a SELECT (the database is opened read-only)")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON rows")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="print CSV")] = False,
) -> None:
    """Query the database read-only and print the result.

    Example: orchestrator sql "FROM daily_usage ORDER BY usage_date DESC"
    """
    import duckdb

    from common.text import json_safe, printable
    from tasks import store

    with store.reader(db_path()) as con:
        # Read-only means no file either: no COPY ... TO, ATTACH or INSTALL, and no undoing that.
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        try:
            frame = con.execute(query).fetchdf()
        except duckdb.Error as exc:
            fail(f"query failed: {str(exc).splitlines()[0]}", 1)
    if as_json:
        # JSON keeps every character, escaped (C0 by pandas, DEL and C1 by json_safe): data stays exact.
        sys.stdout.write(json_safe(frame.to_json(orient="records", date_format="iso", force_ascii=False)) + "\n")
    elif as_csv:
        # CSV cannot escape a control character, so they are dropped, escape sequences whole.
        text_only = frame.map(lambda v: printable(v) if isinstance(v, str) else v).rename(columns=printable)
        sys.stdout.write(text_only.to_csv(index=False))
    else:
        print_frame(frame)


@app.command()
@friendly
def sandbox(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 8765,
    seed: Annotated[int, typer.Option(help="seed of the demo organisation")] = 7,
    state_file: Annotated[
        Path | None, typer.Option("--state", help="serve this saved state (orchestrator-demo.sandbox.json)")
    ] = None,
    with_app: Annotated[
        bool, typer.Option("--app", help="also create a GitHub App installed on the org; prints its ids")
    ] = False,
    app_key: Annotated[
        Path, typer.Option(help="where --app writes the App's private key (mode 0600)")
    ] = Path("orchestrator-sandbox-app.pem"),
    app_token_seconds: Annotated[
        int, typer.Option(min=1, help="how long the App's installation tokens live (GitHub: 3600)")
    ] = 3600,
    write_limits: Annotated[
        str | None,
        typer.Option(help="content-creation limits, COUNT/SECONDS pairs: 80/60,500/3600 as GitHub, 5/2 for tests"),
    ] = None,
) -> None:
    """Run the GitHub sandbox alone (demo organisation `dappcore`), for trying things by hand.

    Example: orchestrator sandbox --state orchestrator-demo.sandbox.json (the org as `orchestrator demo` left it),
    then orchestrator --config orchestrator-demo.toml snapshot; `orchestrator sandbox --app` also creates a
    GitHub App, prints its app id and installation id and writes its private key to --app-key.
    """
    from sandbox.persist import load_state
    from sandbox.server import run_forever
    from sandbox.write_limits import parse_option

    try:
        saved = load_state(state_file) if state_file else None
        limits = parse_option(write_limits) if write_limits else None
    except ValueError as exc:
        fail(str(exc), 1)
    run_forever(port=port, seed=seed, state=saved, app_key=str(app_key) if with_app else None,
                app_token_seconds=app_token_seconds, write_limits=limits)  # fmt: skip


@app.command()
@friendly
def demo(
    db: Annotated[str, typer.Option(help="where the demo database goes")] = "orchestrator-demo.duckdb",
) -> None:
    """Start the sandbox with the demo organisation, run the loop and the forecast, and summarise.

    Leaves orchestrator-demo.toml (a configuration for every other command) and the sandbox's state.
    Example: orchestrator demo, then orchestrator --config orchestrator-demo.toml sql "FROM repo_progress"
    """
    from orchestrator.demo import run_demo

    run_demo(Path(state.db or db), console)


# Commands that live in their own modules register themselves on `app` when imported.
for _module in ("plan", "execute", "forecast", "serve", "report", "doctor", "simulate", "export"):
    __import__(f"orchestrator.commands.{_module}")

if __name__ == "__main__":
    app()
