"""Nothing left behind: a command killed outright (SIGKILL, a cron timeout's SIGTERM) leaves no process.

Prefect's temporary server (~190 MB) and serve's `prefect server start` watch their parent and end
with it (common/lifetime.py). Processes are found through /proc (Linux), by parent pid.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write_config

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


# ── processes, through /proc ──────────────────────────────────────────────────


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name (in parentheses) may hold spaces
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")  # a zombie has ended, it is only not reaped


def descendants(pid: int) -> set[int]:
    """Every living process below `pid`."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[0] not in ("Z", "X"):
            children.setdefault(stat[1], []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def wait_all_gone(pids: set[int], seconds: float = 25.0) -> tuple[set[int], float]:
    """The pids still alive after up to `seconds`, and how long it took."""
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        left = {pid for pid in pids if alive(pid)}
        if not left:
            return set(), time.monotonic() - began
        time.sleep(0.2)
    return {pid for pid in pids if alive(pid)}, time.monotonic() - began


def end(pids: set[int]) -> None:
    """Clean up after a failed test: only processes this test started (by pid)."""
    for pid in pids:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)  # no server configured: the command starts Prefect's temporary one
    env.update(
        GITHUB_TOKEN="sandbox-token",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


# ── the mechanism alone (no Prefect: seconds) ─────────────────────────────────

# The bound child: in "group", it leads its own process group and starts a process of its own there
# (as `prefect server start` may), which knows nothing of the watchdog.
CHILD = """
import subprocess, sys, time
if sys.argv[1] == "group":
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
time.sleep(120)
"""

PARENT = """
import subprocess, sys, time
from common.lifetime import bound_to_this_process
command = bound_to_this_process([sys.executable, "-m", "bound_child", sys.argv[1]])
child = subprocess.Popen(command, start_new_session=sys.argv[1] == "group")
print(child.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("layout", ["child", "group"])
def test_a_bound_child_ends_when_its_parent_is_killed(tmp_path, layout):
    (tmp_path / "bound_child.py").write_text(CHILD)
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, layout], cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, text=True
    )
    child = int(parent.stdout.readline())
    family: set[int] = set()
    try:
        deadline = time.monotonic() + 30
        while len(family := descendants(parent.pid)) < (2 if layout == "group" else 1):
            assert time.monotonic() < deadline, "the bound child did not start"
            time.sleep(0.1)
        assert "-m common.lifetime --parent" in command_line(child)
        time.sleep(1.0)  # the watchdog is running, and the parent is alive: nothing ends
        assert all(alive(pid) for pid in family)
        parent.kill()
        parent.wait()
        left, took = wait_all_gone(family, seconds=10)
        assert not left, f"left behind: {[command_line(pid) for pid in left]}"
        print(f"\n{layout}: everything gone {took:.1f} s after the parent was killed")
    finally:
        end(family | {parent.pid})


def test_prefect_s_temporary_server_command_is_bound_and_nothing_else_is():
    import prefect.server.api.server as prefect_server

    from common.lifetime import _BoundPopen, bind_prefect_servers

    bind_prefect_servers()  # idempotent; importing flows already did it
    assert prefect_server.subprocess.Popen is _BoundPopen
    assert prefect_server.subprocess.TimeoutExpired is subprocess.TimeoutExpired  # the rest is untouched
    other = _BoundPopen([sys.executable, "-c", "import sys; print(sys.argv)"], stdout=subprocess.PIPE, text=True)
    assert "common.lifetime" not in other.communicate()[0]


# ── real commands ─────────────────────────────────────────────────────────────


def wait_for_flow(process: subprocess.Popen, sandbox, log: Path, seconds: float = 240) -> set[int]:
    """Wait until the command's flow is talking to GitHub (so its Prefect server is up); its processes."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the command ended early:\n{log.read_text()[-3000:]}"
        started = any(r["path"] != "/rate_limit" for r in list(sandbox.state.request_log))
        if started and (family := descendants(process.pid)):
            return family
        time.sleep(0.2)
    raise AssertionError(f"the flow did not start within {seconds:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_snapshot_leaves_no_process_behind(sandbox, tmp_path, sig):
    config = write_config(tmp_path, sandbox.url, tmp_path / "orchestrator.duckdb")
    sandbox.state.set_faults(latency_ms=300)  # a snapshot of many seconds: killed mid-flow
    sandbox.state.request_log.clear()
    log = tmp_path / "snapshot.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cli", "--config", str(config), "snapshot"],
            cwd=tmp_path, env=cli_env(), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    family: set[int] = set()
    try:
        family = wait_for_flow(process, sandbox, log)
        servers = [pid for pid in family if "prefect.server.api.server:create_app" in command_line(pid)]
        assert servers, [command_line(pid) for pid in family]
        assert all("-m common.lifetime --parent" in command_line(pid) for pid in servers)
        process.send_signal(sig)
        process.wait(timeout=30)
        left, took = wait_all_gone(family)
        assert not left, f"left behind: {[command_line(pid) for pid in left]}"
        print(f"\n{sig.name}: {len(family)} processes gone {took:.1f} s after the command ended")
    finally:
        sandbox.state.set_faults()
        end(family | {process.pid})


def test_a_killed_serve_leaves_neither_its_server_nor_its_flow_runs(sandbox, tmp_path):
    schedule = (
        "[schedule]\nsnapshot = { interval = 15 }\nmorning = { enabled = false }\n"
        "midday = { enabled = false }\nevening = { enabled = false }\n"
    )
    config = write_config(tmp_path, sandbox.url, tmp_path / "orchestrator.duckdb", extra=schedule)
    sandbox.state.set_faults(latency_ms=300)  # the served snapshot runs for many seconds
    sandbox.state.request_log.clear()
    env = cli_env(PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_RUNNER_POLL_FREQUENCY="2")
    env.pop("PREFECT_PROFILES_PATH", None)
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cli", "--config", str(config), "serve", "--port", "0"],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    family: set[int] = set()
    try:
        family = wait_for_flow(process, sandbox, log, seconds=300)
        time.sleep(1.0)  # the flow-run process has imported the flows (and armed its watchdog)
        family = descendants(process.pid)
        server = int(re.search(r"Prefect server \(pid (\d+)\)", log.read_text()).group(1))
        assert server in family
        assert len(family) >= 2, [command_line(pid) for pid in family]  # the server and the flow run
        process.kill()
        process.wait(timeout=30)
        left, took = wait_all_gone(family)
        assert not left, f"left behind: {[command_line(pid) for pid in left]}"
        print(f"\nserve SIGKILL: {len(family)} processes gone {took:.1f} s after serve")
    finally:
        sandbox.state.set_faults()
        end(family | {process.pid})
