"""Benchmark: every analytics view over a synthetic snapshot of 100,000 issues, on one thread.

Generates the snapshot with SQL straight into a DuckDB file (20 repos; 100,000 issues of which
400 are epics with phased checklists and 300 are audits; 10,000 PRs; 60,000 comments; 30,000
events; findings, branches, ledger rows), then times `SELECT count(*) FROM <view>` per view.

    python -m benchmarks.bench_views [--issues 100000] [--db PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from analytics.views import create_views, view_definitions
from tasks.store import ensure_schema

REPOS = 20


def generate(con: duckdb.DuckDBPyConnection, n_issues: int = 100_000, n_prs: int = 10_000) -> None:
    """Fill the raw tables with a reproducible synthetic snapshot."""
    at = "TIMESTAMP '2026-02-04 06:00:00'"
    con.execute(
        f"INSERT INTO snapshot_runs (run_id, started_at, finished_at, status) "
        f"VALUES (1, {at}, {at} + INTERVAL 5 MINUTE, 'complete')"
    )
    con.execute(
        f"""
        INSERT INTO repositories (repo, name, default_branch, archived, run_id)
        SELECT 'org/repo-' || i, 'repo-' || i, 'dev', false, 1 FROM range({REPOS}) t(i)
        """
    )
    per_repo = n_issues // REPOS
    # Issue numbers 1..per_repo in each repo; PRs take numbers above that.
    # Every 250th issue is an epic listing the 8 issues after it in 3 phases; every 333rd an audit.
    con.execute(
        f"""
        INSERT INTO issue_history
            (repo, number, id, title, body, state, labels, assignees, comments, locked,
             created_at, updated_at, closed_at, html_url, content_hash, run_id, valid_from, valid_to)
        SELECT
            'org/repo-' || (i % {REPOS}) AS repo,
            (i // {REPOS}) + 1 AS number,
            i AS id,
            CASE
                WHEN ((i // {REPOS}) + 1) % 333 = 0 THEN '[Audit] Security review ' || i
                WHEN ((i // {REPOS}) + 1) % 250 = 0 THEN 'epic(audit): Audit findings ' || i
                ELSE 'Issue ' || i || ' about ' || (['parser', 'cli', 'api', 'docs'])[i % 4 + 1]
            END AS title,
            CASE
                WHEN ((i // {REPOS}) + 1) % 250 = 0 THEN
                    'Epic body.' || chr(10) || '## Phase 1: Blockers' || chr(10)
                    || '- [x] #' || ((i // {REPOS}) + 2) || chr(10)
                    || '- [ ] #' || ((i // {REPOS}) + 3) || chr(10)
                    || '- [ ] org/repo-' || (i % {REPOS}) || '#' || ((i // {REPOS}) + 4) || chr(10)
                    || '## Phase 2: Parallel' || chr(10)
                    || '- [ ] #' || ((i // {REPOS}) + 5) || chr(10)
                    || '* [ ] https://github.com/org/repo-' || (i % {REPOS}) || '/issues/' || ((i // {REPOS}) + 6)
                    || chr(10) || '- [ ] #' || ((i // {REPOS}) + 7) || chr(10)
                    || '## Phase 3: Cleanup' || chr(10)
                    || '- [ ] #' || ((i // {REPOS}) + 8) || chr(10)
                    || '- [ ] #' || ((i // {REPOS}) + 9) || chr(10)
                WHEN i % 97 = 0 THEN
                    'Implements a finding.' || chr(10) || '<!-- orchestrator:finding fp' || (i % 5000) || ' -->'
                ELSE repeat('Some words about the problem and how to reproduce it. ', 1 + i % 6)
                    || chr(10) || '- item one' || chr(10) || '- item two (see #' || (1 + i % 50) || ')'
            END AS body,
            CASE WHEN i % 3 = 0 THEN 'closed' ELSE 'open' END AS state,
            CASE
                WHEN i % 10 = 0 THEN ['audit', 'severity:high', 'type:security']
                WHEN i % 10 = 1 THEN ['audit', 'severity:medium', 'type:quality']
                WHEN i % 10 = 2 THEN ['type:feature', 'area:api']
                WHEN i % 10 = 3 THEN ['jules', 'severity:low', 'type:docs']
                WHEN i % 10 = 4 THEN ['bug']
                ELSE []::VARCHAR[]
            END AS labels,
            []::VARCHAR[] AS assignees,
            i % 5 AS comments,
            false AS locked,
            {at} - INTERVAL (i % 400) DAY AS created_at,
            {at} - INTERVAL (i % 40) DAY AS updated_at,
            CASE WHEN i % 3 = 0 THEN {at} - INTERVAL (i % 30) DAY END AS closed_at,
            'https://github.com/org/repo-' || (i % {REPOS}) || '/issues/' || ((i // {REPOS}) + 1) AS html_url,
            md5(i::VARCHAR) AS content_hash, 1 AS run_id, {at} AS valid_from, NULL AS valid_to
        FROM range({n_issues}) t(i)
        """
    )
    con.execute(
        f"""
        INSERT INTO pull_request_history
            (repo, number, id, title, body, state, labels, assignees, created_at, updated_at, closed_at,
             merged, merged_at, draft, head_ref, base_ref, mergeable, mergeable_state, ci_state,
             review_decision, unresolved_threads, content_hash, run_id, valid_from, valid_to)
        SELECT
            'org/repo-' || (i % {REPOS}) AS repo,
            {per_repo} + (i // {REPOS}) + 1 AS number,
            1000000 + i AS id,
            'Fix issue ' || (1 + (i * 7) % {per_repo}) AS title,
            CASE WHEN i % 2 = 0 THEN 'Fixes #' || (1 + (i * 7) % {per_repo}) ELSE 'Some change' END AS body,
            CASE WHEN i % 4 = 0 THEN 'open' ELSE 'closed' END AS state,
            []::VARCHAR[], []::VARCHAR[],
            {at} - INTERVAL (i % 60) DAY, {at} - INTERVAL (i % 9) DAY,
            CASE WHEN i % 4 <> 0 THEN {at} - INTERVAL (i % 9) DAY END,
            i % 4 IN (1, 2) AS merged,
            CASE WHEN i % 4 IN (1, 2) THEN {at} - INTERVAL (i % 9) DAY END,
            i % 13 = 0 AS draft,
            'jules/issue-' || (1 + (i * 7) % {per_repo}) || '-fix' AS head_ref,
            'dev' AS base_ref,
            CASE WHEN i % 11 = 0 THEN false ELSE true END,
            (['clean', 'dirty', 'behind', 'blocked', 'unstable'])[i % 5 + 1],
            (['success', 'failure', 'pending', 'none'])[i % 4 + 1],
            CASE WHEN i % 6 = 0 THEN 'CHANGES_REQUESTED' WHEN i % 6 = 1 THEN 'APPROVED' END,
            NULL,
            md5(i::VARCHAR), 1, {at}, NULL
        FROM range({n_prs}) t(i)
        """
    )
    con.execute(
        f"""
        INSERT INTO comments (repo, number, id, author, body, created_at, updated_at, html_url, run_id)
        SELECT
            'org/repo-' || (i % {REPOS}),
            CASE WHEN i % 5 = 0 THEN {per_repo} + ((i // {REPOS}) % ({n_prs} // {REPOS})) + 1
                 ELSE ((i // {REPOS}) % {per_repo}) + 1 END,
            i,
            'someone',
            CASE
                WHEN i % 5 = 0 AND i % 3 = 0 THEN 'fix the merge conflict <!-- orchestrator:nudge -->'
                WHEN i % 7 = 0 THEN 'Parent: #' || (250 * (1 + (i // {REPOS}) % 8))
                ELSE 'A comment with some discussion of the change, number ' || i
            END,
            {at} - INTERVAL (i % 30) DAY, {at} - INTERVAL (i % 30) DAY,
            'https://github.com/c/' || i, 1
        FROM range(60000) t(i)
        """
    )
    con.execute(
        f"""
        INSERT INTO issue_events (repo, number, id, event, actor, label, created_at, is_pull_request, run_id)
        SELECT
            'org/repo-' || (i % {REPOS}), ((i // {REPOS}) % {per_repo}) + 1, i,
            (['labeled', 'closed', 'assigned', 'referenced'])[i % 4 + 1], 'bot',
            CASE WHEN i % 4 = 0 THEN (['jules', 'bug', 'audit'])[i % 3 + 1] END,
            {at} - INTERVAL (i % 30) DAY, false, 1
        FROM range(30000) t(i)
        """
    )
    con.execute(
        f"""
        INSERT INTO branches (repo, name, sha, run_id)
        SELECT 'org/repo-' || (i % {REPOS}), 'epic/' || (250 * (1 + i // {REPOS})) || '-audit', md5(i::VARCHAR), 1
        FROM range(200) t(i)
        """
    )
    con.execute(
        f"""
        INSERT INTO finding_rows
        SELECT 'org/repo-' || (a % {REPOS}), 333 * (1 + (a // {REPOS}) % 15), f,
               'Finding ' || f, 'Text of finding ' || f,
               (['critical', 'high', 'medium', 'low'])[f % 4 + 1],
               (['security', 'quality', 'testing', 'docs'])[(a + f) % 4 + 1],
               'file', 'small', 'fp' || (a * 10 + f), true, true, ['audit']
        FROM range(300) t(a), range(1, 6) u(f)
        """
    )
    con.execute(
        f"""
        INSERT INTO parse_warning_rows
        SELECT 'org/repo-' || (a % {REPOS}), 333 * (1 + (a // {REPOS}) % 15), 'heading without findings ' || a
        FROM range(100) t(a)
        """
    )
    con.execute(
        f"""
        INSERT INTO framework_candidate_rows
        SELECT 'fw-' || (a % 20), 'security', 'Pattern ' || (a % 20), 'org/repo-' || (a % {REPOS}),
               333, 1 + a % 5, 'fp' || a, 3, 3
        FROM range(60) t(a)
        """
    )
    con.execute(
        f"""
        INSERT INTO action_log (plan_id, seq, action, repo, target, status, cost, executed_at)
        SELECT 'plan-' || (i // 100), i % 100, (['dispatch', 'nudge_pr', 'tick'])[i % 3 + 1],
               'org/repo-' || (i % {REPOS}), '#' || ((i * 13) % {per_repo + n_prs // REPOS} + 1),
               'done', 1, {at} - INTERVAL (i % 20) DAY
        FROM range(3000) t(i)
        """
    )


def run(n_issues: int = 100_000, db: Path | None = None) -> float:
    """Build the snapshot, time every view; prints one line per view and the total."""
    with tempfile.TemporaryDirectory() as tmp:
        path = db or Path(tmp) / "bench.duckdb"
        con = duckdb.connect(str(path))
        ensure_schema(con)
        started = time.perf_counter()
        generate(con, n_issues, n_issues // 10)
        print(f"generated {n_issues} issues in {time.perf_counter() - started:.1f} s")
        create_views(con)
        con.execute("SET threads = 1")
        total = 0.0
        for name, _ in view_definitions():
            started = time.perf_counter()
            rows = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            elapsed = time.perf_counter() - started
            total += elapsed
            print(f"  {name:<26} {rows:>8} rows  {elapsed * 1000:8.1f} ms")
        con.close()
    print(f"views: {n_issues} issues, all views in {total:.1f} s (1 thread)")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=100_000)
    parser.add_argument("--db", type=Path, default=None, help="keep the generated database here")
    args = parser.parse_args()
    run(args.issues, args.db)


if __name__ == "__main__":
    main()
