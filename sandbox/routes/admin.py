"""/_sandbox/*: the request log, fault injection and reset (not GitHub's API; no auth, no rate limit)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox.context import JSONResponse, State, error_response
from sandbox.seed import reset_demo

router = APIRouter()


@router.get("/_sandbox/identity")
async def identity(state: State) -> Response:
    """What a client asks before it uses the sandbox's token: GitHub has no `/_sandbox/` path at all."""
    with state.lock:
        return JSONResponse({"sandbox": "github", "orgs": sorted(org.login for org in state.orgs.values())})


@router.get("/_sandbox/requests")
async def requests_log(request: Request, state: State) -> Response:
    method = request.query_params.get("method")
    with state.lock:
        log = [r for r in state.request_log if not method or r["method"] == method.upper()]
    if request.query_params.get("writes") in ("1", "true"):
        log = [r for r in log if r["method"] not in ("GET", "HEAD", "OPTIONS")]
    return JSONResponse(log)


@router.delete("/_sandbox/requests")
async def clear_log(state: State) -> Response:
    with state.lock:
        state.request_log.clear()
    return Response(status_code=204)


@router.get("/_sandbox/faults")
async def get_faults(state: State) -> Response:
    return JSONResponse(asdict(state.faults))


@router.post("/_sandbox/faults")
async def set_faults(request: Request, state: State) -> Response:
    body = json.loads(await request.body() or b"{}")
    try:
        faults = state.set_faults(**body)
    except (ValueError, TypeError) as exc:
        return error_response(422, str(exc))
    return JSONResponse(asdict(faults))


@router.post("/_sandbox/reset")
async def reset(request: Request, state: State) -> Response:
    body = json.loads(await request.body() or b"{}")
    now = datetime.fromisoformat(body["now"].replace("Z", "+00:00")) if body.get("now") else None
    reset_demo(state, seed=int(body.get("seed", 7)), demo=bool(body.get("demo", True)), now=now)
    return JSONResponse({"ok": True, "repos": len(state.repos)})
