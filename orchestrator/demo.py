"""`orchestrator demo`: the sandbox's demo organisation, snapshotted, summarised."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from orchestrator.config import Settings
from tasks import store

DEMO_ORG = "dappcore"

SUMMARY_SQL = """
WITH i AS (
    SELECT repo,
           count(*) FILTER (state = 'open') AS open_issues,
           count(*) FILTER (state = 'closed') AS closed_issues,
           count(*) FILTER (state = 'open' AND regexp_matches(title, '(?i)\\[audit\\]|audit:')) AS audits,
           count(*) FILTER (state = 'open' AND regexp_matches(body, '(?m)^\\s*[-*]\\s+\\[[ xX]\\]\\s+(#|https://|[\\w.-]+/[\\w.-]+#)\\d+')) AS epics
    FROM issues GROUP BY repo
), p AS (
    SELECT repo,
           count(*) FILTER (state = 'open') AS open_prs,
           count(*) FILTER (merged) AS merged_prs,
           count(*) FILTER (state = 'open' AND (mergeable_state = 'dirty' OR ci_state = 'failure'
                            OR review_decision = 'CHANGES_REQUESTED')) AS stuck_looking_prs
    FROM pull_requests GROUP BY repo
)
SELECT r.repo, coalesce(open_issues, 0) AS open_issues, coalesce(closed_issues, 0) AS closed_issues,
       coalesce(audits, 0) AS audits, coalesce(epics, 0) AS epics, coalesce(open_prs, 0) AS open_prs,
       coalesce(merged_prs, 0) AS merged_prs, coalesce(stuck_looking_prs, 0) AS stuck_looking_prs
FROM repositories r LEFT JOIN i USING (repo) LEFT JOIN p USING (repo)
ORDER BY open_issues DESC, r.repo
"""


def demo_settings(api_url: str, db: Path) -> Settings:
    """Configuration for the sandbox: every repo of the demo org, a two-person team."""
    return Settings.model_validate(
        {
            "github": {"api_url": api_url, "org": DEMO_ORG, "repos": ["*"], "seconds_between_writes": 0},
            "database": {"path": str(db)},
            "team": {"members": [{"login": "Snider", "quota": 300}, {"login": "bodane", "quota": 300, "repos": []}]},
        }
    )


def run_demo(db: Path, console: Console) -> None:
    from flows.snapshot import snapshot
    from orchestrator.sandbox.server import SandboxServer

    for stale in (db, Path(f"{db}.wal")):
        stale.unlink(missing_ok=True)  # the sandbox is seeded afresh, so is the demo database
    began = time.monotonic()
    with SandboxServer(port=0, seed=7) as server:
        console.print(f"GitHub sandbox with the demo organisation [bold]{DEMO_ORG}[/] at {server.url}")
        settings = demo_settings(server.url, db)
        summary = snapshot(settings)
        console.print(
            f"snapshot: {len(summary['repos'])} repos, {summary['requests']} requests, "
            f"{summary['versions_added']} versions stored"
        )
    with store.reader(db) as con:
        frame = con.execute(SUMMARY_SQL).fetchdf()
    table = Table(title=f"{DEMO_ORG}: what the snapshot holds")
    for column in frame.columns:
        table.add_column(column.replace("_", " "), justify="left" if column == "repo" else "right")
    for row in frame.itertuples(index=False):
        table.add_row(*(str(value) for value in row))
    totals = frame.drop(columns="repo").sum()
    table.add_row("[bold]total[/]", *(f"[bold]{int(v)}[/]" for v in totals))
    console.print(table)
    console.print(
        f"done in {time.monotonic() - began:.0f} s. Query it: "
        f"orchestrator --db {db} sql \"SELECT repo, number, title FROM issues WHERE state = 'open' LIMIT 10\""
    )
