"""`orchestrator simulate`: what-if of routing choices, run forward with the forecast engine."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

import typer

from common.text import data_text
from orchestrator.cli_common import Col, app, console, fail, friendly, print_json, print_table, settings

COLUMNS = [
    Col("routing"), Col("merged PRs", justify="right"), Col("tasks", justify="right"),
    Col("merged/task", justify="right"), Col("epics done", justify="right"), Col("all done P50", drop=1),
]  # fmt: skip


def _table_rows(rows: list[dict]) -> list[dict]:
    return [
        {"routing": r["routing"], "merged PRs": f"{r['merged_prs']:.1f}", "tasks": f"{r['tasks']:.1f}",
         "merged/task": "" if r["merged_per_task"] is None else f"{r['merged_per_task']:.2f}",
         "epics done": f"{r['epics_done']:.1f}/{r['open_epics']}",
         "all done P50": "" if r["all_done_p50"] is None else str(r["all_done_p50"])}
        for r in rows
    ]  # fmt: skip


@app.command()
@friendly
def simulate(
    strategy: Annotated[
        Literal["conservative", "moderate", "aggressive"] | None,
        typer.Option(help="the daily rate to simulate (default: the configured strategy)"),
    ] = None,
    routing: Annotated[
        list[str] | None,
        typer.Option(help="best, single:NAME or round-robin; repeat it (default: every choice)"),
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=730, help="days to run forward")] = 30,
    trials: Annotated[int, typer.Option(min=100, max=100_000, help="Monte Carlo trials")] = 2000,
    seed: Annotated[int, typer.Option(help="seed of the simulation")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the rows as JSON")] = False,
) -> None:
    """Compare routing choices: expected merged PRs, tasks, merged PRs per task and epics done by date.

    Each choice is run `days` days forward with the plan's rules and the success rates measured in
    `outcomes`, with the same seed. Example: orchestrator simulate --strategy moderate --days 30
    """
    from tasks.simulate import run_simulation

    try:
        result = run_simulation(settings(), strategy, routing, days, trials, seed)
    except ValueError as exc:
        fail(str(exc), 2)
    if as_json:
        print_json(result)
        return
    title = (
        f"{result['strategy']}, {result['capacity']:g} tasks/day, {days} days from {result['as_of']} "
        f"(epics done by {result['as_of'] + timedelta(days=days)})"
    )
    print_table(_table_rows(result["rows"]), COLUMNS, title=title)
    console.print(data_text(f"success rates from {result['finished_attempts']} finished attempts in outcomes"))
