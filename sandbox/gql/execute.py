"""POST /graphql over the pruned schema: parse, validate, price, execute, answer as GitHub does.

Errors come back with status 200 as GitHub sends them: a syntax or validation error as
`{"errors": [...]}` with no `data`; a limit GitHub checks before running (page size, 500,000
nodes) as `{"data": null, "errors": [{"type": ..., "message": ...}]}`; a missing object as
`data` with that field null and `{"type": "NOT_FOUND", "path", "locations", "message"}`.
Points go to a separate 5,000-an-hour `graphql` bucket per token (`rateLimit { dryRun: true }`
prices a query without charging it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib.resources import files
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    execute,
    get_operation_ast,
    parse,
    validate,
)

from sandbox.gql.cost import Cost, LimitError, query_cost
from sandbox.gql.resolvers import (
    STATE_KEY,
    Actor,
    Commit,
    IssueNode,
    NotFound,
    PullRequest,
    Repository,
    Thread,
    decode_id,
)
from sandbox.models import RateBucket
from sandbox.state import SandboxState

GRAPHQL_LIMIT = 5000
ABSTRACT = ("Node", "Actor", "RepositoryOwner", "StatusCheckRollupContext")


@lru_cache(maxsize=1)
def schema() -> GraphQLSchema:
    """The pruned GitHub schema (sandbox/gql/schema.graphql), with type resolution by `typename`."""
    built = build_schema(files("sandbox.gql").joinpath("schema.graphql").read_text(encoding="utf-8"))
    for name in ABSTRACT:
        built.type_map[name].resolve_type = lambda value, info, abstract: value.typename  # type: ignore[attr-defined]
    return built


@dataclass
class Answer:
    body: dict
    cost: int


def run(state: SandboxState, login: str, bucket: RateBucket, payload: Any) -> Answer:
    """Answer one GraphQL request body (a dict with query, variables, operationName)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return Answer({"errors": [{"message": "A query attribute must be specified and must be a string."}]}, 0)
    variables = payload.get("variables") or {}
    try:
        document = parse(payload["query"])
    except GraphQLError as exc:
        return Answer({"errors": [_error(exc)]}, 0)
    problems = validate(schema(), document)
    if problems:
        return Answer({"errors": [_error(e) for e in problems]}, 0)
    operation = get_operation_ast(document, payload.get("operationName"))
    if operation is None:
        return Answer({"errors": [{"message": "An operation name is required"}]}, 0)
    fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
    try:
        cost = query_cost(schema(), operation, fragments, variables)
    except LimitError as exc:
        return Answer({"data": None, "errors": [{"type": exc.kind, "path": exc.path, "message": exc.message}]}, 0)
    except GraphQLError as exc:
        return Answer({"errors": [_error(exc)]}, 0)
    charged = 0 if _dry_run(operation) else cost.points
    if bucket.used + charged > bucket.limit:
        return Answer(
            {
                "errors": [
                    {"type": "RATE_LIMITED", "message": f"API rate limit exceeded for user ID {state.user(login).id}."}
                ]
            },
            0,
        )
    with state.lock:
        bucket.used += charged
        result = execute(
            schema(),
            document,
            root_value=Root(state, login, bucket, cost, charged),
            variable_values=variables,
            operation_name=payload.get("operationName"),
            context_value={STATE_KEY: state},
        )
    body: dict = {"data": result.data}
    if result.errors:
        body["errors"] = [_error(e) for e in result.errors]
    return Answer(body, charged)


def _dry_run(operation: OperationDefinitionNode) -> bool:
    """True when the query asks `rateLimit(dryRun: true)`."""
    for selection in operation.selection_set.selections:
        if getattr(selection, "name", None) and selection.name.value == "rateLimit":  # type: ignore[attr-defined]
            return any(
                a.name.value == "dryRun" and getattr(a.value, "value", False) is True for a in selection.arguments or ()
            )  # type: ignore[attr-defined]
    return False


def _error(error: GraphQLError) -> dict:
    """GitHub's error object: type (when known), path, locations, message."""
    out: dict = {}
    kind = (error.extensions or {}).get("type")
    if kind:
        out["type"] = kind
    if error.path:
        out["path"] = list(error.path)
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    out["message"] = error.message
    return out


class Root:
    """Query and Mutation fields."""

    def __init__(self, state: SandboxState, login: str, bucket: RateBucket, cost: Cost, charged: int) -> None:
        self.store, self.login, self.bucket, self.cost, self.charged = state, login, bucket, cost, charged

    def repository(self, info, owner: str, name: str, followRenames: bool = True):
        repo = self.store.find_repo(f"{owner}/{name}")
        if repo is None and followRenames:
            repo = self.store.renamed_repo(f"{owner}/{name}")
        if repo is None:
            raise NotFound(f"Could not resolve to a Repository with the name '{owner}/{name}'.")
        return Repository(self.store, repo)

    def viewer(self, info):
        return Actor(self.store, self.login)

    def rateLimit(self, info, dryRun: bool = False):
        reset = datetime.fromtimestamp(self.bucket.reset, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "cost": self.cost.points,
            "limit": self.bucket.limit,
            "nodeCount": self.cost.nodes,
            "remaining": max(self.bucket.limit - self.bucket.used, 0),
            "used": self.bucket.used,
            "resetAt": reset,
        }

    def node(self, info, id: str):
        return self._node(id)

    def nodes(self, info, ids: list[str]):
        found = []
        for ident in ids:
            try:
                found.append(self._node(ident))
            except NotFound as missing:  # null in its place and a NOT_FOUND error at ["nodes", i], as GitHub
                found.append(missing)
        return found

    def _node(self, global_id: str) -> Any:
        decoded = decode_id(global_id)
        kind, ident = decoded if decoded else ("", 0)
        state = self.store
        if kind == "Issue":
            issue = state.issue_by_id(ident)
            if issue is not None and not issue.is_pull:
                return IssueNode(state, issue)
        if kind == "PullRequest":
            issue = next((i for i in state.issues.values() if i.pull and i.pull.id == ident), None)
            if issue is not None:
                return PullRequest(state, issue)
        if kind == "PullRequestReviewThread" and (thread := state.find_thread(ident)) is not None:
            return Thread(state, thread)
        if kind == "StatusCheckRollup":
            for repo in state.repos.values():
                sha = next((sha for sha in repo.commits if int(sha[:8], 16) == ident), None)
                rollup = Commit(state, repo, sha).statusCheckRollup(None) if sha else None
                if rollup is not None:
                    return rollup
        if kind == "Repository" and ident in state.repos:
            return Repository(state, state.repos[ident])
        raise NotFound(f"Could not resolve to a node with the global id of '{global_id}'")

    # ------------------------------------------------------------------ mutations
    def resolveReviewThread(self, info, input: dict):
        return self._resolve(input, True)

    def unresolveReviewThread(self, info, input: dict):
        return self._resolve(input, False)

    def _resolve(self, data: dict, resolved: bool) -> dict:
        node = self._node(data["threadId"])
        if not isinstance(node, Thread):
            raise NotFound(f"Could not resolve to a node with the global id of '{data['threadId']}'")
        self.store.resolve_thread(node.thread, self.login, resolved)
        return {"clientMutationId": data.get("clientMutationId"), "thread": Thread(self.store, node.thread)}

    def addSubIssue(self, info, input: dict):
        parent = self._issue_input(input["issueId"])
        child = self._issue_input(input.get("subIssueId") or "") if input.get("subIssueId") else self._by_url(input)
        try:
            self.store.add_sub_issue(parent.issue, child.issue, replace_parent=bool(input.get("replaceParent")))
        except Exception as exc:  # a SandboxError 422: GitHub's UNPROCESSABLE
            message = exc.body["errors"][0]["message"] if hasattr(exc, "body") else str(exc)
            raise GraphQLError(message, extensions={"type": "UNPROCESSABLE"}) from None
        return {
            "clientMutationId": input.get("clientMutationId"),
            "issue": IssueNode(self.store, parent.issue),
            "subIssue": IssueNode(self.store, child.issue),
        }

    def removeSubIssue(self, info, input: dict):
        parent, child = self._issue_input(input["issueId"]), self._issue_input(input["subIssueId"])
        try:
            self.store.remove_sub_issue(parent.issue, child.issue)
        except Exception:
            raise NotFound("Could not resolve to a sub-issue of this issue.") from None
        return {
            "clientMutationId": input.get("clientMutationId"),
            "issue": IssueNode(self.store, parent.issue),
            "subIssue": IssueNode(self.store, child.issue),
        }

    def _issue_input(self, global_id: str) -> IssueNode:
        node = self._node(global_id)
        if not isinstance(node, IssueNode):
            raise NotFound(f"Could not resolve to a node with the global id of '{global_id}'")
        return node

    def _by_url(self, data: dict) -> IssueNode:
        url = str(data.get("subIssueUrl") or "")
        parts = url.rstrip("/").split("/")
        issue = None
        if len(parts) >= 4 and parts[-2] == "issues" and parts[-1].isdigit():
            found = self.store.find_repo(f"{parts[-4]}/{parts[-3]}")
            issue = self.store.issues.get((found.id, int(parts[-1]))) if found else None
        if issue is None or issue.is_pull:
            raise NotFound(f"Could not resolve to an issue with the URL '{url}'")
        return IssueNode(self.store, issue)
