"""`orchestrator execute [--plan ID] [--apply] [--json]`: perform a plan (a dry run unless --apply)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

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
    from flows.execute import NoPlan
    from flows.execute import execute as run

    try:
        summary = run(settings(), plan_id=plan, apply=apply)
    except NoPlan as exc:
        fail(str(exc), 1)
    if as_json:
        print_json(summary)
        return
    print_outcomes(summary)


def print_outcomes(summary: dict[str, Any]) -> None:
    """The plan's actions and their outcomes as a Rich table, then one summary line."""
    title = f"plan {summary['plan_id']}" + ("" if summary["applied"] else " (dry run: nothing written)")
    table = Table(title=title)
    for column in ("seq", "action", "repo", "target", "cost", "status", "reason / url"):
        table.add_column(column, overflow="fold")
    for row in summary["outcomes"]:
        style = STATUS_STYLE.get(row["status"], "")
        detail = row.get("github_url") or row.get("reason") or ""
        table.add_row(
            str(row["seq"]), row["action"], row["repo"], str(row.get("target") or ""), str(row["cost"]),
            f"[{style}]{row['status']}[/]" if style else row["status"], str(detail),
        )  # fmt: skip
    console.print(table)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary["by_status"].items()))
    verb = "applied" if summary["applied"] else "dry run"
    console.print(f"{verb}: {summary['actions']} actions ({counts}); tasks spent {summary['tasks_spent']}")
