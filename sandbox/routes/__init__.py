"""The sandbox's routes, one `APIRouter` per resource, in the order `create_app` includes them.

Order matters where paths overlap: within a router a literal path (`/issues/comments`) comes
before the parameter it would otherwise match (`/issues/{number}`), as FastAPI tries routes in order.
"""

from sandbox.routes import admin, apps, git, graphql, issues, links, meta, pulls

ROUTERS = (
    admin.router,
    apps.router,
    meta.router,
    issues.router,
    links.router,
    pulls.router,
    git.router,
    graphql.router,
)

__all__ = ["ROUTERS"]
