"""The snapshot side by side with a straightforward PyGithub loop, on issue 12's shape (5 repos,
337 items, 40 open PRs; benchmarks/issue_shape.py) in the sandbox with 50 ms and 200 ms of latency
added to every answer. One run, back to back. Run: python -m benchmarks.bench_snapshot

Every HTTP request counts (the CLI's pre-flight check, /user, GraphQL), read from the sandbox's own
request log; "first request" is the time from starting the read to the server logging its first
request (in-process: the CLI's imports come on top, see `orchestrator --verbose snapshot`).
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

NOW = datetime(2026, 3, 2, 9, 0)  # the sandbox's clock for the seeded data
LATENCIES = (50, 200)


def _logged(server) -> list[dict]:
    return [r for r in server.state.request_log if not r["path"].startswith("/_sandbox")]


def _measure(server, read) -> dict:
    """Requests, wall time and time to the first request of `read()` (its result kept)."""
    server.state.request_log.clear()
    started_at, started = datetime.now(UTC), time.perf_counter()
    result = read()
    wall = time.perf_counter() - started
    log = _logged(server)
    first = (datetime.fromisoformat(log[0]["time"]) - started_at).total_seconds() if log else None
    return {"requests": len(log), "wall": wall, "first": first, "result": result}


def naive_loop(url: str, token: str, org: str, repos: list[str]) -> int:
    """What a script with PyGithub does: every list, then per item and per open PR, one at a time."""
    from github import Auth, Github

    gh = Github(base_url=url, auth=Auth.Token(token), per_page=100)
    seen = 0
    for name in repos:
        repo = gh.get_repo(f"{org}/{name}")
        for issue in repo.get_issues(state="all"):
            seen += len(list(issue.get_comments()))
        for pull in repo.get_pulls(state="open"):
            seen += len(list(pull.get_reviews())) + len(list(pull.get_review_comments()))
            head = list(pull.get_commits())[-1]
            seen += head.get_combined_status().total_count + head.get_check_runs().totalCount
    return seen


def project_snapshot(settings) -> dict:
    from flows.snapshot import snapshot
    from tasks.preflight import preflight

    preflight(settings)  # as `orchestrator snapshot` does
    return snapshot(settings)


def run(server, latency: int, tmp: Path) -> list[str]:
    from benchmarks.issue_shape import ORG, REPOS
    from common.config import Settings
    from orchestrator.demo import demo_config

    server.state.set_faults(latency_ms=latency)
    config = demo_config(server.url, tmp / f"bench-{latency}.duckdb")
    config["github"]["repos"] = list(REPOS)
    settings = Settings.model_validate(config)
    ours = _measure(server, lambda: project_snapshot(settings))
    again = _measure(server, lambda: project_snapshot(settings))
    naive = _measure(server, lambda: naive_loop(server.url, server.token, ORG, list(REPOS)))
    server.state.set_faults()
    full, refresh = ours["result"], again["result"]
    charged = refresh["requests"] - refresh["requests_not_modified"] - 1 + refresh["graphql_points"]
    rows = [
        ("project, full", ours["requests"], full["graphql_points"], ours["wall"], ours["first"]),
        ("project, no change", again["requests"], refresh["graphql_points"], again["wall"], again["first"]),
        ("PyGithub loop", naive["requests"], 0, naive["wall"], naive["first"]),
    ]
    header = f"  {'':20} requests  points  wall s  first request s"
    lines = [f"latency {latency} ms  ({full['read_path']} path)", header]
    lines += [f"  {name:20} {req:8}  {pts:6}  {wall:6.1f}  {first:15.2f}" for name, req, pts, wall, first in rows]
    lines.append(
        f"  full snapshot / loop wall time: {ours['wall'] / naive['wall']:.2f}x; "
        f"no-change refresh charged {charged} (REST answers other than 304 + GraphQL points)"
    )
    return lines


def main() -> list[str]:
    from prefect.testing.utilities import prefect_test_harness

    from benchmarks.issue_shape import seed_issue_shape
    from sandbox.server import SandboxServer

    lines = []
    with prefect_test_harness(server_startup_timeout=120), SandboxServer(port=0, seed=7, now=NOW) as server:
        seed_issue_shape(server.state, NOW)
        with tempfile.TemporaryDirectory() as tmp:
            for latency in LATENCIES:
                lines += run(server, latency, Path(tmp))
                print("\n".join(lines[-6:]), flush=True)
    return lines


if __name__ == "__main__":
    main()
