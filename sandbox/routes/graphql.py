"""POST /graphql: GitHub's GraphQL API over the same state the REST routes serve (`sandbox.gql`)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from sandbox.context import Context, error_response
from sandbox.gql.execute import GRAPHQL_LIMIT, run
from sandbox.state import SandboxError

router = APIRouter()
AUTH_DOCS = "https://docs.github.com/graphql/guides/forming-calls-with-graphql#authenticating-with-graphql"


@router.post("/graphql")
async def graphql(ctx: Context) -> Response:
    faults = ctx.state.faults
    if faults.graphql_missing:
        raise SandboxError(404, "Not Found")
    if ctx.login is None:
        return error_response(401, "This endpoint requires you to be authenticated.", documentation_url=AUTH_DOCS)
    payload = await ctx.body()
    bucket = ctx.state.rate_bucket(f"graphql:{ctx.login.lower()}", GRAPHQL_LIMIT)
    if faults.graphql_errors:
        body: dict = {
            "data": None,
            "errors": [
                {
                    "message": "Something went wrong while executing your query. "
                    "This may be the result of a timeout, or it could be a GitHub bug. "
                    "Please include `0000:0000:0000000:0000000:00000000` when reporting "
                    "this issue."
                }
            ],
        }
    else:
        body = run(ctx.state, ctx.login, bucket, payload).body
    headers = {
        "X-RateLimit-Limit": str(bucket.limit),
        "X-RateLimit-Remaining": str(max(bucket.limit - bucket.used, 0)),
        "X-RateLimit-Reset": str(bucket.reset),
        "X-RateLimit-Used": str(bucket.used),
        "X-RateLimit-Resource": "graphql",
    }
    return ctx.json(body, headers=headers)
