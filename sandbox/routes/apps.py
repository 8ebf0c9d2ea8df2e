"""GitHub Apps: GET /app, the installations and installation tokens (all with the App's JWT)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from sandbox.apps import App
from sandbox.context import Context, Ctx
from sandbox.state import SandboxError

router = APIRouter()


def _app(ctx: Ctx) -> App:
    """The App whose JWT authenticated this request (GitHub: 401 for anything else)."""
    app_id = getattr(ctx.request.state, "app_id", None)
    if app_id is None or app_id not in ctx.state.apps:
        raise SandboxError(401, "A JSON web token could not be decoded")
    return ctx.state.apps[app_id]


@router.get("/app")
async def the_app(ctx: Context) -> Response:
    with ctx.state.lock:
        return ctx.json(ctx.shapes.integration(_app(ctx)))


@router.get("/app/installations")
async def installations(ctx: Context) -> Response:
    with ctx.state.lock:
        app = _app(ctx)
        items = [i for i in ctx.state.installations.values() if i.app_id == app.id]
        return ctx.page(sorted(items, key=lambda i: i.id), ctx.shapes.installation)


@router.get("/app/installations/{installation_id}")
async def installation(installation_id: int, ctx: Context) -> Response:
    with ctx.state.lock:
        inst = ctx.state.installations.get(installation_id)
        if inst is None or inst.app_id != _app(ctx).id:
            raise SandboxError(404, "Not Found")
        return ctx.json(ctx.shapes.installation(inst))


@router.post("/app/installations/{installation_id}/access_tokens")
async def access_token(installation_id: int, ctx: Context) -> Response:
    body = await ctx.body()
    asked = body.get("permissions") if isinstance(body, dict) else None
    asked = asked if isinstance(asked, dict) else None
    with ctx.state.lock:
        minted = ctx.state.mint_installation_token(_app(ctx).id, installation_id, asked)
        return ctx.json(ctx.shapes.installation_token(minted), status=201)


@router.get("/orgs/{org}/installation")
async def org_installation(org: str, ctx: Context) -> Response:
    with ctx.state.lock:
        if org.lower() not in ctx.state.orgs:
            raise SandboxError(404, "Not Found")
        return ctx.json(ctx.shapes.installation(ctx.state.installation_for(_app(ctx).id, org)))


@router.get("/users/{login}/installation")
async def user_installation(login: str, ctx: Context) -> Response:
    with ctx.state.lock:
        return ctx.json(ctx.shapes.installation(ctx.state.installation_for(_app(ctx).id, login)))


@router.get("/repos/{owner}/{name}/installation")
async def repo_installation(owner: str, name: str, ctx: Context) -> Response:
    with ctx.state.lock:
        app = _app(ctx)
        repo = ctx.state.repo(f"{owner}/{name}")  # 404 for a repository that does not exist
        return ctx.json(ctx.shapes.installation(ctx.state.installation_for(app.id, repo.owner)))
