"""`orchestrator demo`: the sandbox's demo organisation, snapshotted, summarised."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from common.config import Settings
from common.text import data_text
from tasks import store

DEMO_ORG = "dappcore"

# `repo_progress`'s columns as the demo's table heads them.
REPO_COLUMNS = {
    "repo": "repo", "count_open": "open", "count_closed": "closed", "count_audits": "audits",
    "count_epics": "epics", "count_prs": "PRs", "count_merged": "merged", "count_stuck": "stuck",
}  # fmt: skip
# `org_progress`'s columns as the demo's before/after table names them.
ORG_FIGURES = {"count_audits": "open audits", "count_open_issues": "open issues", "count_open_epics": "open epics",
               "count_children_with_agent": "children with the agent", "count_stuck_prs": "stuck PRs",
               "count_ready": "ready queue"}  # fmt: skip


def demo_settings(api_url: str, db: Path) -> Settings:
    """Configuration for the sandbox: every repo of the demo org, a two-person team."""
    return Settings.model_validate(
        {
            "github": {"api_url": api_url, "org": DEMO_ORG, "repos": ["*"], "seconds_between_writes": 0},
            "database": {"path": str(db)},
            "team": {"members": [{"login": "Snider", "quota": 300}, {"login": "bodane", "quota": 300, "repos": []}]},
            "dispatch": {"plans_dir": str(db.parent / "plans")},
        }
    )


def org_summary(db: Path) -> dict[str, int]:
    """The figures the demo shows before and after: what the loop changed."""
    with store.reader(db) as con:
        query = f"SELECT {', '.join(ORG_FIGURES)} FROM org_progress WHERE lower(org) = lower(?)"
        row = con.execute(query, [DEMO_ORG]).fetchone()
    return dict(zip(ORG_FIGURES.values(), (int(v) for v in row), strict=True))


def print_repo_table(db: Path, console: Console) -> None:
    with store.reader(db) as con:
        frame = con.execute(f"SELECT {', '.join(REPO_COLUMNS)} FROM repo_progress").fetchdf()
    frame = frame.rename(columns=REPO_COLUMNS).sort_values(["open", "repo"], ascending=[False, True], kind="stable")
    table = Table(title=f"{DEMO_ORG} after the loop")
    for column in frame.columns:
        table.add_column(column.replace("_", " "), justify="left" if column == "repo" else "right", no_wrap=True)
    for row in frame.itertuples(index=False):
        table.add_row(*(data_text(value) for value in row))  # repository names are GitHub's text
    totals = frame.drop(columns="repo").sum()
    table.add_row("[bold]total[/]", *(f"[bold]{int(v)}[/]" for v in totals))
    console.print(table)


def run_demo(db: Path, console: Console) -> None:
    """sandbox -> snapshot -> plan -> execute --apply -> snapshot -> report, with before and after."""
    from flows.execute import execute
    from flows.plan import plan_flow
    from flows.snapshot import snapshot
    from sandbox.server import SandboxServer
    from tasks.budget import budget_today

    for stale in (db, Path(f"{db}.wal")):
        stale.unlink(missing_ok=True)  # the sandbox is seeded afresh, so is the demo database
    began = time.monotonic()
    with SandboxServer(port=0, seed=7) as server:
        console.print(f"GitHub sandbox with the demo organisation [bold]{DEMO_ORG}[/] at {server.url}")
        settings = demo_settings(server.url, db)
        first = snapshot(settings)
        console.print(f"1. snapshot: {len(first['repos'])} repos, {first['requests']} requests")
        before = org_summary(db)
        done: dict[str, dict[str, int]] = {}
        # Two rounds, as the morning and midday cadence would: Stage 2 (epics) and closing the
        # audits need the issues Stage 1 created, which the next snapshot sees.
        for round_ in (1, 2):
            plan = plan_flow(settings=settings)
            result = execute(settings, plan_id=plan["plan_id"], apply=True)
            for name, counts in result["by_action"].items():
                done[name] = {k: done.get(name, {}).get(k, 0) + v for k, v in counts.items()}
            again = snapshot(settings)
            console.print(
                f"{round_ + 1}. plan {plan['plan_id']}: {plan['count_actions']} actions, {plan['cost']} tasks; "
                f"execute --apply: {result['by_status']}; snapshot: {again['versions_added']} new versions"
            )
        writes = sum(1 for entry in server.state.request_log if entry["method"] != "GET")
        console.print(f"   {writes} writes to GitHub in all")
        after = org_summary(db)
        report = _report(settings, console)
    by_action = {name: counts.get("done", 0) for name, counts in done.items()}
    budget = budget_today(settings, datetime.now(UTC).replace(tzinfo=None))
    table = Table(title="what the loop did")
    table.add_column("")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    for key in before:
        table.add_row(key, str(before[key]), str(after[key]))
    console.print(table)
    console.print(
        f"audits closed {by_action.get('close_audit', 0)}, issues created {by_action.get('create_issue', 0)}"
        f" (+{by_action.get('create_framework_issue', 0)} framework), epics created {by_action.get('create_epic', 0)},"
        f" children linked {by_action.get('link_child', 0)}, branches {by_action.get('create_branch', 0)},"
        f" ticks {by_action.get('tick_checklist', 0)}, dispatched {by_action.get('dispatch', 0)},"
        f" PRs nudged {by_action.get('nudge_pr', 0)}, escalated {by_action.get('escalate_pr', 0)}"
    )
    console.print(f"budget: {budget['used']} of {budget['pool']} tasks used today, {budget['remaining']} left")
    print_repo_table(db, console)
    if report:
        console.print(data_text(f"report: {report}"))
    console.print(
        f"done in {time.monotonic() - began:.0f} s. Query it: "
        f'orchestrator --db {db} sql "SELECT * FROM phase_readiness"'
    )


def _report(settings: Settings, console: Console) -> str | None:
    """The HTML report, when the report flow is installed."""
    try:
        from flows.report import report_flow
    except ImportError:
        return None
    result = report_flow(settings=settings)
    return str(result.get("path") if isinstance(result, dict) else result)
