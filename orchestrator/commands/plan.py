"""`orchestrator plan` and `orchestrator budget`: the runbook's Stage 3 decisions and `core dev budget`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from common.text import data_text, markup_safe
from orchestrator.cli_common import app, console, friendly, print_frame, print_json, settings


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@app.command()
@friendly
def plan(as_json: Annotated[bool, typer.Option("--json", help="print the plan summary as JSON")] = False) -> None:
    """Emit today's dispatch plan from the latest complete snapshot (stored, and written as JSON).

    Example: orchestrator plan, then orchestrator execute (dry run) or execute --apply
    """
    from flows.plan import plan_flow

    result = plan_flow(settings=settings())
    if as_json:
        print_json({k: v for k, v in result.items()})
        return
    summary = result["summary"]
    console.print(
        f"plan [bold]{result['plan_id']}[/]: {result['count_actions']} actions, {result['cost']} tasks "
        f"(pool {result['pool']}, used today {result['used']}), written to {markup_safe(result['path'])}"
    )
    for name, count in summary["by_action"].items():
        console.print(data_text(f"  {name:<24}{count:>5}"))
    for note in [*summary["notes"], summary["refill"]]:
        console.print(data_text(f"  {note}", "dim"))


@app.command()
@friendly
def budget(
    show_plan: Annotated[bool, typer.Option("--plan", help="the suggested dispatches for today")] = False,
    history: Annotated[bool, typer.Option("--history", help="daily usage over the past days")] = False,
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="days of --history")] = 7,
    team: Annotated[bool, typer.Option("--team", help="quota and usage per member")] = False,
    forecast: Annotated[int | None, typer.Option("--forecast", min=1, help="what completes within DAYS")] = None,
    rate: Annotated[int | None, typer.Option("--rate", min=0, help="what-if: tasks a day for --forecast")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON for scripts")] = False,
) -> None:
    """Today's agent tasks against the team pool, counted from the ledger (never guessed).

    Example: orchestrator budget --team --history --days 14
    """
    from tasks.budget import budget_history, budget_today, suggested_plan

    cfg = settings()
    now = utcnow()
    result: dict[str, Any] = budget_today(cfg, now)
    if history:
        result["history"] = budget_history(cfg, now, days)
    if show_plan:
        result["plan"] = suggested_plan(cfg, now)
    if forecast is not None:
        from tasks.forecast_store import budget_forecast

        result["forecast"] = budget_forecast(cfg, forecast, rate=rate)
    if as_json:
        print_json(result)
        return
    console.print(
        f"[bold]{result['used']}[/] of {result['pool']} tasks used today, [bold]{result['remaining']}[/] left "
        f"({result['strategy']} strategy: {result['strategy_range'][0]}-{result['strategy_range'][1]} a day; "
        f"{result['window'].replace('_', ' ')} in {result['timezone']})"
    )
    if team:
        table = Table(title="team")
        for column in ("member", "quota", "used", "remaining", "repos"):
            table.add_column(column, justify="left" if column in ("member", "repos") else "right")
        for m in result["members"]:
            cells = (m["login"], m["quota"], m["used"], m["remaining"], ", ".join(m["repos"]))
            table.add_row(*(data_text(cell) for cell in cells))
        console.print(table)
    if history:
        print_frame(pd.DataFrame(result["history"]), title=f"usage, last {days} days")
    if show_plan:
        plan_ = result["plan"]
        print_frame(
            pd.DataFrame(plan_["dispatches"], columns=["repo", "issue", "member", "reason"]), "suggested dispatches"
        )
        for note in [*plan_["notes"], plan_["refill"]]:
            console.print(data_text(f"  {note}", "dim"))
    if forecast is not None:
        _print_forecast(result["forecast"])


def _print_forecast(data: dict[str, Any]) -> None:
    """`budget_forecast`'s answer: its lists of epics as tables, its other figures as lines."""
    for key, value in data.items():
        label = key.replace("_", " ")
        if isinstance(value, list) and value and isinstance(value[0], dict):
            print_frame(pd.DataFrame(value), title=label)
        elif isinstance(value, dict):
            console.print(data_text(f"  {label}: " + ", ".join(f"{k} {v}" for k, v in value.items())))
        elif value not in (None, [], ""):
            console.print(data_text(f"  {label}: {value}"))
