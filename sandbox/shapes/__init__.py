"""GitHub REST JSON shapes for the sandbox's objects (field for field what api.github.com sends).

One module per resource family; `Shapes` puts them together, so a route asks `ctx.shapes.issue(...)`
without knowing where it lives. The families call each other through `self` (an issue embeds
labels, a PR its repository). Keep every shape's keys in GitHub's order: clients and ETags see the bytes.
"""

from sandbox.shapes.accounts import AccountShapes
from sandbox.shapes.apps import AppShapes
from sandbox.shapes.base import DOCS, ShapesBase, ts
from sandbox.shapes.git import GitShapes
from sandbox.shapes.issues import IssueShapes
from sandbox.shapes.pulls import PullShapes
from sandbox.shapes.repos import RepoShapes


class Shapes(AccountShapes, RepoShapes, IssueShapes, PullShapes, GitShapes, AppShapes):
    """Serialises state objects; `api` is the server's base URL, `media` the requested body format."""


__all__ = ["DOCS", "Shapes", "ShapesBase", "ts"]
