"""A GitHub sandbox at a loopback `api_url` (the demo's configuration): its token, or how to start it.

The token rule (README "Configuration") stands: a missing token is an error, except against a sandbox.
A sandbox is recognised only on a loopback address *and* by its `GET /_sandbox/identity` answer, a
path GitHub does not have; the token it then gets is the sandbox's public one, never a secret.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from urllib.parse import urlparse

import httpx

from common.config import DEFAULT_CONFIG, ConfigError, Settings, is_own_sandbox, register_sandbox

STATE_SUFFIX = ".sandbox.json"  # `orchestrator-demo.toml` -> `orchestrator-demo.sandbox.json`


class SandboxNotRunning(ConfigError):
    """Nothing answers at a loopback api_url; the message says how to start the sandbox (one line, exit 2)."""


def is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def state_file_for(config: str | None) -> Path:
    """The sandbox state saved next to a configuration file (as `orchestrator demo` leaves them)."""
    path = Path(config or os.environ.get("ORCHESTRATOR_CONFIG") or DEFAULT_CONFIG)
    return path.with_name(path.stem + STATE_SUFFIX)


def not_running(settings: Settings, config: str | None) -> str:
    """One line: nothing listens at the loopback api_url, and the command that starts the sandbox there."""
    url = settings.github.api_url
    port = urlparse(url).port or 80
    state = state_file_for(config)
    if state.exists():  # a configuration `orchestrator demo` left: its sandbox is what is missing
        return (
            f"cannot reach the GitHub API: the GitHub sandbox is not running at {url}; start it with "
            f"`orchestrator sandbox --state {state} --port {port}` in another terminal"
        )
    return (
        f"cannot reach the GitHub API at {url}: nothing listens there (for the GitHub sandbox: "
        f"`orchestrator sandbox --port {port}`)"
    )


def connect_sandbox(settings: Settings, config: str | None) -> None:
    """Before a command talks to GitHub: on a loopback api_url, the sandbox must answer there.

    Raises SandboxNotRunning when nothing listens; lets a sandbox that answers stand in for the
    token when none is set. Any other api_url (GitHub, GHES) is not asked anything.
    """
    url = settings.github.api_url
    if not is_loopback(url) or is_own_sandbox(url):
        return
    try:  # straight to the address: no proxy from the environment, no token
        answer = httpx.get(f"{url}/_sandbox/identity", timeout=5.0, trust_env=False)
    except httpx.ConnectError:
        raise SandboxNotRunning(not_running(settings, config)) from None
    except httpx.HTTPError:
        return  # something answers, slowly or oddly: the command's own requests say what
    token_set = settings.github.token_block or os.environ.get(settings.github.token_env, "").strip()
    if answer.status_code == 200 and not token_set and _is_sandbox(answer):
        register_sandbox(url)  # a missing token now means the sandbox's, for this URL only


def _is_sandbox(answer: httpx.Response) -> bool:
    try:
        return answer.json().get("sandbox") == "github"
    except (ValueError, AttributeError):
        return False
