"""Every schedule in one long-running process: the embedded default for one machine.

`build_deployments()` turns the flows and the `[schedule]` table into Prefect deployments;
`LocalPrefectServer` starts `prefect server start` (SQLite, analytics off) when no
`PREFECT_API_URL` is set, because Prefect's temporary server never runs the scheduler;
`serve_all()` ties them together and always stops the server it started (signals, atexit); a
serve killed outright takes its server along too (`common.lifetime`).
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deployments.schedules import ScheduleSettings, load_schedule, read_config_table

QUIET_PREFECT_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_UI_ENABLED": "true",
}
DEFAULT_PORT = 4200
STARTUP_TIMEOUT = 180.0  # a fresh PREFECT_HOME migrates its SQLite database first (~22 s on 2 cores)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


class ServerStartError(RuntimeError):
    """The local Prefect server did not become healthy."""


class LocalPrefectServer:
    """`prefect server start` as a child process, healthy before use and stopped on exit.

    port: None = 4200 when free, else any free port; 0 = any free port.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
        log_path: Path | None = None,
    ) -> None:
        self.host = host
        if port is None:
            port = DEFAULT_PORT if port_is_free(DEFAULT_PORT, host) else 0
        self.port = port or free_port(host)
        self.startup_timeout = startup_timeout
        self.log_path = log_path or Path(tempfile.gettempdir()) / f"orchestrator-prefect-server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.ui_url}/api"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(QUIET_PREFECT_ENV)
        env.pop("PREFECT_API_URL", None)  # the server must not talk to another server
        if env.get("PREFECT_LOGGING_LEVEL", "CRITICAL") == "CRITICAL":  # the CLI's quiet default
            env["PREFECT_LOGGING_LEVEL"] = "WARNING"  # the server's warnings go to its log file
        env["PREFECT_UI_API_URL"] = self.api_url
        return env

    def start(self) -> LocalPrefectServer:
        from common.lifetime import bound_to_this_process

        # Bound to this process: a serve killed with SIGKILL or SIGTERM takes its server (and group) along.
        command = bound_to_this_process(
            [sys.executable, "-m", "prefect", "server", "start", "--host", self.host, "--port", str(self.port)]
            + ["--analytics-off", "--scheduler"]
        )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter's prefect
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.environment(),
            start_new_session=True,  # its own process group: stop() ends it and its children together
        )
        atexit.register(self.stop)
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServerStartError(
                    f"prefect server exited with code {self.process.returncode} (log: {self.log_path})"
                )
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError, TimeoutError):
                pass
            time.sleep(0.5)
        raise ServerStartError(
            f"prefect server not healthy after {self.startup_timeout:.0f} s on {self.api_url} (log: {self.log_path})"
        )

    def stop(self, grace: float = 20.0) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if process is not None:
            try:  # whatever the server left in its group (uvicorn, services)
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalPrefectServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def effective_config(config_path: str | None, db: str | None, folder: Path) -> str:
    """The configuration file the served flows load (absolute path).

    The user's file as is, unless `--db` overrides the database: then a copy with that
    path, in `folder`.
    """
    path, data = read_config_table(config_path)
    if not db:
        return str(path.resolve())
    if db:
        data.setdefault("database", {})["path"] = str(Path(db).resolve())
    elif "database" in data and "path" in data["database"]:
        data["database"]["path"] = str(Path(data["database"]["path"]).resolve())
    copy = folder / "orchestrator.toml"
    copy.write_text(_dump_toml(data), encoding="utf-8")
    tomllib.loads(copy.read_text(encoding="utf-8"))  # what we wrote reads back
    return str(copy)


def _dump_toml(data: dict[str, Any], prefix: str = "") -> str:
    """A small TOML writer for configuration documents (tables, arrays of tables, scalars, lists)."""
    import json

    def scalar(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, str):
            return json.dumps(value)
        if isinstance(value, list):
            return "[" + ", ".join(scalar(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {scalar(v)}" for k, v in value.items()) + "}"
        return json.dumps(str(value))

    lines: list[str] = []
    tables: list[str] = []
    for key, value in data.items():
        name = f"{prefix}.{json.dumps(key)}" if prefix else json.dumps(key)
        if isinstance(value, dict):
            tables.append(f"\n[{name}]\n" + _dump_toml(value, name))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                tables.append(f"\n[[{name}]]\n" + _dump_toml(item, name))
        else:
            lines.append(f"{json.dumps(key)} = {scalar(value)}")
    return "\n".join(lines) + "\n" + "".join(tables)


def build_deployments(config_path: str | None, schedule: ScheduleSettings) -> list[Any]:
    """snapshot, morning, midday, evening (scheduled) and report (by hand), as runner deployments."""
    from prefect.deployments.runner import EntrypointType

    from flows.cadence import evening_flow, midday_flow, morning_flow
    from flows.report import report_flow
    from flows.snapshot import snapshot_flow

    parameters = {"config_path": config_path}
    flows = {"snapshot": snapshot_flow, "morning": morning_flow, "midday": midday_flow, "evening": evening_flow}
    deployments = [
        flow.to_deployment(
            name,
            parameters=parameters,
            description=f"{flow.description or name} Schedule: {schedule.describe(name)}.",
            tags=["issue-orchestrator"],
            entrypoint_type=EntrypointType.MODULE_PATH,  # works from any directory the package imports in
            **schedule.for_deployment(name),
        )
        for name, flow in flows.items()
    ]
    deployments.append(
        report_flow.to_deployment(
            "report",
            parameters=parameters,
            description="The HTML report and artifacts, by hand (the cadence flows run it too).",
            tags=["issue-orchestrator"],
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
    )
    return deployments


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def serve_all(
    config_path: str | None = None,
    db: str | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    startup_timeout: float = STARTUP_TIMEOUT,
    say: Callable[[str], None] = print,
) -> None:
    """Serve every deployment until interrupted; start (and stop) a local Prefect server if needed."""
    from prefect import serve
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from common.config import load_settings
    from common.lifetime import SERVE_PID_ENV

    schedule = load_schedule(config_path)
    server: LocalPrefectServer | None = None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    with tempfile.TemporaryDirectory(prefix="orchestrator-serve-") as folder:
        served_config = effective_config(config_path, db, Path(folder))
        load_settings(served_config)  # a bad configuration fails now, not at the first scheduled run
        try:
            os.environ[SERVE_PID_ENV] = str(os.getpid())  # flow runs end with serve (common.lifetime)
            for sig in previous:
                signal.signal(sig, _raise_interrupt)
            api_url = os.environ.get("PREFECT_API_URL")
            if api_url:
                ui_url = api_url.removesuffix("/").removesuffix("/api")
                say(f"Using the Prefect server at {api_url}")
            else:
                say("Starting a local Prefect server (the first start migrates its database; up to a minute)...")
                server = LocalPrefectServer(host=host, port=port, startup_timeout=startup_timeout).start()
                api_url, ui_url = server.api_url, server.ui_url
                os.environ["PREFECT_API_URL"] = api_url  # flow-run subprocesses inherit it
                say(f"Prefect server (pid {server.pid}) at {api_url}; log: {server.log_path}")
            say(f"Open the Prefect UI: {ui_url}")
            for name in ("snapshot", "morning", "midday", "evening"):
                say(f"  {name:<8} {schedule.describe(name)}")
            with temporary_settings({PREFECT_API_URL: api_url}):
                deployments = build_deployments(served_config, schedule)
                serve(*deployments, print_starting_message=False)
        except KeyboardInterrupt:
            pass
        finally:
            os.environ.pop(SERVE_PID_ENV, None)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if server is not None:
                say("Stopping the local Prefect server...")
                server.stop()
                os.environ.pop("PREFECT_API_URL", None)
