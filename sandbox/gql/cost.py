"""GitHub's GraphQL resource limits, computed before a query runs.

As GitHub documents them ("Rate limits and node limits for the GraphQL API"): every connection
needs `first` or `last` (1-100); a call may ask for at most 500,000 nodes (the sum, over
connections, of `first`/`last` times the nodes of its parent connections); its cost in points is
the number of requests needed to fill every connection (one per parent node) divided by 100 and
rounded, at least 1. A mutation is priced by the same formula (so usually 1 point).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_object_type,
    value_from_ast,
)
from graphql.type import GraphQLInterfaceType, GraphQLObjectType

MAX_NODES = 500_000
MAX_PAGE = 100


class LimitError(Exception):
    """A query GitHub refuses before running it: (type, message, field path)."""

    def __init__(self, kind: str, message: str, path: list[str]) -> None:
        super().__init__(message)
        self.kind, self.message, self.path = kind, message, path


@dataclass
class Cost:
    requests: int = 0
    nodes: int = 0
    paths: list[str] = field(default_factory=list)

    @property
    def points(self) -> int:
        """Requests / 100, rounded half up, at least 1."""
        return max(1, int(self.requests / 100 + 0.5))


def query_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
) -> Cost:
    """The operation's requests and nodes (LimitError for a missing or excessive page size, too many nodes)."""
    root = schema.mutation_type if operation.operation.value == "mutation" else schema.query_type
    cost = Cost()
    _walk(schema, root, operation.selection_set, fragments, variables, 1, cost, [])
    if cost.nodes > MAX_NODES:
        raise LimitError(
            "MAX_NODE_LIMIT_EXCEEDED",
            f"This query requests up to {cost.nodes:,} possible nodes which exceeds the maximum limit of "
            f"{MAX_NODES:,}.",
            [],
        )
    return cost


def _walk(
    schema: GraphQLSchema,
    parent: Any,
    selections: SelectionSetNode | None,
    fragments: dict,
    variables: dict,
    multiplier: int,
    cost: Cost,
    path: list[str],
) -> None:
    if selections is None:
        return
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            _field(schema, parent, selection, fragments, variables, multiplier, cost, path)
        else:
            fragment = (
                selection
                if isinstance(selection, InlineFragmentNode)
                else fragments.get(selection.name.value)
                if isinstance(selection, FragmentSpreadNode)
                else None
            )
            if fragment is None:
                continue
            condition = fragment.type_condition
            target = schema.get_type(condition.name.value) if condition else parent
            _walk(schema, target, fragment.selection_set, fragments, variables, multiplier, cost, path)


def _field(
    schema: GraphQLSchema,
    parent: Any,
    node: FieldNode,
    fragments: dict,
    variables: dict,
    multiplier: int,
    cost: Cost,
    path: list[str],
) -> None:
    if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        return
    definition = parent.fields.get(node.name.value)
    if definition is None:
        return
    here = [*path, (node.alias or node.name).value]
    target = get_named_type(definition.type)
    if target.name.endswith("Connection") and "first" in definition.args:
        size = _page_size(definition, node, variables, here)
        cost.requests += multiplier
        multiplier *= size
        cost.nodes += multiplier
    if is_object_type(target) or isinstance(target, GraphQLInterfaceType) or hasattr(target, "types"):
        _walk(schema, target, node.selection_set, fragments, variables, multiplier, cost, here)


def _page_size(definition: Any, node: FieldNode, variables: dict, path: list[str]) -> int:
    """`first` or `last` of a connection field, checked as GitHub checks them."""
    args = {
        a.name.value: value_from_ast(a.value, definition.args[a.name.value].type, variables)
        for a in node.arguments or ()
        if a.name.value in definition.args
    }
    name = node.name.value
    for key in ("first", "last"):
        value = args.get(key)
        if value is not None and not 1 <= value <= MAX_PAGE:
            raise LimitError(
                "EXCESSIVE_PAGINATION" if value > MAX_PAGE else "INVALID_PAGINATION",
                f"Requesting {value} records on the `{name}` connection exceeds the `{key}` limit of "
                f"{MAX_PAGE} records."
                if value > MAX_PAGE
                else f"`{key}` on the `{name}` connection must be between 1 and 100.",
                path,
            )
    size = args.get("first") or args.get("last")
    if size is None:
        raise LimitError(
            "MISSING_PAGINATION_BOUNDARIES",
            f"You must provide a `first` or `last` value to properly paginate the `{name}` connection.",
            path,
        )
    return max(v for v in (args.get("first"), args.get("last")) if v is not None)
