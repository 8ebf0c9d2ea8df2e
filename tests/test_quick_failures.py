"""Quick, clear failures: a refused token, a missing token, a repository that does not exist and a
database that cannot be written are each one line and a non-zero exit, found without retries, and
leave no empty database behind."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from common.config import SANDBOX_URL_ENV
from flows.snapshot import snapshot
from tasks import store
from tasks.github_client import CredentialsRefused
from tests.conftest import make_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")

ROOT = Path(__file__).resolve().parents[1]
BAD_TOKEN = "ghp_refusedTokenValue0123456789"


def config_file(folder: Path, url: str, db: Path, repos: list[str] | None = None) -> Path:
    names = ", ".join(f'"{name}"' for name in repos or ["*"])
    path = folder / "orchestrator.toml"
    path.write_text(
        f'[github]\napi_url = "{url}"\norg = "dappcore"\nrepos = [{names}]\nseconds_between_writes = 0\n'
        f'[database]\npath = "{db}"\n[[team.members]]\nlogin = "Snider"\n',
        encoding="utf-8",
    )
    return path


def run_cli(*args: str, cwd: Path, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    """The command in a new process (no Prefect server configured), and how long it took."""
    environment = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "GITHUB_TOKEN")}
    environment.update(PYTHONPATH=str(ROOT), DO_NOT_TRACK="1", **env)
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args], cwd=cwd, env=environment, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    return done, time.monotonic() - began


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


def invoke(*args: str):
    """The command in this process (flows on the session's Prefect test server)."""
    from orchestrator.cli import app

    return CliRunner().invoke(app, list(args))


# ── credentials ───────────────────────────────────────────────────────────────


def test_a_refused_token_is_one_line_at_once_with_one_request(sandbox, tmp_path):
    config = config_file(tmp_path, sandbox.url, tmp_path / "orchestrator.duckdb")
    sandbox.state.request_log.clear()
    done, took = run_cli("--config", str(config), "snapshot", cwd=tmp_path, GITHUB_TOKEN=BAD_TOKEN)
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert "GitHub refused the credentials (401 Bad credentials) for GET /rate_limit: check GITHUB_TOKEN" in line
    assert BAD_TOKEN not in done.stderr + done.stdout
    assert [(r["path"], r["status"]) for r in sandbox.state.request_log] == [("/rate_limit", 401)]  # no retry
    assert not (tmp_path / "orchestrator.duckdb").exists()  # refused before anything was created
    print(f"\n401 reported in {took:.1f} s (the whole command, Python start-up included)")


def test_the_snapshot_flow_does_not_retry_a_401(sandbox, settings, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", BAD_TOKEN)
    sandbox.state.request_log.clear()
    with pytest.raises(CredentialsRefused, match=r"401 Bad credentials\) for GET /orgs/dappcore/repos"):
        snapshot(settings)
    assert len(sandbox.state.request_log) == 1  # Prefect's task retries skipped it too
    with store.reader(settings.database.path) as con:
        runs = con.execute("SELECT status, error FROM snapshot_runs").fetchall()
    assert runs[0][0] == "failed" and BAD_TOKEN not in str(runs)


def test_execute_reports_a_401_from_who_am_i_without_retries(sandbox, settings, monkeypatch):
    from flows.execute import connect_github

    monkeypatch.setenv("GITHUB_TOKEN", BAD_TOKEN)
    sandbox.state.request_log.clear()
    with pytest.raises(CredentialsRefused, match=r"for GET /user: check GITHUB_TOKEN") as refused:
        connect_github(settings)
    assert BAD_TOKEN not in str(refused.value)
    assert [r["path"] for r in sandbox.state.request_log] == ["/user"]


class NotTheSandbox(http.server.BaseHTTPRequestHandler):
    """A loopback server that is not the sandbox (a tunnel to a real GitHub, say): 404 for everything."""

    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.seen.append((self.path, self.headers.get("Authorization")))
        body = b'{"message": "Not Found"}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_missing_token_is_an_error_against_a_loopback_url_that_is_not_the_sandbox(tmp_path):
    # Only a sandbox answering `GET /_sandbox/identity` stands in for a missing token (README "Configuration").
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotTheSandbox)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    config = config_file(tmp_path, url, tmp_path / "orchestrator.duckdb")
    env = {k: v for k, v in os.environ.items() if k != SANDBOX_URL_ENV}  # a sandbox this command did not start
    began = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "orchestrator.cli", "--config", str(config), "snapshot"],
            cwd=tmp_path, env={**env, "GITHUB_TOKEN": "", "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
    finally:
        server.shutdown()
    assert done.returncode == 2, done.stderr
    assert "github.token_env: environment variable GITHUB_TOKEN is not set" in one_line(done.stderr)
    assert "GITHUB_TOKEN=sandbox-token" in done.stderr  # the way to use `orchestrator sandbox`
    assert NotTheSandbox.seen == [("/_sandbox/identity", None)]  # asked, without a token; nothing else sent
    assert not (tmp_path / "orchestrator.duckdb").exists()
    print(f"\nmissing token reported in {time.monotonic() - began:.1f} s")


# ── a repository that does not exist ──────────────────────────────────────────


def test_a_repository_that_does_not_exist_is_exit_2_and_the_previous_snapshot_stays_current(sandbox, tmp_path):
    db = tmp_path / "orchestrator.duckdb"
    good = config_file(tmp_path, sandbox.url, db, repos=["core"])
    first = invoke("--config", str(good), "snapshot")
    assert first.exit_code == 0, first.output
    bad = config_file(tmp_path, sandbox.url, db, repos=["core", "nope"])
    sandbox.state.request_log.clear()
    result = invoke("--config", str(bad), "snapshot")
    assert result.exit_code == 2
    assert one_line(result.stderr) == "error: github.repos: dappcore/nope not found (404)"
    asked = [r["path"] for r in sandbox.state.request_log]
    assert asked.count("/repos/dappcore/nope") == 1  # not retried
    with store.reader(db) as con:
        runs = con.execute("SELECT status FROM snapshot_runs ORDER BY run_id").fetchall()
        latest = con.execute("SELECT max(run_id) FROM snapshot_runs WHERE status = 'complete'").fetchone()[0]
        repos = con.execute("SELECT DISTINCT repo FROM issues").fetchall()
    assert runs == [("complete",), ("failed",)] and latest == 1
    assert repos == [("dappcore/core",)]  # the previous snapshot is what the views show


def test_a_first_snapshot_that_fails_leaves_no_database(sandbox, tmp_path):
    db = tmp_path / "data" / "orchestrator.duckdb"
    config = config_file(tmp_path, sandbox.url, db, repos=["nope"])
    result = invoke("--config", str(config), "snapshot")
    assert result.exit_code == 2, result.output
    assert one_line(result.stderr) == "error: github.repos: dappcore/nope not found (404)"
    assert sorted(p.name for p in db.parent.iterdir()) == []  # no .duckdb, no .wal, no .lock


# ── a database that cannot be written ─────────────────────────────────────────


def unwritable_folder(tmp_path: Path) -> Path:
    if os.geteuid() == 0:  # root writes through permission bits; /proc takes no new files from anyone
        return Path("/proc")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    return folder


@pytest.mark.parametrize("case", ["a directory", "an unwritable folder", "under a file"])
def test_a_database_path_that_cannot_be_written_is_one_line_exit_2_and_creates_nothing(sandbox, tmp_path, case):
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "a-folder").mkdir()
    db = {
        "a directory": tmp_path / "a-folder",
        "an unwritable folder": unwritable_folder(tmp_path) / "orchestrator-test.duckdb",
        "under a file": tmp_path / "a-file" / "orchestrator.duckdb",
    }[case]
    config = config_file(tmp_path, sandbox.url, tmp_path / "unused.duckdb")
    before = sorted(p.name for p in tmp_path.iterdir())
    sandbox.state.request_log.clear()
    began = time.monotonic()
    result = invoke("--config", str(config), "--db", str(db), "snapshot")
    took = time.monotonic() - began
    assert result.exit_code == 2, result.output
    line = one_line(result.stderr)
    assert line.startswith(f"error: database.path: {db}") or line.startswith(f"error: database.path: cannot write {db}")
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no .duckdb, no .lock
    assert not Path(f"{db}.lock").exists() and (case == "a directory" or not db.exists())
    assert sandbox.state.request_log == []  # found before GitHub was asked anything
    assert took < 30  # not the writers' 600 s lock timeout


def test_the_writer_itself_refuses_an_unwritable_path_at_once(tmp_path):
    from tasks.preflight import DatabaseUnwritable

    began = time.monotonic()
    with pytest.raises(DatabaseUnwritable, match="is a directory"):
        with store.writer(tmp_path):
            pass
    with pytest.raises(DatabaseUnwritable, match="cannot write"):
        with store.writer(unwritable_folder(tmp_path) / "orchestrator-test.duckdb", timeout=600):
            pass
    assert time.monotonic() - began < 10
    assert not Path(f"{tmp_path}.lock").exists()


def test_a_failed_command_keeps_a_database_that_existed_before(sandbox, tmp_path):
    db = tmp_path / "orchestrator.duckdb"
    settings = make_settings(sandbox.url, db)
    with store.writer(db):
        pass  # an empty database the user made: not ours to remove
    config = config_file(tmp_path, sandbox.url, db, repos=["nope"])
    result = invoke("--config", str(config), "snapshot")
    assert result.exit_code == 2
    assert db.exists() and settings.database.path == str(db)
