"""The snapshot's GraphQL read side: the cost formula, every query it can build (validated against
GitHub's published schema), parsing, and — over real HTTP against the sandbox — unresolved threads,
review threads, sub-issues, dependencies, request counts and the REST fallback."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from tasks.github_graphql import NODE_LIMIT, RepoRequest, _document, page_size, query_cost
from tasks.github_graphql_pulls import (
    PULL_FRAGMENT,
    apply_graphql_detail,
    contexts_part,
    mergeable_part,
    pulls_part,
    rollup_ci,
    thread_rows,
    threads_part,
)
from tasks.github_links import sub_issue_part

SCHEMA = Path(__file__).resolve().parent.parent / ".cache" / "graphql" / "schema.graphql"

# ── the cost formula (GitHub's own worked example) ───────────────────────────

DOCS_EXAMPLE = """
query {
  viewer {
    login
    repositories(first: 100) {
      edges { node { id
        issues(first: 50) { edges { node { id
          labels(first: 60) { edges { node { id name } } }
        } } }
      } }
    }
  }
}
"""


def test_cost_formula_matches_githubs_published_example():
    # docs.github.com "Rate limits and node limits for the GraphQL API": 5,101 requests -> 51 points,
    # 100 + 5,000 + 300,000 = 305,100 nodes.
    assert query_cost(DOCS_EXAMPLE) == (51, 305_100)


def test_cost_is_at_least_one_point_and_reads_page_sizes_from_variables():
    assert query_cost("query { viewer { login } }") == (1, 0)
    document = "query($n: Int!) { viewer { repositories(first: $n) { nodes { issues(last: 10) { totalCount } } } } }"
    assert query_cost(document, {"n": 30}) == (1, 30 + 300)
    assert query_cost(document, {"n": 100}) == (1, 100 + 1000)  # 101 requests round to 1


def test_bulk_pull_query_cost_grows_with_the_prs_asked_for():
    small, _ = query_cost(*_document([pulls_part(0, RepoRequest("o/a", 8))], PULL_FRAGMENT))
    large, nodes = query_cost(*_document([pulls_part(0, RepoRequest("o/a", 100))], PULL_FRAGMENT))
    assert small == 1 and large > 10 and nodes < NODE_LIMIT
    assert page_size(0) == 1 and page_size(500) == 100


# ── every query the module can build is valid against GitHub's schema ────────


@pytest.fixture(scope="module")
def github_schema():
    if not SCHEMA.exists():
        pytest.skip(f"{SCHEMA} is absent: `make graphql-schema` fetches it (npm @octokit/graphql-schema)")
    from graphql import build_schema

    # GitHub's published SDL repeats a few fields and deprecates interface fields in ways graphql-core
    # rejects when checking the schema itself; the query documents are still validated in full.
    schema = build_schema(SCHEMA.read_text(encoding="utf-8"), assume_valid_sdl=True)
    schema._validation_errors = []
    return schema


def every_query():
    two_repos = [pulls_part(0, RepoRequest("o/a", 8)), pulls_part(1, RepoRequest("o/b", 3, after="Y3Vyc29y"))]
    return {
        "open pulls": _document(two_repos, PULL_FRAGMENT),
        "more threads and contexts": _document([threads_part(0, "PR_1", "c1"), contexts_part(1, "SCR_1", "c2")]),
        "mergeability again": _document([mergeable_part(0, "PR_1"), mergeable_part(1, "PR_2")]),
        "sub-issues": _document([sub_issue_part(0, "o/a", 3, None), sub_issue_part(1, "o/b", 4, "c")]),
    }


@pytest.mark.parametrize("name", list(every_query()))
def test_every_query_validates_against_the_published_schema(github_schema, name):
    from graphql import parse, validate

    document, variables = every_query()[name]
    assert validate(github_schema, parse(document)) == []
    assert set(variables) == {d.variable.name.value for d in parse(document).definitions[0].variable_definitions}


# ── parsing GraphQL nodes (hand-written from the schema) ─────────────────────


def pull_node(**overrides):
    node = {
        "id": "PR_1", "number": 7, "isDraft": False, "mergeable": "MERGEABLE", "mergeStateStatus": "BLOCKED",
        "headRefName": "jules/issue-3", "headRefOid": "a" * 40, "baseRefName": "main", "baseRefOid": "b" * 40,
        "additions": 5, "deletions": 1, "changedFiles": 2, "author": {"login": "google-labs-jules[bot]"},
        "latestReviews": {"nodes": [
            {"state": "CHANGES_REQUESTED", "submittedAt": "2026-03-01T10:00:00Z", "author": {"login": "Snider"}},
            {"state": "APPROVED", "submittedAt": "2026-03-01T11:00:00Z", "author": {"login": "ann"}},
        ]},
        "reviewThreads": {"totalCount": 3, "pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": [
            {"id": "T1", "isResolved": False, "isOutdated": True, "path": "a.py",
             "comments": {"totalCount": 2, "nodes": [{"author": {"login": "Snider"}}]}},
            {"id": "T2", "isResolved": True, "isOutdated": False, "path": "b.py",
             "comments": {"totalCount": 1, "nodes": [{"author": None}]}},
            {"id": "T3", "isResolved": False, "isOutdated": False, "path": None,
             "comments": {"totalCount": 1, "nodes": []}},
        ]},
        "commits": {"totalCount": 4, "nodes": [{"commit": {"oid": "a" * 40, "statusCheckRollup": {
            "id": "SCR_1", "state": "FAILURE", "contexts": {"totalCount": 3, "nodes": [
                {"__typename": "CheckRun", "name": "test", "status": "COMPLETED", "conclusion": "FAILURE"},
                {"__typename": "CheckRun", "name": "lint", "status": "IN_PROGRESS", "conclusion": None},
                {"__typename": "StatusContext", "context": "ci/x", "state": "SUCCESS"},
            ]}}}}]},
    }  # fmt: skip
    node.update(overrides)
    return node


def test_a_pull_node_fills_the_same_detail_columns_as_rest():
    at = datetime(2026, 3, 2, 9, 0)
    row = apply_graphql_detail({}, pull_node(), None, at)
    assert row["unresolved_threads"] == 2 and row["review_comments"] == 4
    assert (row["ci_state"], row["checks_total"], row["checks_failing"]) == ("failure", 3, 1)
    decision = (row["review_decision"], row["approvals"], row["changes_requested_by"])
    assert decision == ("CHANGES_REQUESTED", 1, ["Snider"])
    assert (row["mergeable"], row["mergeable_state"], row["head_ref"], row["commits"]) == (
        True, "blocked", "jules/issue-3", 4
    )  # fmt: skip
    rows = thread_rows("o/a", pull_node())
    assert [(r["thread_id"], r["is_resolved"], r["is_outdated"], r["first_author"]) for r in rows] == [
        ("T1", False, True, "Snider"), ("T2", True, False, None), ("T3", False, False, None)
    ]  # fmt: skip


def test_no_threads_is_zero_and_unknown_mergeability_keeps_what_was_known():
    node = pull_node(mergeable="UNKNOWN", mergeStateStatus="UNKNOWN", reviewThreads={"nodes": []})
    row = apply_graphql_detail({}, node, {"mergeable": False, "mergeable_state": "dirty"}, datetime(2026, 3, 2))
    assert row["unresolved_threads"] == 0
    assert (row["mergeable"], row["mergeable_state"]) == (False, "dirty")
    assert rollup_ci(pull_node(commits={"totalCount": 1, "nodes": [{"commit": {"statusCheckRollup": None}}]})) == (
        "none", 0, 0
    )  # fmt: skip


# ── over real HTTP against the sandbox ───────────────────────────────────────


def _query(settings, sql):
    from tasks import store

    with store.reader(settings.database.path) as con:
        return con.execute(sql).fetchall()


def _server_facts(state, repos):
    """(unresolved per open PR, sub-issue links, dependency links) as the sandbox holds them."""
    name = {rid: repo.full_name for rid, repo in state.repos.items()}
    unresolved, subs, deps = {}, set(), set()
    for (rid, number), issue in state.issues.items():
        if name[rid] not in repos or issue.deleted or issue.moved_to:
            continue
        if issue.is_pull and issue.state == "open":
            unresolved[(name[rid], number)] = sum(not t.is_resolved for t in state.threads_of(issue))
        subs |= {(name[rid], number, name[c_rid], c) for c_rid, c in issue.sub_issues}
        deps |= {(name[rid], number, name[b_rid], b) for b_rid, b in issue.blocked_by}
    return unresolved, subs, deps


@pytest.mark.usefixtures("prefect_harness")
def test_graphql_snapshot_matches_the_server_and_the_rest_fallback_gives_the_same_prs(sandbox, tmp_path):
    """On the issue's shape (5 repos, 337 items, 40 open PRs): at most 60 requests in all."""
    from benchmarks.issue_shape import REPOS, seed_issue_shape
    from flows.snapshot import snapshot
    from tests.conftest import SANDBOX_NOW, make_settings

    repos = seed_issue_shape(sandbox.state, SANDBOX_NOW)
    settings = make_settings(sandbox.url, tmp_path / "graphql.duckdb", repos=list(REPOS))
    sandbox.state.request_log.clear()
    summary = snapshot(settings)
    assert summary["read_path"] == "graphql" and summary["graphql_points"] >= 1
    unresolved, subs, deps = _server_facts(sandbox.state, repos)
    assert len(unresolved) == 40 and any(unresolved.values()) and not all(unresolved.values())
    got = _query(settings, "SELECT repo, number, unresolved_threads FROM pull_requests WHERE state = 'open'")
    assert {(repo, n): u for repo, n, u in got} == unresolved
    threads = _query(
        settings, "SELECT repo, number, count(*) FILTER (NOT is_resolved) FROM review_threads GROUP BY ALL"
    )
    assert {(r, n): c for r, n, c in threads if c} == {k: v for k, v in unresolved.items() if v}
    assert set(_query(settings, "SELECT * FROM sub_issues")) == subs and subs
    assert set(_query(settings, "SELECT * FROM issue_dependencies")) == deps and deps
    graphql_posts = [r for r in sandbox.state.request_log if r["path"] == "/graphql"]
    assert summary["requests"] == len([r for r in sandbox.state.request_log if r["path"] != "/_sandbox/faults"])
    assert len(graphql_posts) <= 4 and summary["requests"] <= 60
    assert not [r for r in sandbox.state.request_log if "/pulls/" in r["path"]]  # no per-PR REST detail

    sandbox.state.set_faults(graphql_errors=True)
    rest = make_settings(sandbox.url, tmp_path / "rest.duckdb", repos=list(REPOS))
    fallback = snapshot(rest)
    assert fallback["read_path"] == "rest"
    columns = "repo, number, state, head_sha, mergeable, ci_state, checks_total, checks_failing, approvals"
    sql = f"SELECT {columns} FROM pull_requests ORDER BY repo, number"
    assert _query(rest, sql) == _query(settings, sql)
    assert _query(rest, "SELECT count(*) FROM pull_requests WHERE unresolved_threads IS NOT NULL") == [(0,)]
    assert set(_query(rest, "SELECT * FROM sub_issues")) == subs
    assert set(_query(rest, "SELECT * FROM issue_dependencies")) == deps


@pytest.mark.usefixtures("prefect_harness")
def test_a_refresh_with_nothing_changed_is_charged_at_most_ten(sandbox, settings):
    from flows.snapshot import snapshot

    snapshot(settings)
    second = snapshot(settings)
    charged = second["requests"] - second["requests_not_modified"] - 1 + second["graphql_points"]  # less the POST
    assert charged <= 10, second
    assert second["versions_added"] == 0
