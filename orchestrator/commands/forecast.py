"""`orchestrator forecast`: when will each epic be done (P50 / P85 / P95).

Registered on the shared Typer app when imported (orchestrator/cli.py imports this module).
The forecast itself is `tasks.forecast_store` (`run_forecast`, `run_backtest`); this module parses
the options and renders the answer. `budget_forecast` (for `orchestrator budget --forecast`) is
`tasks.forecast_store.budget_forecast`.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from common.config import Settings
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

# At 80 columns an epic is one or two lines: which epic (`repo#N`, the org is in the title), its
# title, children left, P50, P85 and expected tasks; P(done by) and then P95 join from about 95
# and 110 columns.
FORECAST_COLUMNS = [
    Col("epic"), Col("title", wide=True, drop=1), Col("left", justify="right"), Col("P50"), Col("P85"),
    Col("P95", drop=4), Col("P(done by)", justify="right", drop=3), Col("tasks", justify="right", drop=2),
]  # fmt: skip
# The backtest's calibration first (what it is for), then its errors.
BACKTEST_COLUMNS = [
    Col("cutoff"), Col("epics", justify="right"), Col("done by P50", justify="right"),
    Col("done by P85", justify="right"), Col("done by P95", justify="right"),
    Col("P50 error", justify="right", drop=1), Col("P50 bias", justify="right", drop=2),
]  # fmt: skip


def _parse_epic(text: str, org: str) -> tuple[str, int]:
    """`owner/repo#N`, `repo#N` (the configured org) -> (owner/repo, N)."""
    repo, sep, number = text.strip().rpartition("#")
    if not sep or not repo or not number.isdigit():
        raise typer.BadParameter(f"--epic {text!r}: use owner/repo#N (for example {org}/core#12)")
    return (repo if "/" in repo else f"{org}/{repo}"), int(number)


def _settings() -> Settings:
    """The configuration; with only --db and no configuration file, the defaults (strategy's rate, no pool cap)."""
    from common.config import ConfigError
    from orchestrator.cli_common import err, state

    try:
        return settings()
    except ConfigError:
        if not state.db or state.config or Path("orchestrator.toml").exists():
            raise
        err.print(
            "note: no configuration file; using the default agent label, strategy and no team pool cap", highlight=False
        )
        return Settings.model_validate({"github": {"org": "unknown"}, "database": {"path": state.db}})


def _date(value: Any) -> str:
    return "beyond horizon" if value is None or value != value else str(value)


def _epic_rows(fc, org_name: str) -> list[dict[str, Any]]:
    rows = []
    for r in fc.itertuples(index=False):
        epic = data_text(in_org(r.repo, org_name, r.epic))  # repo and title are GitHub's text: data
        if r.thin_history:
            epic.append(" thin", style="yellow")
        rows.append({
            "epic": epic, "title": r.title, "left": r.remaining_children,
            "P50": _date(r.p50), "P85": _date(r.p85), "P95": _date(r.p95),
            "P(done by)": None if r.prob_done_by is None else f"{r.prob_done_by:.0%}",
            "tasks": f"{r.expected_tasks:.1f}",
        })  # fmt: skip
    return rows


def _print_table(fc, org: dict[str, Any], notes: list[str], title: str, org_name: str) -> None:
    by = org["by_date"]
    print_table(_epic_rows(fc, org_name), FORECAST_COLUMNS, f"{title} ({org_name}; P(done by) is by {by})")
    console.print(
        f"all {org['open_epics']} open epics done by: P50 {_date(org['p50'])}, P85 {_date(org['p85'])}, "
        f"P95 {_date(org['p95'])} (P(done by {by}) {org['prob_done_by']:.0%}); "
        f"{org['expected_tasks']:.0f} tasks expected at {org['rate']:g} tasks/day, as of {org['as_of']}",
        highlight=False,
    )
    beyond = int(fc["beyond_horizon"].sum()) if len(fc) else 0
    if beyond:
        console.print(
            f"[bold yellow]{beyond} epic(s) never complete within {org['horizon_days']} days at "
            f"{org['rate']:g} tasks/day (beyond horizon).[/]"
        )
    if org["thin_history"] or notes:
        head = "thin history, intervals widened: " if org["thin_history"] else "note: "
        console.print(data_text(f"{head}{'; '.join(notes) if notes else 'few finished dispatches'}", "yellow"))


def _backtest_rows(table) -> list[dict[str, Any]]:
    def pct(v: Any) -> str:
        return "n/a" if v is None or v != v else f"{v:.0%}"

    def num(v: Any) -> str:
        return "n/a" if v is None or v != v else f"{v:.1f}"

    return [
        {"cutoff": r.cutoff, "epics": r.n_epics, "done by P50": pct(r.cover_p50), "done by P85": pct(r.cover_p85),
         "done by P95": pct(r.cover_p95), "P50 error": num(r.p50_mae_days), "P50 bias": num(r.p50_bias_days)}
        for r in (table.itertuples(index=False) if len(table) else [])
    ]  # fmt: skip


def _backtest(cfg: Settings, rate: float | None, as_json: bool, as_csv: bool) -> None:
    from analytics.forecast_report import rows_for_json
    from tasks.forecast_store import run_backtest

    bt = run_backtest(cfg, rate=rate)
    table = bt["calibration"]
    if as_json:
        print_json(
            {
                "as_of": bt["as_of"].isoformat(),
                "capacity": bt["capacity"],
                "cutoffs": [c.isoformat() for c in bt["cutoffs"]],
                "calibration": rows_for_json(table) if len(table) else [],
                "notes": bt["notes"],
            }
        )
        return
    if as_csv:
        print_csv(table)
        return
    title = f"Backtest: forecasts made at past cutoffs vs what happened ({bt['capacity']})"
    print_table(_backtest_rows(table), BACKTEST_COLUMNS, title)
    console.print(
        "target: about 50% done by P50, 85% by P85, 95% by P95; P50 error (absolute) and bias in days; "
        "n/a = outcome not known yet",
        highlight=False,
    )
    for note in bt["notes"]:
        console.print(data_text(note, "yellow"))


@app.command()
@friendly
def forecast(
    epic: Annotated[str | None, typer.Option("--epic", help="only this epic: owner/repo#N")] = None,
    rate: Annotated[float | None, typer.Option("--rate", help="what-if dispatch rate, tasks per day")] = None,
    by: Annotated[str | None, typer.Option("--by", help="probability of being done by this date (YYYY-MM-DD)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the epic_forecast rows as JSON")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="print the epic_forecast rows as CSV")] = False,
    backtest: Annotated[bool, typer.Option("--backtest", help="check past forecasts against what happened")] = False,
    charts: Annotated[str | None, typer.Option("--charts", help="write burn-up PNG charts here")] = None,
    trials: Annotated[int, typer.Option("--trials", min=100, help="Monte Carlo trials")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="random seed (same seed, same answer)")] = 0,
) -> None:
    """Completion dates per open epic (P50/P85/P95) and for the whole organisation, by Monte Carlo.

    Without --rate/--by it also refreshes the `epic_forecast` and `org_forecast` tables.
    Example: orchestrator forecast --epic dappcore/core#12 --rate 30 --by 2026-06-30
    """
    from analytics.forecast_report import rows_for_json
    from tasks.forecast_store import NotAnOpenEpic, run_forecast

    cfg = _settings()
    if backtest:
        _backtest(cfg, rate, as_json, as_csv)
        return
    by_date = None
    if by:
        try:
            by_date = date.fromisoformat(by)
        except ValueError:
            fail(f"--by {by!r}: not a date (use YYYY-MM-DD)", 2)
    wanted = _parse_epic(epic, cfg.github.org) if epic else None
    try:
        result = run_forecast(cfg, rate=rate, by_date=by_date, trials=trials, seed=seed, charts_dir=charts, epic=wanted)
    except NotAnOpenEpic:
        fail(f"--epic {epic}: not an open epic in the latest snapshot", 1)
    fc, paths = result["shown"], result["charts"]
    if as_json:
        print_json(rows_for_json(fc))
    elif as_csv:
        print_csv(rows_for_json(fc))
    else:
        title = f"Epic forecast as of {result['org']['as_of']}"
        _print_table(fc, result["org"], result["notes"], title, cfg.github.org)
        if paths:
            console.print(data_text(f"charts: {len(paths)} PNG files in {Path(charts)}"))
    if (as_json or as_csv) and paths:
        sys.stderr.write(f"charts: {len(paths)} PNG files in {charts}\n")
