"""Planning time for a 200-repo, 50,000-issue organisation (views + ledger + planner).

Run: python -m benchmarks.bench_plan
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime

import duckdb

from analytics.derived import derive_tables
from analytics.plan_rules import plan_rules
from analytics.planning import build_plan
from benchmarks import bench_views
from common.config import Settings
from tasks import store
from tasks.plan_inputs import configured_repos, read_plan_inputs

NOW = datetime(2026, 2, 4, 13, 0)


def run(n_issues: int = 50_000, repos: int = 200, rounds: int = 3) -> str:
    bench_views.REPOS = repos
    con = duckdb.connect()
    store.ensure_schema(con)
    bench_views.generate(con, n_issues=n_issues, n_prs=n_issues // 10)
    store.replace_tables(con, derive_tables(store.current_open_issues(con)))  # findings, as a snapshot leaves them
    # every epic has its branch, so its current phase is dispatchable
    con.execute(
        "INSERT OR IGNORE INTO branches (repo, name, sha) SELECT repo, 'epic/' || epic || '-x', 'abc' FROM epics"
    )
    settings = Settings.model_validate(
        {
            "github": {"org": "org", "repos": ["*"], "api_url": "http://127.0.0.1:9"},
            "team": {
                "members": [{"login": "a", "quota": 300}, {"login": "b", "quota": 300, "repos": ["repo-1", "repo-2"]}]
            },
            "dispatch": {"strategy": "aggressive"},
        }
    )
    times, plan = [], None
    for _ in range(rounds):
        began = time.perf_counter()
        inputs = read_plan_inputs(con, settings, NOW)
        plan = build_plan(inputs, plan_rules(settings), configured_repos(con, settings))
        times.append(time.perf_counter() - began)
    line = (
        f"plan: {repos} repos, {n_issues} issues: {statistics.median(times):.2f} s "
        f"(median of {rounds}; {len(plan.actions)} actions, {plan.summary['cost']} tasks)"
    )
    print(line)
    return line


if __name__ == "__main__":
    run()
