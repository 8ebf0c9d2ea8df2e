"""`orchestrator report`: one self-contained HTML file of budget, epics, stuck PRs, queue and health."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli_common import app, console, friendly, settings
from orchestrator.text import data_text


def _settings():
    """The configuration; with only `--db` (e.g. after `orchestrator demo`), what the database recorded."""
    from orchestrator.cli_common import state
    from orchestrator.config import ConfigError, Settings

    try:
        return settings()
    except ConfigError:
        if not state.db or state.config:
            raise
    from tasks.report_html import locked_reader

    with locked_reader(state.db) as con:
        recorded = dict(con.execute("SELECT key, value FROM run_settings").fetchall())
    if not recorded.get("org"):
        raise ConfigError(f"{state.db}: no configuration given and the database does not record its organisation")
    return Settings.model_validate(
        {
            "github": {"org": recorded["org"]},
            "database": {"path": state.db},
            "agent": {"label": recorded.get("agent_label", "jules")},
            "team": {"timezone": recorded.get("timezone", "UTC")},
            "dispatch": {"strategy": recorded.get("strategy", "conservative")},
        }
    )


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
        f"report written to {path.resolve()}: {len(data.epics)} epics, {len(data.stuck)} stuck PRs, "
        f"{len(data.ready)} ready, {data.used_today}/{data.pool} tasks used today "
        f"({t.get('dispatched', 0)} dispatched, {t.get('merged', 0)} merged)"
    )
    console.print(data_text(line), soft_wrap=True)  # the path is the user's: data, not markup
    if open_it:
        import webbrowser

        if not webbrowser.open(path.resolve().as_uri()):
            console.print(data_text(f"no browser found: open {path.resolve().as_uri()} by hand"))
