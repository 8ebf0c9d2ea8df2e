"""GitHub's GraphQL API for what REST cannot say cheaply: open PRs' detail in bulk (mergeability,
reviews, review threads, CI rollup) and native sub-issues.

Queries go through PyGithub's requester (same auth, retries and rate-limit handling as REST) and
are counted in the `RequestCounter`; the points each query costs are read from its `rateLimit`.
Query sizes follow GitHub's published cost formula (`query_cost`): every connection is assumed to
return its `first`/`last` items; a query may ask for at most 500,000 nodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from graphql import FieldNode, FragmentDefinitionNode, InlineFragmentNode, OperationDefinitionNode, parse
from graphql.language import FragmentSpreadNode, IntValueNode, SelectionSetNode, VariableNode

from common.text import clean_text
from tasks.github_client import CredentialsRefused, GitHubClient, GitHubError, RateLimited, _header

NODE_LIMIT = 500_000
PULLS_PAGE = 50  # open PRs per repository per query (fewer when fewer are expected)
THREADS_PAGE = 10  # review threads per PR in the bulk query; more are paged per PR
CONTEXTS_PAGE = 20  # CI contexts per PR in the bulk query; more are paged per PR
REVIEWS_PAGE = 30  # latest review per reviewer
NESTED_PAGE = 100  # page size when a PR's threads or contexts need more pages
SUB_ISSUES_PAGE = 50


class GraphQLUnavailable(Exception):
    """The server has no usable GraphQL API (404/410, or `errors` for the whole query): use REST."""


# ── the cost formula ──────────────────────────────────────────────────────────


def query_cost(document: str, variables: dict[str, Any] | None = None) -> tuple[int, int]:
    """(points, nodes) of a query by GitHub's published formula.

    Each connection (a field with `first` or `last`) needs one request per item its parents may
    return; the requests are summed, divided by 100 and rounded (at least 1 point). Nodes: the
    items each connection may return, times its parents'.
    """
    ast = parse(document)
    fragments = {d.name.value: d for d in ast.definitions if isinstance(d, FragmentDefinitionNode)}
    totals = [0, 0]  # requests, nodes
    for op in ast.definitions:
        if isinstance(op, OperationDefinitionNode):
            _walk(op.selection_set, 1, fragments, variables or {}, totals)
    return max(1, round(totals[0] / 100)), totals[1]


def _page_size(node: FieldNode, variables: dict[str, Any]) -> int | None:
    for argument in node.arguments or ():
        if argument.name.value in ("first", "last"):
            value = argument.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, VariableNode):
                return int(variables.get(value.name.value) or 0)
    return None


def _walk(selection: SelectionSetNode | None, parents: int, fragments: dict, variables: dict, totals: list) -> None:
    for node in selection.selections if selection else ():
        if isinstance(node, FragmentSpreadNode):
            _walk(fragments[node.name.value].selection_set, parents, fragments, variables, totals)
        elif isinstance(node, InlineFragmentNode):
            _walk(node.selection_set, parents, fragments, variables, totals)
        elif isinstance(node, FieldNode):
            size = _page_size(node, variables)
            if size is None:
                _walk(node.selection_set, parents, fragments, variables, totals)
                continue
            totals[0] += parents
            totals[1] += parents * size
            _walk(node.selection_set, parents * size, fragments, variables, totals)


# ── sending ───────────────────────────────────────────────────────────────────


@dataclass
class Points:
    """GraphQL points spent and the GraphQL limit last seen (its own bucket, apart from REST's)."""

    spent: int = 0
    remaining: int | None = None
    reset_at: str | None = None
    viewer: str | None = None  # the token's login, when a query asked for `viewer { login }`


def post(client: GitHubClient, document: str, variables: dict[str, Any], points: Points) -> dict[str, Any]:
    """POST /graphql; the answer's `data`. `errors` with no data at all means GraphQL is unusable
    here (GraphQLUnavailable); errors next to data (one alias not found) leave the rest usable."""
    # Through client.request, as REST: counted, an App's token renewed, and on execute's paced
    # client a mutation waits for (or defers under) GitHub's content-creation limits.
    try:
        page = client.request("POST", client.gh.requester.graphql_url, body={"query": document, "variables": variables})
    except (CredentialsRefused, RateLimited):
        raise  # a refused token or "not now" is not a missing GraphQL API
    except GitHubError as exc:
        if exc.status in (400, 404, 405, 410, 422, 501):
            raise GraphQLUnavailable(f"/graphql answered {exc.status}") from None
        raise
    except ValueError:  # an answer that is not JSON: no GraphQL API here
        raise GraphQLUnavailable("/graphql answered something other than JSON") from None
    headers, answer = page.headers, page.data
    answer = answer if isinstance(answer, dict) else {}
    data = answer.get("data")
    if not isinstance(data, dict) or not data:
        errors = answer.get("errors") or [{"message": "no data"}]
        message = clean_text(str((errors[0] or {}).get("message", "error")))[:200]
        raise GraphQLUnavailable(f"/graphql answered errors: {message}")
    _note_points(data, headers, points, document, variables)
    return data


def _note_points(data: dict, headers: dict, points: Points, document: str, variables: dict) -> None:
    limit = data.get("rateLimit") if isinstance(data.get("rateLimit"), dict) else {}
    cost = limit.get("cost")
    points.spent += int(cost) if isinstance(cost, int) else query_cost(document, variables)[0]
    remaining = limit.get("remaining")
    if (_header(headers, "X-RateLimit-Resource") or "graphql") == "graphql":
        header = _header(headers, "X-RateLimit-Remaining")
        remaining = int(header) if header is not None and str(header).isdigit() else remaining
    points.remaining = remaining if isinstance(remaining, int) else points.remaining
    points.reset_at = limit.get("resetAt") or points.reset_at


def send_sized(client: GitHubClient, parts: list[tuple[str, str, dict]], points: Points, fragments: str = "") -> dict:
    """Send aliased query parts (alias, selection, variables with their types in `$name: Type` keys)
    as few queries as the node limit allows; returns the merged `data`."""
    data: dict[str, Any] = {}
    batch: list[tuple[str, str, dict]] = []
    for part in parts:
        if batch and query_cost(*_document(batch + [part], fragments))[1] > NODE_LIMIT:
            data.update(post(client, *_document(batch, fragments), points))
            batch = []
        batch.append(part)
    if batch:
        data.update(post(client, *_document(batch, fragments), points))
    return data


def _document(parts: list[tuple[str, str, dict]], fragments: str = "") -> tuple[str, dict[str, Any]]:
    """One query document from aliased parts; variables are declared as `{"$name: Type": value}`."""
    declared = {key: value for _, _, variables in parts for key, value in variables.items()}
    header = ", ".join(declared)
    body = "\n".join(f"  {alias}: {selection}" for alias, selection, _ in parts)
    args = f"({header})" if header else ""
    document = f"query Snapshot{args} {{\n  rateLimit {{ cost remaining resetAt }}\n{body}\n}}\n{fragments}"
    return document, {key.split(":")[0].lstrip("$"): value for key, value in declared.items()}


@dataclass
class RepoRequest:
    """One repository's open PRs to ask for: how many to expect, and where the last page ended."""

    repo: str
    expected: int = PULLS_PAGE
    after: str | None = None
    pulls: list[dict[str, Any]] = field(default_factory=list)


def page_size(expected: int) -> int:
    """Open PRs per page: what we expect (a refresh knows), at least 1, at most 100."""
    return max(1, min(100, math.ceil(expected)))
