"""`orchestrator report`: one self-contained HTML file of budget, epics, stuck PRs, queue and health."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from common.text import data_text
from orchestrator.cli_common import app, console, friendly, settings


def _settings():
    """The configuration; with only `--db` (e.g. after `orchestrator demo`), what the database recorded."""
    from common.config import ConfigError
    from orchestrator.cli_common import state

    try:
        return settings()
    except ConfigError:
        if not state.db or state.config:
            raise
    from tasks.report_html import recorded_settings

    return recorded_settings(state.db)


@app.command()
@friendly
def report(
    out: Annotated[Path, typer.Option("--out", help="where the HTML file goes")] = Path("reports/report.html"),
    open_it: Annotated[bool, typer.Option("--open", help="open it in the browser")] = False,
) -> None:
    """Write the HTML report (inline CSS, charts embedded): budget, epics, forecast, stuck PRs, ready queue.

    Example: orchestrator report --open
    """
    from tasks.report_html import write_report

    path, data = write_report(_settings(), out)
    t = data.today
    line = (
        f"{len(data.epics)} epics, {len(data.stuck)} stuck PRs, {len(data.ready)} ready, "
        f"{data.used_today}/{data.pool} tasks used today ({t.get('dispatched', 0)} dispatched, "
        f"{t.get('merged', 0)} merged)"
    )
    # The path on a line of its own, never folded (so it can be copied); the figures fit the terminal.
    console.print(data_text(f"report written to {path.resolve()}"), soft_wrap=True)  # the user's path: data
    console.print(data_text(line))
    if open_it:
        import webbrowser

        if not webbrowser.open(path.resolve().as_uri()):
            console.print(data_text(f"no browser found: open {path.resolve().as_uri()} by hand"))
