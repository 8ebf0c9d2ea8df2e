"""Agent back-ends, the I/O part: dispatch an issue to an agent, tell whether it is with it, undo.

The back-end (`common.agents`) describes the requests and how to read an issue; this module
sends them over the live client, idempotently: a dispatch first looks whether the issue is
already with the agent (an earlier, possibly killed run), and a POST answered with a 5xx is
repeated only after that look (`guarded`).
"""

from __future__ import annotations

from typing import Any

from common.agents import Agent, agent_from_payload
from common.config import Settings
from tasks.github_client import GitHubError
from tasks.live import Live, guarded


def agent_for(payload: dict[str, Any], settings: Settings) -> Agent:
    """The back-end a dispatch action names, with the configured agent of that name (else the
    first configured one) filling what it lacks."""
    return agent_from_payload(payload, settings.agent_named(payload.get("agent")) or settings.agent.backend())


def dispatch(live: Live, agent: Agent, repo: str, number: int | str) -> None:
    """Hand #number to the agent, unless it already has it."""
    request = agent.dispatch_request(repo, int(number))
    guarded(
        lambda: agent.holds(live.issue(repo, number)),
        lambda: live.client.request(request.method, request.path, body=request.body),
    )


def dispatched(live: Live, agent: Agent, repo: str, number: int | str) -> bool | None:
    """Whether #number is with the agent on live GitHub; None when GitHub cannot say."""
    try:
        item = live.issue(repo, number)
    except Exception:  # noqa: BLE001 - unreachable or refused: we cannot tell
        return None
    return agent.holds(item)


def undo(live: Live, agent: Agent, repo: str, number: int | str) -> None:
    """Take #number back from the agent (nothing to do when it does not have it)."""
    if not agent.holds(live.issue(repo, number)):
        return
    request = agent.undo_request(repo, int(number))
    try:
        live.client.request(request.method, request.path, body=request.body)
    except GitHubError as exc:
        if exc.status != 404:  # already gone: undone meanwhile
            raise
