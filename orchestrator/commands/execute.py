"""`orchestrator execute [--plan ID] [--apply] [--json]`: perform a plan (a dry run unless --apply)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from common.text import data_text
from orchestrator.cli_common import (
    Col,
    app,
    console,
    fail,
    friendly,
    in_org,
    print_csv,
    print_json,
    print_table,
    settings,
)

STATUS_STYLE = {
    "done": "green", "skipped": "yellow", "failed": "red", "refuse": "red", "would run": "cyan", "deferred": "magenta",
}  # fmt: skip
# Exit status of an apply that GitHub's write limits cut short (sysexits' EX_TEMPFAIL: try again later).
DEFERRED_EXIT = 75
# At 80 columns: what is done to what (`repo#N` or `repo:branch`, the org is in the title), its
# status and why; the cost (1 for a dispatch, else 0) goes when there is no room for it.
OUTCOME_COLUMNS = [
    Col("seq", justify="right"), Col("action"), Col("what", "target", wide=True, least=16),
    Col("cost", justify="right", drop=1), Col("status"), Col("detail", "reason / url", wide=True),
]  # fmt: skip


@app.command()
@friendly
def execute(
    plan: Annotated[str | None, typer.Option("--plan", help="plan id (default: the latest plan)")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="write to GitHub (without it: a dry run)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="print the actions and their outcomes as CSV")] = False,
) -> None:
    """Perform a plan's actions on GitHub, re-checking each first; a dry run unless --apply.

    Example: orchestrator execute (shows what would be done), then orchestrator execute --apply

    Exit 75 when GitHub's write limits deferred some actions (`deferred N actions until HH:MM`).
    """
    from orchestrator.cli_common import state
    from orchestrator.sandbox_link import connect_sandbox
    from tasks.preflight import preflight

    configured = settings()
    if apply:  # said in seconds, before Prefect starts; a dry run sends no request at all
        connect_sandbox(configured, state.config)  # the demo's configuration: is its sandbox running?
        preflight(configured)

    from flows.execute import execute_flow
    from tasks.ledger import NoPlan

    try:
        summary = execute_flow(settings=configured, plan_id=plan, apply=apply)
    except NoPlan as exc:
        fail(str(exc), 1)
    if as_json:
        print_json(summary)
    elif as_csv:
        print_csv(outcome_rows(summary))
    else:
        print_outcomes(summary, configured.github.org)
    if summary.get("stopped"):  # GitHub unreachable or the deadline: the rest waits for the next run
        fail(summary["stopped"], 1)
    if summary.get("deferred"):  # GitHub's write limits: nothing failed, the next run carries on
        if not (as_json or as_csv):
            console.print(data_text(summary["deferred"]["message"]))
        raise typer.Exit(DEFERRED_EXIT)


def outcome_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per action: the columns of the table (and of --csv)."""
    keys = ("seq", "action", "repo", "target", "cost", "status")
    return [{**{k: row.get(k) for k in keys}, "detail": row.get("github_url") or row.get("reason")}
            for row in summary["outcomes"]]  # fmt: skip


def print_outcomes(summary: dict[str, Any], org: str) -> None:
    """The plan's actions and their outcomes as a table that fits the terminal, then one summary line."""
    title = f"plan {summary['plan_id']} ({org}" + (")" if summary["applied"] else "; dry run: nothing written)")
    rows = outcome_rows(summary)
    for row in rows:  # reasons hold GitHub's own messages and targets come from issues: data, never markup
        row["what"] = in_org(row["repo"], org, row.get("target"))
        row["status"] = data_text(row["status"], STATUS_STYLE.get(row["status"], ""))
    print_table(rows, OUTCOME_COLUMNS, title)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary["by_status"].items()))
    verb = "applied" if summary["applied"] else "dry run"
    line = f"{verb}: {summary['actions']} actions ({counts}); tasks spent {summary['tasks_spent']}"
    console.print(data_text(line))
