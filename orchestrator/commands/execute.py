"""`orchestrator execute [--plan ID] [--apply] [--json]`: perform a plan (a dry run unless --apply)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from common.text import data_text
from orchestrator.cli_common import app, console, fail, friendly, print_json, settings

STATUS_STYLE = {"done": "green", "skipped": "yellow", "failed": "red", "refuse": "red", "would run": "cyan"}


@app.command()
@friendly
def execute(
    plan: Annotated[str | None, typer.Option("--plan", help="plan id (default: the latest plan)")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="write to GitHub (without it: a dry run)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Perform a plan's actions on GitHub, re-checking each first; a dry run unless --apply.

    Example: orchestrator execute (shows what would be done), then orchestrator execute --apply
    """
    from tasks.preflight import preflight

    configured = settings()
    if apply:  # said in seconds, before Prefect starts; a dry run sends no request at all
        preflight(configured)

    from flows.execute import execute_flow
    from tasks.ledger import NoPlan

    try:
        summary = execute_flow(settings=configured, plan_id=plan, apply=apply)
    except NoPlan as exc:
        fail(str(exc), 1)
    if as_json:
        print_json(summary)
    else:
        print_outcomes(summary)
    if summary.get("stopped"):  # GitHub unreachable or the deadline: the rest waits for the next run
        fail(summary["stopped"], 1)


def print_outcomes(summary: dict[str, Any]) -> None:
    """The plan's actions and their outcomes as a Rich table, then one summary line."""
    title = f"plan {summary['plan_id']}" + ("" if summary["applied"] else " (dry run: nothing written)")
    table = Table(title=data_text(title))
    for column in ("seq", "action", "repo", "target", "cost", "status", "reason / url"):
        table.add_column(column, overflow="fold")
    for row in summary["outcomes"]:
        # Reasons hold GitHub's own messages and targets come from issues: data, never markup.
        detail = row.get("github_url") or row.get("reason") or ""
        table.add_row(
            data_text(row["seq"]), data_text(row["action"]), data_text(row["repo"]), data_text(row.get("target") or ""),
            data_text(row["cost"]), data_text(row["status"], STATUS_STYLE.get(row["status"], "")), data_text(detail),
        )  # fmt: skip
    console.print(table)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary["by_status"].items()))
    verb = "applied" if summary["applied"] else "dry run"
    line = f"{verb}: {summary['actions']} actions ({counts}); tasks spent {summary['tasks_spent']}"
    console.print(data_text(line))
