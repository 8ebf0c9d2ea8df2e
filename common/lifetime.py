"""Nothing left behind: the Prefect servers a command starts end when the command ends, however it ends.

A command killed with SIGKILL (or SIGTERM, which skips Python's atexit) cannot stop its
children, so the child watches instead: `python -m common.lifetime --parent PID MODULE
ARGS...` runs `python -m MODULE ARGS...` in the same process with a watchdog thread that stops
the process (and its process group, when it leads one) once PID is no longer its parent.
A parent-death signal (prctl) would not do: it fires when the *thread* that started the child
ends, and Prefect starts its temporary server from whichever thread first needs the API.

Flow runs that `orchestrator serve` starts arm the same watchdog themselves (`bind_to_serve`).
Two servers are wrapped: Prefect's temporary server (started by `SubprocessASGIServer`
when no PREFECT_API_URL is set; `bind_prefect_servers()` rewrites its command) and the
`prefect server start` of `orchestrator serve` (deployments/serve.py uses `bound_to_this_process`).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import runpy
import signal
import subprocess
import sys
import threading
import time
from typing import Any

POLL_SECONDS = 0.5
GRACE_SECONDS = 10.0  # for the server's own shutdown (uvicorn, SQLite) before it is cut short
_SERVER_MODULE = "prefect.server.api.server"


def bound_to_this_process(command: list[str]) -> list[str]:
    """`[python, -m, module, args...]` rewritten to end when this process ends."""
    if len(command) < 3 or command[1] != "-m":
        raise ValueError(f"expected [python, -m, module, ...], got {command[:3]!r}")
    return [command[0], "-m", __name__, "--parent", str(os.getpid()), *command[2:]]


def _stop_self() -> None:
    """SIGTERM to this process, or to its whole group when it leads one (serve's server and its children)."""
    leader = os.getpgid(0) == os.getpid()
    sig_target = (lambda sig: os.killpg(0, sig)) if leader else (lambda sig: os.kill(os.getpid(), sig))
    sig_target(signal.SIGTERM)
    time.sleep(GRACE_SECONDS)
    if leader:
        os.killpg(0, signal.SIGKILL)
    os._exit(1)


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    _stop_self()


def watch_parent(parent: int) -> threading.Thread:
    """Start the watchdog (a daemon thread); returns at once."""
    thread = threading.Thread(target=_watch, args=(parent,), name="parent-watchdog", daemon=True)
    thread.start()
    return thread


# `orchestrator serve` runs each scheduled flow in a subprocess of its own; that subprocess ends
# with serve too, through the same watchdog, armed when the flow's code is imported.
SERVE_PID_ENV = "ORCHESTRATOR_SERVE_PID"
_serve_watchdog: list[threading.Thread] = []


def bind_to_serve() -> None:
    """In a flow run started by `orchestrator serve` (its parent): end when serve ends."""
    serve = os.environ.get(SERVE_PID_ENV, "")
    if os.name == "posix" and serve.isdigit() and os.getppid() == int(serve) and not _serve_watchdog:
        _serve_watchdog.append(watch_parent(int(serve)))


def main(argv: list[str]) -> None:
    """`--parent PID MODULE ARGS...`: watch PID, then run MODULE as `python -m` would."""
    if len(argv) < 3 or argv[0] != "--parent" or not argv[1].isdigit():
        raise SystemExit("usage: python -m common.lifetime --parent PID MODULE [ARGS...]")
    parent, module = int(argv[1]), argv[2]
    if os.getppid() != parent:  # the parent died before we got here
        raise SystemExit(1)
    watch_parent(parent)
    sys.argv = [module, *argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


# ── Prefect's temporary server ────────────────────────────────────────────────


class _BoundPopen(subprocess.Popen):  # type: ignore[type-arg]
    """Popen for Prefect's server module: its `python -m uvicorn ...` child is bound to this process."""

    def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
        if isinstance(args, list) and args[1:3] == ["-m", "uvicorn"]:
            args = bound_to_this_process(args)
        super().__init__(args, *rest, **kwargs)


class _SubprocessWithBoundPopen:
    """The `subprocess` module as Prefect's server module sees it: the same, but `Popen` is bound."""

    Popen = _BoundPopen

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)


def _patch(module: Any) -> None:
    if not isinstance(getattr(module, "subprocess", None), _SubprocessWithBoundPopen):
        module.subprocess = _SubprocessWithBoundPopen()


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches Prefect's server module when (if ever) it is imported: importing it costs ~2.5 s,
    which commands that never start a server (`sql`, a dry `execute`) should not pay."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != _SERVER_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader, exec_module = spec.loader, spec.loader.exec_module

        def exec_and_patch(module: Any) -> None:
            exec_module(module)
            _patch(module)

        loader.exec_module = exec_and_patch  # type: ignore[method-assign]
        return spec


def bind_prefect_servers() -> None:
    """Make every temporary Prefect server this process starts end with it (idempotent, cheap)."""
    if os.name != "posix":
        return
    module = sys.modules.get(_SERVER_MODULE)
    if module is not None:
        _patch(module)
    elif not any(isinstance(finder, _PatchOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())


if __name__ == "__main__":
    main(sys.argv[1:])
