"""Requests a snapshot of the demo organisation spends, against the lower bound.

Lower bound per repo: ceil(items/100) issue-list pages + ceil(comments/100) comment pages
+ ceil(events/100) event pages, plus the detail requests of every open PR (pull, check
runs, commit status, reviews). Run: python -m benchmarks.bench_snapshot
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

PR_DETAIL_REQUESTS = 4


def lower_bound(state) -> int:
    """The fewest requests any client needs for the demo org's data."""
    total = 0
    for repo in state.repos.values():
        if repo.owner != "dappcore":
            continue
        items = [i for (rid, _), i in state.issues.items() if rid == repo.id and not i.deleted and not i.moved_to]
        numbers = {i.number for i in items}
        comments = [c for c in state.comments if c.repo_id == repo.id and c.issue_number in numbers]
        events = [e for e in state.events if e.repo_id == repo.id]
        open_prs = [i for i in items if i.is_pull and i.state == "open"]
        total += math.ceil(len(items) / 100) + math.ceil(len(comments) / 100) + math.ceil(len(events) / 100)
        total += PR_DETAIL_REQUESTS * len(open_prs)
    return total


def main() -> list[str]:
    from prefect.testing.utilities import prefect_test_harness

    from flows.snapshot import snapshot
    from orchestrator.demo import demo_settings
    from sandbox.server import SandboxServer

    lines = []
    with prefect_test_harness(server_startup_timeout=120), SandboxServer(port=0, seed=7) as server:
        with tempfile.TemporaryDirectory() as tmp:
            settings = demo_settings(server.url, Path(tmp) / "bench.duckdb")
            bound = lower_bound(server.state)
            full = snapshot(settings)
            again = snapshot(settings)
            charged = again["requests"] - again["requests_not_modified"]
            lines.append(
                f"snapshot full: {full['requests']} requests for a lower bound of {bound} "
                f"({full['requests'] / bound:.2f}x), {full['versions_added']} versions"
            )
            lines.append(
                f"snapshot no-change: {again['requests']} requests, {again['requests_not_modified']} answered 304, "
                f"{charged} charged against the rate limit ({charged / full['requests']:.1%} of a full one), "
                f"{again['versions_added']} versions"
            )
    for line in lines:
        print(line)
    return lines


if __name__ == "__main__":
    main()
