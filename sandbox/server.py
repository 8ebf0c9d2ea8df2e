"""Run the GitHub sandbox with uvicorn on 127.0.0.1 in a background thread."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from types import TracebackType

import httpx
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from common.config import register_sandbox, unregister_sandbox
from sandbox.app import create_app
from sandbox.seed import reset_demo
from sandbox.state import DEFAULT_LOGIN, DEFAULT_TOKEN, SandboxState

HOST = "127.0.0.1"


class _NoDelayH11(H11Protocol):
    """h11 with TCP_NODELAY: headers and body go out as separate writes, and without it
    Nagle + delayed ACK add ~40 ms to every keep-alive request."""

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        super().connection_made(transport)


class SandboxServer:
    """A started-on-demand sandbox: `with SandboxServer() as gh: Github(base_url=gh.url, ...)`."""

    def __init__(
        self,
        port: int = 0,
        seed: int = 7,
        demo: bool = True,
        now: datetime | None = None,
        accepted_tokens: Iterable[str] = (DEFAULT_TOKEN,),
        rate_limit: int = 5000,
        state: SandboxState | None = None,
        agents: bool = False,
    ) -> None:
        self.state = state or SandboxState(accepted_tokens=accepted_tokens, rate_limit=rate_limit)
        if state is None:
            reset_demo(self.state, seed=seed, demo=demo, now=now, agents=agents)
        self.port = port
        self.token = next(iter(self.state.accepted_tokens), DEFAULT_TOKEN)
        self.app = create_app(self.state)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        """Base URL to give PyGithub as base_url."""
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 15.0) -> SandboxServer:
        """Listen on 127.0.0.1 (port 0 = a free one) and wait until the server answers."""
        if self._thread and self._thread.is_alive():
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, self.port))
        self.port = sock.getsockname()[1]
        self._socket = sock
        config = uvicorn.Config(
            self.app,
            http=_NoDelayH11,
            log_level="warning",
            lifespan="off",
            access_log=False,
            date_header=False,  # the app sends the sandbox clock's Date (see Faults.clock_offset_seconds)
            timeout_graceful_shutdown=1,
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self.state.stopped = False
        self.state.on_stop = self._kill
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=f"github-sandbox-{self.port}", daemon=True
        )
        self._thread.start()
        self._wait_ready(timeout)
        register_sandbox(self.url)  # this process started it: a missing token means the sandbox's
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._server and self._server.started:
                try:
                    httpx.get(f"{self.url}/_sandbox/faults", timeout=1.0)
                    return
                except httpx.HTTPError:
                    pass
            if self._thread and not self._thread.is_alive():
                break
            time.sleep(0.02)
        raise RuntimeError(f"GitHub sandbox did not start on {self.url}")

    def _kill(self) -> None:
        """Stop as a dying server does: close the listener and drop every open connection at once.

        Runs inside the server's event loop (called from the request that hit stop_after).
        """
        server = self._server
        if server is None:
            return
        server.should_exit = True
        server.force_exit = True
        for listener in getattr(server, "servers", []):
            listener.close()
        if self._socket is not None:
            self._socket.close()
        for connection in list(server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server and wait for its thread."""
        unregister_sandbox(self.url)
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._thread = None
        self._server = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def run_forever(
    port: int = 8765,
    seed: int = 7,
    demo: bool = True,
    state: SandboxState | None = None,
    app_key: str | None = None,
    app_token_seconds: int | None = None,
    write_limits: list[list[float]] | None = None,
    agents: bool = True,
) -> None:
    """Serve the sandbox until Ctrl-C, printing the URL and token to use (for `orchestrator sandbox`).

    With `state` (e.g. `sandbox.persist.load_state`) it answers from that state instead of a fresh seed.
    With `app_key` it also creates a GitHub App installed on the demo organisation and writes its
    private key there; `app_token_seconds` is how long its installation tokens live. `write_limits`
    ([[count, window_seconds], ...]) enforces content-creation limits (sandbox/write_limits.py).
    """
    server = SandboxServer(port=port, seed=seed, demo=demo, state=state, agents=agents)
    if app_token_seconds is not None:
        server.state.installation_token_seconds = app_token_seconds
    app_lines = _create_app(server.state, app_key) if app_key else []
    if write_limits:
        server.state.set_faults(write_limits=write_limits)
        app_lines.append("  limits: " + ", ".join(f"{c:g} writes in {w:g} s" for c, w in write_limits))
    server.start()
    print(f"GitHub sandbox listening on {server.url}", flush=True)
    print(f"  token: {server.token}   (Authorization: token {server.token})")
    print(f"  orchestrator: api_url = \"{server.url}\" (no token needed: the CLI asks /_sandbox/identity)")
    for line in app_lines:
        print(line)
    print(f"  try:   curl -H 'Authorization: token {server.token}' {server.url}/orgs/dappcore/repos")
    print("  admin: GET /_sandbox/requests, POST /_sandbox/faults, POST /_sandbox/reset   (Ctrl-C to stop)")
    sys.stdout.flush()
    try:
        while server._thread is not None and server._thread.is_alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _create_app(state: SandboxState, key_path: str) -> list[str]:
    """A GitHub App installed on the first organisation; its key written to `key_path`; lines to print."""
    from sandbox.apps import free_slug, write_private_key

    org = next(iter(state.orgs.values())).login if state.orgs else DEFAULT_LOGIN
    app, installed, private = state.add_app(free_slug(state, "orchestrator"), org)
    path = write_private_key(private, key_path)
    lifetime = state.installation_token_seconds
    return [
        f"  app:   id {app.id}, {app.bot_login}, installed on {org} (installation id {installed[0].id}); "
        f"installation tokens live {lifetime} s",
        f"  key:   {path} (mode 0600; the sandbox keeps only the public key)",
        f"  orchestrator: [github] app_id = {app.id}, app_private_key_path = \"{path}\", "
        f"installation_id = {installed[0].id}",
    ]
