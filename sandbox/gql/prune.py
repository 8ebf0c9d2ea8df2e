"""Cut GitHub's published GraphQL schema down to what the sandbox serves (run by hand, output committed).

    python -m sandbox.gql.prune .cache/graphql/schema.graphql > sandbox/gql/schema.graphql

The input is `schema.graphql` of the npm package `@octokit/graphql-schema` (what `make test` fetches
into `.cache/graphql/`). `KEEP` names the types, fields and arguments the sandbox answers; the
output keeps their definitions word for word (descriptions, defaults, deprecations), plus what they
need: connection, edge and PageInfo types, enums and input types whole, scalars, the `Node` and
`Actor` interfaces (limited to kept fields) and the `StatusCheckRollupContext` union. Nothing here
runs at serve time: the sandbox reads the committed output, so it never needs npm.
"""

from __future__ import annotations

import sys

from graphql import parse, print_ast
from graphql.language import (
    DirectiveDefinitionNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    InputObjectTypeDefinitionNode,
    InterfaceTypeDefinitionNode,
    ListTypeNode,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    ScalarTypeDefinitionNode,
    SchemaDefinitionNode,
    TypeNode,
    UnionTypeDefinitionNode,
)

PAGING = ["first", "last", "after", "before"]
# type -> {field: [arguments kept]}; required arguments are always kept.
KEEP: dict[str, dict[str, list[str]]] = {
    "Query": {
        "repository": ["owner", "name", "followRenames"],
        "node": ["id"],
        "nodes": ["ids"],
        "rateLimit": ["dryRun"],
        "viewer": [],
    },
    "Mutation": {
        "resolveReviewThread": ["input"],
        "unresolveReviewThread": ["input"],
        "addSubIssue": ["input"],
        "removeSubIssue": ["input"],
    },
    "Node": {"id": []},
    "Actor": {"login": []},
    "User": {"id": [], "login": [], "databaseId": []},
    "Bot": {"id": [], "login": [], "databaseId": []},
    "Organization": {"id": [], "login": [], "databaseId": []},
    "RateLimit": {"cost": [], "limit": [], "nodeCount": [], "remaining": [], "resetAt": [], "used": []},
    "Repository": {
        "id": [],
        "databaseId": [],
        "name": [],
        "nameWithOwner": [],
        "owner": [],
        "pullRequests": [*PAGING, "states", "orderBy", "baseRefName", "headRefName", "labels"],
        "issues": [*PAGING, "states", "orderBy", "labels"],
        "issue": ["number"],
        "pullRequest": ["number"],
    },
    "RepositoryOwner": {"id": [], "login": []},
    "Issue": {
        "id": [],
        "databaseId": [],
        "number": [],
        "title": [],
        "state": [],
        "stateReason": [],
        "url": [],
        "createdAt": [],
        "updatedAt": [],
        "closedAt": [],
        "author": [],
        "repository": [],
        "subIssues": PAGING,
        "parent": [],
        "subIssuesSummary": [],
    },
    "SubIssuesSummary": {"total": [], "completed": [], "percentCompleted": []},
    "PullRequest": {
        "id": [],
        "databaseId": [],
        "number": [],
        "title": [],
        "state": [],
        "url": [],
        "createdAt": [],
        "updatedAt": [],
        "closedAt": [],
        "mergedAt": [],
        "isDraft": [],
        "mergeable": [],
        "mergeStateStatus": [],
        "reviewDecision": [],
        "latestReviews": PAGING,
        "reviews": [*PAGING, "states", "author"],
        "reviewThreads": PAGING,
        "commits": PAGING,
        "headRefName": [],
        "headRefOid": [],
        "baseRefName": [],
        "baseRefOid": [],
        "author": [],
        "repository": [],
        "additions": [],
        "deletions": [],
        "changedFiles": [],
    },
    "PullRequestReview": {
        "id": [],
        "databaseId": [],
        "author": [],
        "state": [],
        "submittedAt": [],
        "body": [],
        "commit": [],
    },
    "PullRequestReviewThread": {
        "id": [],
        "isResolved": [],
        "isOutdated": [],
        "path": [],
        "comments": PAGING,
        "pullRequest": [],
        "repository": [],
        "resolvedBy": [],
        "viewerCanResolve": [],
    },
    "PullRequestReviewComment": {
        "id": [],
        "databaseId": [],
        "author": [],
        "body": [],
        "path": [],
        "createdAt": [],
        "outdated": [],
        "pullRequest": [],
    },
    "PullRequestCommit": {"id": [], "commit": []},
    "Commit": {"id": [], "oid": [], "statusCheckRollup": []},
    "StatusCheckRollup": {"id": [], "state": [], "contexts": PAGING},
    "CheckRun": {"id": [], "databaseId": [], "name": [], "status": [], "conclusion": []},
    "StatusContext": {"id": [], "context": [], "state": [], "description": []},
    "ResolveReviewThreadPayload": {"clientMutationId": [], "thread": []},
    "UnresolveReviewThreadPayload": {"clientMutationId": [], "thread": []},
    "AddSubIssuePayload": {"clientMutationId": [], "issue": [], "subIssue": []},
    "RemoveSubIssuePayload": {"clientMutationId": [], "issue": [], "subIssue": []},
    "PageInfo": {"endCursor": [], "hasNextPage": [], "hasPreviousPage": [], "startCursor": []},
}
CONNECTION_FIELDS = {"edges": [], "nodes": [], "pageInfo": [], "totalCount": []}
EDGE_FIELDS = {"cursor": [], "node": []}


def named(type_node: TypeNode) -> str:
    """The named type under list and non-null wrappers."""
    while isinstance(type_node, NonNullTypeNode | ListTypeNode):
        type_node = type_node.type
    return type_node.name.value  # type: ignore[attr-defined]


def first_definitions(document: DocumentNode) -> dict[str, object]:
    """Type definitions by name (the published SDL repeats a few fields; the first one counts)."""
    found: dict[str, object] = {}
    for definition in document.definitions:
        name = getattr(getattr(definition, "name", None), "value", None)
        if name and name not in found:
            found[name] = definition
    return found


def kept_fields(name: str) -> dict[str, list[str]] | None:
    """The fields kept of a composite type (None: keep it whole, for enums, inputs and scalars)."""
    if name in KEEP:
        return KEEP[name]
    if name.endswith("Connection"):
        return CONNECTION_FIELDS
    if name.endswith("Edge"):
        return EDGE_FIELDS
    return None


def prune(document: DocumentNode) -> DocumentNode:
    """The document with only the kept types, fields and arguments (and what they reference)."""
    defs = first_definitions(document)
    out: dict[str, object] = {}
    todo = ["Query", "Mutation", "Bot", "Organization"]  # the last two implement Actor (authors)
    while todo:
        name = todo.pop()
        if name in out or name not in defs:
            continue
        out[name] = _pruned(defs[name], kept_fields(name), todo)
    others = [d for d in document.definitions if isinstance(d, SchemaDefinitionNode | DirectiveDefinitionNode)]
    return DocumentNode(definitions=tuple([*others, *(out[name] for name in sorted(out))]))


def _pruned(definition: object, fields: dict[str, list[str]] | None, todo: list[str]) -> object:
    """One definition cut to `fields`, queueing the types it references."""
    if isinstance(definition, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode):
        assert fields is not None, f"{definition.name.value} is not in KEEP"
        kept = []
        seen: set[str] = set()
        for field in definition.fields:
            if field.name.value not in fields or field.name.value in seen:
                continue
            seen.add(field.name.value)
            wanted = fields[field.name.value]
            args = [a for a in field.arguments or () if a.name.value in wanted or isinstance(a.type, NonNullTypeNode)]
            todo += [named(field.type), *(named(a.type) for a in args)]
            kept.append(field.__class__(**{**_attrs(field), "arguments": tuple(args)}))
        interfaces = [
            i for i in definition.interfaces or () if set(kept_fields(i.name.value) or [None]) <= fields.keys()
        ]
        todo += [i.name.value for i in interfaces]
        return definition.__class__(**{**_attrs(definition), "fields": tuple(kept), "interfaces": tuple(interfaces)})
    if isinstance(definition, UnionTypeDefinitionNode):
        members = [t for t in definition.types or () if t.name.value in KEEP]
        todo += [t.name.value for t in members]
        return definition.__class__(**{**_attrs(definition), "types": tuple(members)})
    if isinstance(definition, InputObjectTypeDefinitionNode):
        todo += [named(f.type) for f in definition.fields or ()]
        return definition
    assert isinstance(definition, EnumTypeDefinitionNode | ScalarTypeDefinitionNode), definition
    return definition


def _attrs(node: object) -> dict:
    return {key: getattr(node, key) for key in node.keys if key != "loc"}  # type: ignore[attr-defined]


def main(path: str) -> None:
    """Print the pruned SDL of the schema file at `path`."""
    with open(path, encoding="utf-8") as handle:
        document = parse(handle.read(), no_location=True)
    header = f"# Pruned by sandbox/gql/prune.py from {path.rsplit('/', 1)[-1]} (@octokit/graphql-schema).\n"
    sys.stdout.write(header + print_ast(prune(document)) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
