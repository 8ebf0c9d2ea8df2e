"""`orchestrator plan` and `orchestrator budget`: the runbook's Stage 3 decisions and `core dev budget`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from common.not_dispatched import not_dispatched_lines
from common.text import data_text, markup_safe
from orchestrator.cli_common import (
    Col,
    app,
    console,
    fail,
    friendly,
    in_org,
    print_csv,
    print_frame,
    print_json,
    print_table,
    settings,
)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@app.command()
@friendly
def plan(
    as_json: Annotated[bool, typer.Option("--json", help="print the plan summary as JSON")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="print the plan's actions as CSV")] = False,
) -> None:
    """Emit today's dispatch plan from the latest complete snapshot (stored, and written as JSON).

    Example: orchestrator plan, then orchestrator execute (dry run) or execute --apply
    """
    from flows.plan import plan_flow

    result = plan_flow(settings=settings())
    if as_json:
        print_json({k: v for k, v in result.items()})
        return
    if as_csv:
        print_csv(_plan_csv_rows(result["path"]))
        return
    summary = result["summary"]
    console.print(
        f"plan [bold]{result['plan_id']}[/]: {result['count_actions']} actions, {result['cost']} tasks "
        f"(pool {result['pool']}, used today {result['used']}), written to {markup_safe(result['path'])}"
    )
    for name, count in summary["by_action"].items():
        console.print(data_text(f"  {name:<24}{count:>5}"))
    _print_not_dispatched(summary.get("not_dispatched") or {})
    for note in [*summary["notes"], summary["refill"]]:
        console.print(data_text(f"  {note}", "dim"))


def _plan_csv_rows(path: str) -> list[dict[str, Any]]:
    """The written plan's actions, one row each (payload and preconditions as JSON text)."""
    import json
    from pathlib import Path

    actions = json.loads(Path(path).read_text(encoding="utf-8"))["actions"]
    return [{k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in a.items()} for a in actions]


def _print_not_dispatched(counts: dict[str, int]) -> None:
    """Why ready work waits: one line per reason (common/not_dispatched.py) with its count."""
    lines = not_dispatched_lines(counts)
    if lines:
        console.print(data_text("  not dispatched:"))
    for line in lines:
        console.print(data_text(f"  {line}"))


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
    as_csv: Annotated[bool, typer.Option("--csv", help="print one table as CSV (no table option: today)")] = False,
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
    if as_csv:
        rows = _budget_csv_rows(result, team + history + show_plan + (forecast is not None))
        print_csv(rows, names=[c.key for c in DISPATCH_COLUMNS] if show_plan else None)
        return
    _print_budget(result, days, team, cfg.github.org)


def _budget_csv_rows(result: dict[str, Any], tables: int) -> list[dict[str, Any]]:
    """The one table asked for (--team, --history, --plan or --forecast), or today's figures as one row."""
    if tables > 1:
        fail("--csv prints one table: choose one of --team, --history, --plan, --forecast", 2)
    if "history" in result:
        return result["history"]
    if "plan" in result:
        return result["plan"]["dispatches"]
    if "forecast" in result:
        f = result["forecast"]
        return [{**e, "done_within_days": done} for done, key in ((True, "epics_done"), (False, "epics_not_done"))
                for e in f[key]]  # fmt: skip
    if tables:  # --team
        return [{**m, "repos": " ".join(m["repos"])} for m in result["members"]]
    keys = ("pool", "used", "remaining", "strategy", "window", "timezone", "window_start", "window_end")
    return [{k: result[k] for k in keys}]


# At 80 columns every column of these stays; a long reason wraps to two lines, then "…".
TEAM_COLUMNS = [Col("login", "member"), *(Col(k, justify="right") for k in ("quota", "used", "remaining")),
                Col("repos", wide=True)]  # fmt: skip
DISPATCH_COLUMNS = [Col("repo", wide=True), Col("issue", justify="right"), Col("member"), Col("reason", wide=True)]


def _print_budget(result: dict[str, Any], days: int, team: bool, org: str) -> None:
    """Today's line, then each table asked for, fitted to the terminal."""
    history, show_plan = "history" in result, "plan" in result
    console.print(
        f"[bold]{result['used']}[/] of {result['pool']} tasks used today, [bold]{result['remaining']}[/] left "
        f"({result['strategy']} strategy: {result['strategy_range'][0]}-{result['strategy_range'][1]} a day; "
        f"{result['window'].replace('_', ' ')} in {result['timezone']})"
    )
    if team:
        print_table([{**m, "repos": ", ".join(m["repos"])} for m in result["members"]], TEAM_COLUMNS, "team")
    if history:
        import pandas as pd  # only here: every command pays for what it imports at start-up

        print_frame(pd.DataFrame(result["history"]), title=f"usage, last {days} days")
    if show_plan:
        plan_ = result["plan"]
        print_table(plan_["dispatches"], DISPATCH_COLUMNS, "suggested dispatches")
        _print_not_dispatched(plan_["not_dispatched"])
        for note in [*plan_["notes"], plan_["refill"]]:
            console.print(data_text(f"  {note}", "dim"))
    if "forecast" in result:
        _print_forecast(result["forecast"], org)


# An epic of `budget --forecast` at 80 columns: which, its title (two lines at most), children left,
# P85 and the chance to be done in time; the expected tasks when there is room.
FORECAST_COLUMNS = [
    Col("epic"), Col("title", wide=True), Col("left", justify="right"), Col("P85"),
    Col("P(done)", justify="right"), Col("tasks", justify="right", drop=1),
]  # fmt: skip


def _forecast_row(epic: dict[str, Any], org: str) -> dict[str, Any]:
    prob, tasks = epic.get("prob_done_by"), epic.get("expected_tasks")
    return {
        "epic": in_org(epic["repo"], org, epic["epic"]), "title": epic.get("title"),
        "left": epic.get("remaining_children"), "P85": epic.get("p85"),
        "P(done)": None if prob is None else f"{prob:.0%}", "tasks": None if tasks is None else f"{tasks:.1f}",
    }  # fmt: skip


def _print_forecast(data: dict[str, Any], org: str) -> None:
    """`budget_forecast`'s answer: its lists of epics as tables, its other figures as lines."""
    for key, value in data.items():
        label = key.replace("_", " ")
        if isinstance(value, list) and value and isinstance(value[0], dict):
            print_table([_forecast_row(e, org) for e in value], FORECAST_COLUMNS, f"{label} ({org})")
        elif isinstance(value, dict):
            console.print(data_text(f"  {label}: " + ", ".join(f"{k} {v}" for k, v in value.items())))
        elif value not in (None, [], ""):
            console.print(data_text(f"  {label}: {value}"))
