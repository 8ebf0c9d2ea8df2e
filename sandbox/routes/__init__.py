"""The sandbox's routes, one `APIRouter` per resource, in the order `create_app` includes them.

Order matters where paths overlap: within a router a literal path (`/issues/comments`) comes
before the parameter it would otherwise match (`/issues/{number}`), as FastAPI tries routes in order.
"""

from sandbox.routes import admin, apps, git, issues, meta, pulls

ROUTERS = (admin.router, apps.router, meta.router, issues.router, pulls.router, git.router)

__all__ = ["ROUTERS"]
