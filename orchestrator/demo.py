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
    SELECT repo, count(*) FILTER (state = 'open') AS open_issues, count(*) FILTER (state = 'closed') AS closed_issues
    FROM issues GROUP BY repo
), p AS (
    SELECT repo, count(*) FILTER (state = 'open') AS open_prs, count(*) FILTER (merged) AS merged_prs
    FROM pull_requests GROUP BY repo
), a AS (SELECT repo, count(*) AS audits FROM audit_issues GROUP BY repo
), e AS (SELECT repo, count(*) AS epics FROM epics WHERE is_open GROUP BY repo
), s AS (SELECT repo, count(*) AS stuck_prs FROM stuck_prs WHERE is_stuck GROUP BY repo)
SELECT split_part(r.repo, '/', 2) AS repo,
       coalesce(open_issues, 0) AS open_issues, coalesce(closed_issues, 0) AS closed_issues,
       coalesce(audits, 0) AS audits, coalesce(epics, 0) AS epics, coalesce(open_prs, 0) AS open_prs,
       coalesce(merged_prs, 0) AS merged_prs, coalesce(stuck_prs, 0) AS stuck_prs
FROM repositories r LEFT JOIN i USING (repo) LEFT JOIN p USING (repo) LEFT JOIN a USING (repo)
     LEFT JOIN e USING (repo) LEFT JOIN s USING (repo)
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
