"""`orchestrator demo`: the sandbox's demo organisation, snapshotted, summarised."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from common.config import Settings
from common.text import data_text
from orchestrator.cli_common import Col, in_org, print_table
from orchestrator.sandbox_link import STATE_SUFFIX
from tasks import store

DEMO_ORG = "dappcore"
FORECAST_ROWS = 8  # epics in the demo's forecast table
# The demo org's two label agents (their history: sandbox.seed.agent_history.DEMO_AGENTS).
DEMO_AGENTS = (
    {"name": "jules", "kind": "label", "label": "jules"},
    {"name": "codex", "kind": "label", "label": "codex"},
)
SANDBOX_PORT = 8765  # where the configuration the demo leaves expects `orchestrator sandbox`

# `repo_progress`'s columns as the demo's table heads them.
REPO_COLUMNS = {
    "repo": "repo", "count_open": "open", "count_closed": "closed", "count_audits": "audits",
    "count_epics": "epics", "count_prs": "PRs", "count_merged": "merged", "count_stuck": "stuck",
}  # fmt: skip
# `org_progress`'s columns as the demo's before/after table names them.
ORG_FIGURES = {"count_audits": "open audits", "count_open_issues": "open issues", "count_open_epics": "open epics",
               "count_children_with_agent": "children with the agent", "count_stuck_prs": "stuck PRs",
               "count_ready": "ready queue"}  # fmt: skip


def demo_config(api_url: str, db: Path) -> dict[str, Any]:
    """The demo's configuration: every repo of the demo org, a two-person team, two label agents."""
    return {
        "github": {"api_url": api_url, "org": DEMO_ORG, "repos": ["*"], "seconds_between_writes": 0},
        "database": {"path": str(db)},
        "agents": [dict(agent) for agent in DEMO_AGENTS],
        "team": {"members": [{"login": "Snider", "quota": 300}, {"login": "bodane", "quota": 300, "repos": []}]},
        "dispatch": {"plans_dir": str(db.parent / "plans")},
    }


def demo_settings(api_url: str, db: Path) -> Settings:
    return Settings.model_validate(demo_config(api_url, db))


def demo_files(db: Path) -> tuple[Path, Path]:
    """The configuration and the sandbox state the demo leaves next to its database."""
    return db.with_suffix(".toml"), db.with_name(db.stem + STATE_SUFFIX)


def _toml_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return json.dumps(value)  # TOML's basic strings, integers and booleans are JSON's


def config_text(db: Path, port: int = SANDBOX_PORT) -> str:
    """`orchestrator-demo.toml`: the demo's configuration, GitHub at the sandbox's fixed address."""
    config = demo_config(f"http://127.0.0.1:{port}", db)
    # Unset, so the CLI asks the sandbox at api_url (loopback only) and never sends GITHUB_TOKEN to it.
    config["github"]["token_env"] = "ORCHESTRATOR_SANDBOX_TOKEN"
    _, state = demo_files(db)
    lines = [
        "# Written by `orchestrator demo`: its organisation in the GitHub sandbox, its team and database.",
        "# budget, plan, forecast, report and sql read the database only. snapshot and execute --apply",
        f"# need the sandbox as the demo left it:  orchestrator sandbox --state {state} --port {port}",
    ]
    for section, table in config.items():
        if isinstance(table, list):  # an array of tables: [[agents]]
            for row in table:
                lines += ["", f"[[{section}]]", *(f"{k} = {_toml_value(v)}" for k, v in row.items())]
            continue
        scalars = {k: v for k, v in table.items() if not (isinstance(v, list) and v and isinstance(v[0], dict))}
        lines += ["", f"[{section}]", *(f"{k} = {_toml_value(v)}" for k, v in scalars.items())]
        for key in table.keys() - scalars.keys():
            for row in table[key]:
                lines += ["", f"[[{section}.{key}]]", *(f"{k} = {_toml_value(v)}" for k, v in row.items())]
    return "\n".join(lines) + "\n"


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
    rows = [{**row, "repo": in_org(row["repo"], DEMO_ORG)} for row in frame.to_dict("records")]
    totals = frame.drop(columns="repo").sum()
    rows.append({"repo": Text("total", "bold"), **{k: Text(str(int(v)), "bold") for k, v in totals.items()}})
    columns = [Col("repo", wide=True), *(Col(name, justify="right") for name in frame.columns if name != "repo")]
    print_table(rows, columns, f"{DEMO_ORG} after the loop", out=console)


def print_routing(db: Path, console: Console) -> None:
    """Routing at work: each agent's measured success by language, and whom the plans dispatched to."""
    with store.reader(db) as con:
        rates = con.execute(
            "SELECT agent, language, count_merged, count_finished FROM outcome_rates ORDER BY language, agent"
        ).fetchall()
        sent = con.execute(
            "SELECT payload->>'agent' AS agent, count(*) FROM plan_actions WHERE action = 'dispatch' GROUP BY 1 "
            "ORDER BY 1"
        ).fetchall()
    agents = sorted({agent for agent, *_ in rates})
    table: dict[str, dict[str, Any]] = {}
    for agent, language, merged, finished in rates:
        cell = f"{merged / finished:.0%} ({merged}/{finished})" if finished else "-"
        table.setdefault(language, {"language": language, **dict.fromkeys(agents, "-")})[agent] = cell
    columns = [Col("language", wide=True), *(Col(agent, justify="right") for agent in agents)]
    print_table(list(table.values()), columns, "measured success: merged / finished attempts", out=console)
    console.print(data_text("dispatched by the plans: " + ", ".join(f"{a or 'no agent'} {n}" for a, n in sent)))


def run_demo(db: Path, console: Console) -> None:
    """sandbox -> snapshot -> plan -> execute --apply -> snapshot -> forecast -> report, with before and after;
    leaves the database, its configuration and the sandbox's state for the commands to try next."""
    from sandbox.persist import save_state

    config, state_file = demo_files(db)
    for stale in (db, Path(f"{db}.wal")):
        stale.unlink(missing_ok=True)  # the sandbox is seeded afresh, so is the demo database
    began = time.monotonic()
    with _start_sandbox() as server:
        console.print(f"GitHub sandbox with the demo organisation [bold]{DEMO_ORG}[/] at {server.url}")
        settings = demo_settings(server.url, db)
        before, done, after = _loop(settings, server, console)
        save_state(server.state, state_file)
    config.write_text(config_text(db), encoding="utf-8")
    forecast = _forecast(settings, console)
    report = _report(settings, console)
    _print_outcome(settings, before, after, done, console)
    print_repo_table(db, console)
    print_routing(db, console)
    print_forecast(forecast, console)
    if report:
        console.print(data_text(f"report: {report}"))
    console.print(f"done in {time.monotonic() - began:.0f} s.")
    print_next_steps(config, state_file, console)


def _start_sandbox() -> Any:
    """The sandbox at the address the configuration names (its data's URLs then match when it is
    brought back there), or on any free port when that one is taken."""
    from sandbox.server import SandboxServer

    try:
        return SandboxServer(port=SANDBOX_PORT, seed=7, agents=True).start()
    except OSError:
        return SandboxServer(port=0, seed=7, agents=True).start()


def _loop(settings: Settings, server: Any, console: Console) -> tuple[dict, dict, dict]:
    """Snapshot, then two rounds of plan, execute --apply and snapshot: the org before, what was done, after."""
    from flows.execute import execute
    from flows.plan import plan_flow
    from flows.snapshot import snapshot

    db = Path(settings.database.path)
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
    return before, done, org_summary(db)


def _print_outcome(settings: Settings, before: dict, after: dict, done: dict, console: Console) -> None:
    """The org's figures before and after, what each kind of action did, the day's budget."""
    from tasks.budget import budget_today

    by_action = {name: counts.get("done", 0) for name, counts in done.items()}
    budget = budget_today(settings, datetime.now(UTC).replace(tzinfo=None))
    rows = [{"": key, "before": before[key], "after": after[key]} for key in before]
    columns = [Col(""), Col("before", justify="right"), Col("after", justify="right")]
    print_table(rows, columns, "what the loop did", out=console)
    console.print(
        f"audits closed {by_action.get('close_audit', 0)}, issues created {by_action.get('create_issue', 0)}"
        f" (+{by_action.get('create_framework_issue', 0)} framework), epics created {by_action.get('create_epic', 0)},"
        f" children linked {by_action.get('link_child', 0)}, branches {by_action.get('create_branch', 0)},"
        f" ticks {by_action.get('tick_checklist', 0)}, dispatched {by_action.get('dispatch', 0)},"
        f" PRs nudged {by_action.get('nudge_pr', 0)}, escalated {by_action.get('escalate_pr', 0)}"
    )
    console.print(f"budget: {budget['used']} of {budget['pool']} tasks used today, {budget['remaining']} left")


def _forecast(settings: Settings, console: Console) -> dict[str, Any]:
    """The canonical forecast (stored in `epic_forecast` / `org_forecast`, so the report shows it)."""
    from tasks.forecast_store import run_forecast

    result = run_forecast(settings)
    console.print(f"{len(result['epic_forecast'])} open epics forecast, as of {result['org']['as_of']}")
    return result


def _when(value: Any) -> str:
    return "beyond horizon" if value is None or value != value else str(value)


def print_forecast(result: dict[str, Any], console: Console, shown: int = FORECAST_ROWS) -> None:
    """Each open epic's P50 and P85 (the latest first, at most `shown`), then the org's "all done by"."""
    frame = result["epic_forecast"]
    org = result["org"]
    ordered = frame.sort_values(["p85", "repo", "epic"], ascending=[False, True, True], na_position="first")
    rows = [
        {"epic": in_org(row.repo, DEMO_ORG, row.epic), "children left": row.remaining_children,
         "P50": _when(row.p50), "P85": _when(row.p85)}
        for row in ordered.head(shown).itertuples(index=False)
    ]  # fmt: skip
    columns = [Col("epic", wide=True), Col("children left", justify="right"), Col("P50"), Col("P85")]
    print_table(rows, columns, f"when the open epics of {DEMO_ORG} are done", out=console)
    if len(frame) > shown:
        console.print(data_text(f"the {shown} latest of {len(frame)}; all: orchestrator forecast"))
    console.print(
        f"all {org['open_epics']} open epics done by: P50 {_when(org['p50'])}, P85 {_when(org['p85'])} "
        f"at {org['rate']:g} tasks a day",
        highlight=False,
    )


def print_next_steps(config: Path, state_file: Path, console: Console) -> None:
    """The commands to try on what the demo left: its database, configuration and sandbox state."""
    use = f"orchestrator --config {config}"
    lines = [
        f"Next, on the database and configuration the demo left ({config}):",
        f"  {use} budget --team",
        f"  {use} plan",
        f"  {use} forecast",
        f"  {use} report",
        f'  {use} sql "SELECT * FROM phase_readiness"',
        "The sandbox stopped with the demo. For snapshot and execute --apply, bring the org",
        "back as the demo left it, in another terminal:",
        f"  orchestrator sandbox --state {state_file}",
    ]
    for line in lines:
        console.print(data_text(line), soft_wrap=True)  # paths are the user's: data, not markup


def _report(settings: Settings, console: Console) -> str | None:
    """The HTML report, when the report flow is installed."""
    try:
        from flows.report import report_flow
    except ImportError:
        return None
    result = report_flow(settings=settings)
    return str(result.get("path") if isinstance(result, dict) else result)
