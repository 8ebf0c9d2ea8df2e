"""The sandbox's GraphQL API (POST /graphql) and its native links, over real HTTP through PyGithub.

Checked: the pruned schema is a faithful subset of GitHub's published one; answers agree with the
REST routes (PRs, review threads and comments, sub-issues, dependencies); nested connections page;
points follow GitHub's documented formula; errors come back as GitHub sends them; the mutations
the project uses; the /graphql fault modes.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from github import Auth, Github, GithubException
from graphql import build_schema, parse

from sandbox.gql.cost import query_cost
from sandbox.gql.execute import schema
from sandbox.models import AGENT_BOT

FULL_SCHEMA = Path(__file__).resolve().parents[1] / ".cache" / "graphql" / "schema.graphql"
PRUNED = Path(__file__).resolve().parents[1] / "sandbox" / "gql" / "schema.graphql"

PRS = """query($o: String!, $n: String!, $after: String) {
  rateLimit { cost remaining used limit resetAt nodeCount }
  repository(owner: $o, name: $n) {
    pullRequests(first: 50, states: OPEN, after: $after) {
      totalCount pageInfo { hasNextPage endCursor }
      nodes { number title mergeable mergeStateStatus reviewDecision isDraft headRefName headRefOid baseRefName
        author { login }
        latestReviews(first: 10) { nodes { state author { login } } }
        reviewThreads(first: 50) { totalCount nodes { id isResolved isOutdated path
          comments(first: 1) { nodes { author { login } } } } }
        commits(last: 1) { nodes { commit { oid statusCheckRollup { state contexts(first: 50) { totalCount
          nodes { __typename ... on CheckRun { name status conclusion }
            ... on StatusContext { context state } } } } } } }
      }
    }
  }
}"""


def _gh(sandbox) -> Github:
    return Github(base_url=sandbox.url, auth=Auth.Token(sandbox.token), retry=None)


def _post(sandbox, query: str, variables: dict | None = None, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"token {token or sandbox.token}"}
    return httpx.post(f"{sandbox.url}/graphql", json={"query": query, "variables": variables or {}}, headers=headers)


# ---------------------------------------------------------------------- the schema
def test_pruned_schema_is_a_faithful_subset_of_githubs():
    if not FULL_SCHEMA.exists():
        pytest.skip("no .cache/graphql/schema.graphql (make test fetches @octokit/graphql-schema)")
    full = build_schema(FULL_SCHEMA.read_text(encoding="utf-8"), assume_valid_sdl=True)
    pruned = build_schema(PRUNED.read_text(encoding="utf-8"))
    checked = 0
    for name, kept in pruned.type_map.items():
        if name.startswith("__"):
            continue
        original = full.type_map[name]
        assert type(original) is type(kept), name
        for field_name, field in getattr(kept, "fields", {}).items():
            source = original.fields[field_name]
            assert str(field.type) == str(source.type), f"{name}.{field_name}"
            for arg_name, arg in getattr(field, "args", {}).items():
                assert str(arg.type) == str(source.args[arg_name].type), f"{name}.{field_name}({arg_name})"
            checked += 1
        if hasattr(kept, "values"):
            assert set(kept.values) == set(original.values), name
        if hasattr(kept, "types"):
            assert {t.name for t in kept.types} <= {t.name for t in original.types}, name
    assert checked > 150


def test_pruned_schema_serves_every_field_the_project_asks_for():
    fields = schema().type_map
    assert {"reviewThreads", "latestReviews", "commits", "mergeStateStatus", "reviewDecision"} <= set(
        fields["PullRequest"].fields
    )
    assert {"subIssues", "parent", "subIssuesSummary"} <= set(fields["Issue"].fields)
    assert {"resolveReviewThread", "addSubIssue"} <= set(fields["Mutation"].fields)


# ---------------------------------------------------------------------- points
@pytest.mark.parametrize(
    ("query", "requests", "nodes", "points"),
    [
        ("{ viewer { login } }", 0, 0, 1),
        ('{ repository(owner: "o", name: "n") { pullRequests(first: 100) { nodes { number } } } }', 1, 100, 1),
        # GitHub's documented example shape: 1 + 50 + 50 * 20 = 1,051 requests, about 11 points
        (
            '{ repository(owner: "o", name: "n") { pullRequests(first: 50) { nodes { '
            "reviewThreads(first: 20) { nodes { comments(first: 10) { nodes { body } } } } "
            "latestReviews(first: 10) { totalCount } } } } }",
            1 + 50 + 1000 + 50,
            50 + 1000 + 10000 + 500,
            11,
        ),
        (PRS, 1 + 50 + 50 + 2500 + 50 + 50, 50 + 500 + 2500 + 2500 + 50 + 2500, 27),
    ],
)
def test_points_follow_githubs_formula(query: str, requests: int, nodes: int, points: int):
    document = parse(query)
    cost = query_cost(schema(), document.definitions[0], {}, {"o": "x", "n": "y"})
    assert (cost.requests, cost.nodes, cost.points) == (requests, nodes, points)


def test_rate_limit_is_its_own_graphql_budget(sandbox):
    gh = _gh(sandbox)
    headers, data = gh.requester.graphql_query(PRS, {"o": "dappcore", "n": "core"})
    assert data["data"]["rateLimit"]["cost"] == 27
    assert data["data"]["rateLimit"]["used"] == 27 and data["data"]["rateLimit"]["remaining"] == 5000 - 27
    assert headers["x-ratelimit-resource"] == "graphql"
    assert (headers["x-ratelimit-used"], headers["x-ratelimit-limit"]) == ("27", "5000")
    core = httpx.get(f"{sandbox.url}/repos/dappcore/core", headers={"Authorization": f"token {sandbox.token}"})
    assert core.headers["X-RateLimit-Resource"] == "core" and core.headers["X-RateLimit-Used"] == "1"
    dry = _post(sandbox, "{ rateLimit(dryRun: true) { cost used } }").json()
    assert dry["data"]["rateLimit"] == {"cost": 1, "used": 27}


# ---------------------------------------------------------------------- consistent with REST
def test_open_prs_agree_with_rest_and_page(sandbox):
    gh = _gh(sandbox)
    repo = gh.get_repo("dappcore/core")
    nodes, after = [], None
    while True:
        query = PRS.replace("first: 50, states", "first: 3, states")
        _, data = gh.requester.graphql_query(query, {"o": "dappcore", "n": "core", "after": after})
        page = data["data"]["repository"]["pullRequests"]
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    rest = {p.number: p for p in repo.get_pulls(state="open")}
    assert sorted(n["number"] for n in nodes) == sorted(rest) and len(nodes) == page["totalCount"]
    for node in nodes:
        pull = rest[node["number"]]
        assert (node["headRefOid"], node["headRefName"], node["baseRefName"]) == (
            pull.head.sha,
            pull.head.ref,
            pull.base.ref,
        )
        assert node["author"]["login"] == pull.user.login.removesuffix("[bot]")
        comments = list(pull.get_review_comments())
        assert node["reviewThreads"]["totalCount"] == len({c.in_reply_to_id or c.id for c in comments})
        rollup = node["commits"]["nodes"][0]["commit"]["statusCheckRollup"]
        runs = list(repo.get_commit(pull.head.sha).get_check_runs())
        assert rollup is None or rollup["contexts"]["totalCount"] >= len(runs)


def test_review_threads_in_every_state_agree_with_review_comments(sandbox):
    gh = _gh(sandbox)
    state = sandbox.state
    threads = state.review_threads
    assert {t.is_resolved for t in threads} == {True, False}
    assert any(state.thread_is_outdated(t) and not t.is_resolved for t in threads)
    assert any(not state.thread_is_outdated(t) and not t.is_resolved for t in threads)
    agent_prs = {(t.repo_id, t.number) for t in threads if state.issues[(t.repo_id, t.number)].user == AGENT_BOT}
    assert agent_prs
    thread = next(t for t in threads if state.thread_is_outdated(t))
    repo = state.repos[thread.repo_id]
    query = """query($o: String!, $n: String!, $num: Int!) { repository(owner: $o, name: $n) {
      pullRequest(number: $num) { reviewThreads(first: 100) { nodes { isOutdated path
        comments(first: 5) { nodes { databaseId author { login } } } } } } } }"""
    _, data = gh.requester.graphql_query(query, {"o": repo.owner, "n": repo.name, "num": thread.number})
    nodes = data["data"]["repository"]["pullRequest"]["reviewThreads"]["nodes"]
    rest = list(gh.get_repo(repo.full_name).get_pull(thread.number).get_review_comments())
    by_id = {c.id: c for c in rest}
    for node in nodes:
        first = by_id[node["comments"]["nodes"][0]["databaseId"]]
        assert first.path == node["path"]
        assert (first.position is None) == node["isOutdated"]  # GitHub's REST sign of an outdated comment


def test_a_thread_becomes_outdated_when_the_head_moves(sandbox):
    state = sandbox.state
    thread = next(t for t in state.review_threads if not state.thread_is_outdated(t))
    issue = state.issues[(thread.repo_id, thread.number)]
    repo = state.repos[thread.repo_id]
    state.add_commit(repo.full_name, issue.pull.head_ref, "address review", "bodane")
    node = _post(
        sandbox,
        "query($id: ID!) { node(id: $id) { ... on PullRequestReviewThread { isOutdated } } }",
        {"id": _thread_id(thread)},
    ).json()
    assert node["data"]["node"]["isOutdated"] is True


def _thread_id(thread) -> str:
    from sandbox.models import node_id

    return node_id("PullRequestReviewThread", thread.id)


def test_sub_issues_and_dependencies_agree_with_rest(sandbox):
    gh = _gh(sandbox)
    state = sandbox.state
    parent = next(i for i in state.issues.values() if len(i.sub_issues) >= 2)
    repo = state.repos[parent.repo_id]
    _, rest = gh.requester.requestJsonAndCheck("GET", f"/repos/{repo.full_name}/issues/{parent.number}")
    _, children = gh.requester.requestJsonAndCheck(
        "GET", f"/repos/{repo.full_name}/issues/{parent.number}/sub_issues", parameters={"per_page": 1}
    )
    query = """query($o: String!, $n: String!, $num: Int!) { repository(owner: $o, name: $n) { issue(number: $num) {
      subIssuesSummary { total completed percentCompleted } subIssues(first: 100) { nodes { number
        parent { number } repository { nameWithOwner } } } } } }"""
    _, data = gh.requester.graphql_query(query, {"o": repo.owner, "n": repo.name, "num": parent.number})
    issue = data["data"]["repository"]["issue"]
    summary = rest["sub_issues_summary"]
    assert issue["subIssuesSummary"] == {
        "total": summary["total"],
        "completed": summary["completed"],
        "percentCompleted": summary["percent_completed"],
    }
    assert summary["total"] == len(parent.sub_issues) == len(issue["subIssues"]["nodes"])
    assert children[0]["number"] == issue["subIssues"]["nodes"][0]["number"]  # same order, paged by Link
    assert {n["parent"]["number"] for n in issue["subIssues"]["nodes"]} == {parent.number}
    blocked = next(i for i in state.issues.values() if any(k[0] != i.repo_id for k in i.blocked_by))
    brepo = state.repos[blocked.repo_id]
    _, shown = gh.requester.requestJsonAndCheck("GET", f"/repos/{brepo.full_name}/issues/{blocked.number}")
    _, blockers = gh.requester.requestJsonAndCheck(
        "GET", f"/repos/{brepo.full_name}/issues/{blocked.number}/dependencies/blocked_by"
    )
    assert shown["issue_dependencies_summary"]["total_blocked_by"] == len(blockers) >= 1
    assert any(b["repository_url"] != shown["repository_url"] for b in blockers)
    blocker = blockers[0]
    _, blocking = gh.requester.requestJsonAndCheck(
        "GET", blocker["url"].split(sandbox.url)[-1] + "/dependencies/blocking"
    )
    assert blocked.id in {b["id"] for b in blocking}


def test_adding_links_over_rest_is_validated_and_touches_updated_at(sandbox):
    gh = _gh(sandbox)
    state = sandbox.state
    free = [
        i
        for i in state.issues.values()
        if not i.is_pull
        and i.state == "open"
        and state.parent_of(i) is None
        and not i.sub_issues
        and state.repos[i.repo_id].name == "core"
    ]
    parent, child = free[0], free[1]
    before = parent.updated_at
    _, answer = gh.requester.requestJsonAndCheck(
        "POST", f"/repos/dappcore/core/issues/{parent.number}/sub_issues", input={"sub_issue_id": child.id}
    )
    assert answer["sub_issues_summary"]["total"] == 1 and parent.updated_at > before
    _, got = gh.requester.requestJsonAndCheck("GET", f"/repos/dappcore/core/issues/{child.number}/parent")
    assert got["number"] == parent.number
    with pytest.raises(GithubException) as again:
        gh.requester.requestJsonAndCheck(
            "POST", f"/repos/dappcore/core/issues/{free[2].number}/sub_issues", input={"sub_issue_id": child.id}
        )
    assert again.value.status == 422
    with pytest.raises(GithubException) as missing:
        gh.requester.requestJsonAndCheck(
            "POST", f"/repos/dappcore/core/issues/{parent.number}/sub_issues", input={"sub_issue_id": 1}
        )
    assert missing.value.status == 404
    _, blocker = gh.requester.requestJsonAndCheck(
        "POST", f"/repos/dappcore/core/issues/{parent.number}/dependencies/blocked_by", input={"issue_id": free[2].id}
    )
    assert blocker["number"] == free[2].number
    _, shown = gh.requester.requestJsonAndCheck("GET", f"/repos/dappcore/core/issues/{parent.number}")
    assert shown["issue_dependencies_summary"] == {
        "blocked_by": 1,
        "blocking": 0,
        "total_blocked_by": 1,
        "total_blocking": 0,
    }


# ---------------------------------------------------------------------- mutations
def test_resolve_review_thread_flips_is_resolved_and_is_idempotent(sandbox):
    gh = _gh(sandbox)
    state = sandbox.state
    thread = next(t for t in state.review_threads if not t.is_resolved)
    mutation = """mutation($id: ID!) { resolveReviewThread(input: {threadId: $id}) { thread { id isResolved } } }"""
    for _ in range(2):
        _, data = gh.requester.graphql_query(mutation, {"id": _thread_id(thread)})
        assert data["data"]["resolveReviewThread"]["thread"] == {"id": _thread_id(thread), "isResolved": True}
    assert thread.is_resolved and thread.resolved_by
    writes = httpx.get(f"{sandbox.url}/_sandbox/requests", params={"writes": 1}).json()
    assert [w["path"] for w in writes[-2:]] == ["/graphql", "/graphql"]
    bad = _post(sandbox, mutation, {"id": "nope"}).json()
    assert bad["data"] == {"resolveReviewThread": None}
    assert bad["errors"][0]["type"] == "NOT_FOUND" and bad["errors"][0]["path"] == ["resolveReviewThread"]


def test_add_sub_issue_shows_in_rest_and_graphql(sandbox):
    gh = _gh(sandbox)
    state = sandbox.state
    free = [
        i
        for i in state.issues.values()
        if not i.is_pull
        and i.state == "open"
        and state.parent_of(i) is None
        and not i.sub_issues
        and state.repos[i.repo_id].name == "core-api"
    ]
    parent, child = free[0], free[1]
    ids = {}
    for issue in (parent, child):
        _, shown = gh.requester.requestJsonAndCheck("GET", f"/repos/dappcore/core-api/issues/{issue.number}")
        ids[issue.number] = shown["node_id"]
    mutation = """mutation($p: ID!, $c: ID!) { addSubIssue(input: {issueId: $p, subIssueId: $c}) {
      issue { number subIssuesSummary { total } } subIssue { number parent { number } } } }"""
    _, data = gh.requester.graphql_query(mutation, {"p": ids[parent.number], "c": ids[child.number]})
    answer = data["data"]["addSubIssue"]
    assert answer["issue"] == {"number": parent.number, "subIssuesSummary": {"total": 1}}
    assert answer["subIssue"] == {"number": child.number, "parent": {"number": parent.number}}
    _, listed = gh.requester.requestJsonAndCheck("GET", f"/repos/dappcore/core-api/issues/{parent.number}/sub_issues")
    assert [i["number"] for i in listed] == [child.number]
    again = _post(sandbox, mutation, {"p": ids[parent.number], "c": ids[child.number]}).json()
    assert again["data"] == {"addSubIssue": None} and again["errors"][0]["type"] == "UNPROCESSABLE"


# ---------------------------------------------------------------------- errors and faults
def test_errors_come_back_as_github_sends_them(sandbox):
    missing = _post(sandbox, '{ repository(owner: "dappcore", name: "nope") { id } }')
    assert missing.status_code == 200
    body = missing.json()
    assert body["data"] == {"repository": None}
    assert body["errors"][0]["type"] == "NOT_FOUND" and body["errors"][0]["path"] == ["repository"]
    assert body["errors"][0]["locations"] == [{"line": 1, "column": 3}]
    invalid = _post(sandbox, '{ repository(owner: "dappcore", name: "core") { nope } }').json()
    assert "data" not in invalid and "nope" in invalid["errors"][0]["message"]
    syntax = _post(sandbox, "{ repository(").json()
    assert "data" not in syntax and syntax["errors"][0]["message"].startswith("Syntax Error")
    unbounded = _post(sandbox, '{ repository(owner: "dappcore", name: "core") { pullRequests { totalCount } } }')
    assert unbounded.json()["errors"][0]["type"] == "MISSING_PAGINATION_BOUNDARIES"
    too_many = _post(
        sandbox, '{ repository(owner: "dappcore", name: "core") { pullRequests(first: 101) { totalCount } } }'
    ).json()
    assert too_many["data"] is None and too_many["errors"][0]["type"] == "EXCESSIVE_PAGINATION"
    huge = (
        '{ repository(owner: "dappcore", name: "core") { pullRequests(first: 100) { nodes { '
        "reviewThreads(first: 100) { nodes { comments(first: 100) { nodes { body } } } } } } } }"
    )
    over = _post(sandbox, huge).json()
    assert over["data"] is None and over["errors"][0]["type"] == "MAX_NODE_LIMIT_EXCEEDED"
    assert "1,010,100" in over["errors"][0]["message"]
    thread = _thread_id(sandbox.state.review_threads[0])
    nodes = _post(sandbox, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": [thread, "nope"]}).json()
    assert nodes["data"] == {"nodes": [{"id": thread}, None]}
    assert [(e["type"], e["path"]) for e in nodes["errors"]] == [("NOT_FOUND", ["nodes", 1])]
    anonymous = httpx.post(f"{sandbox.url}/graphql", json={"query": "{ viewer { login } }"})
    assert anonymous.status_code == 401
    assert _post(sandbox, "{ viewer { login } }", token="wrong").status_code == 401


def test_graphql_fault_modes(sandbox):
    gh = _gh(sandbox)
    httpx.post(f"{sandbox.url}/_sandbox/faults", json={"graphql_errors": True})
    body = _post(sandbox, "{ viewer { login } }").json()
    assert body["data"] is None and body["errors"]
    httpx.post(f"{sandbox.url}/_sandbox/faults", json={"graphql_missing": True})
    with pytest.raises(GithubException) as missing:
        gh.requester.graphql_query("{ viewer { login } }", {})
    assert missing.value.status == 404
    assert gh.get_repo("dappcore/core").full_name == "dappcore/core"  # REST still answers
    httpx.post(f"{sandbox.url}/_sandbox/faults", json={"latency_ms": 1})
    assert _post(sandbox, "{ viewer { login } }").json() == {"data": {"viewer": {"login": "Snider"}}}


def test_a_spent_graphql_budget_answers_rate_limited_and_rest_still_answers(sandbox):
    sandbox.state.rate_bucket("graphql:snider", 5000).used = 4990
    spent = _post(sandbox, PRS, {"o": "dappcore", "n": "core"})
    assert spent.status_code == 200 and spent.json()["errors"][0]["type"] == "RATE_LIMITED"
    assert spent.headers["X-RateLimit-Remaining"] == "10" and spent.headers["X-RateLimit-Resource"] == "graphql"
    cheap = _post(sandbox, "{ viewer { login } rateLimit { cost remaining } }").json()
    assert cheap["data"]["rateLimit"] == {"cost": 1, "remaining": 9}
    assert _gh(sandbox).get_repo("dappcore/core").full_name == "dappcore/core"
