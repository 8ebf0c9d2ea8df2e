"""What `orchestrator demo` leaves behind: its sandbox state (saved and served again), its configuration,
and every read command working on them without a sandbox."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest

from common.config import Settings, is_own_sandbox, unregister_sandbox
from orchestrator.demo import config_text, demo_files, demo_settings
from orchestrator.sandbox_link import SandboxNotRunning, connect_sandbox
from sandbox.persist import load_state, save_state
from sandbox.server import SandboxServer

HEADERS = {"Authorization": "token sandbox-token"}


def answers(url: str, paths: list[str]) -> list[object]:
    """The JSON answers, with the server's own address (in every `*_url` field) taken out."""
    with httpx.Client(base_url=url, headers=HEADERS, timeout=10) as client:
        host = url.removeprefix("http://")
        return [json.loads(client.get(path).text.replace(host, "SANDBOX")) for path in paths]


def test_a_saved_state_served_again_answers_as_the_original(sandbox, tmp_path):
    with httpx.Client(base_url=sandbox.url, headers=HEADERS) as client:  # changes after the seed are kept too
        client.patch("/repos/dappcore/core/issues/1", json={"state": "closed", "labels": ["bug"]})
        client.post("/repos/dappcore/core/issues/2/comments", json={"body": "kept"})
    repo = answers(sandbox.url, ["/orgs/dappcore/repos?per_page=1"])[0][0]["name"]
    paths = [
        "/orgs/dappcore/repos?per_page=100",
        f"/repos/dappcore/{repo}/issues?state=all&per_page=100",
        f"/repos/dappcore/{repo}/pulls?state=all&per_page=100",
        f"/repos/dappcore/{repo}/issues/comments?per_page=100",
        f"/repos/dappcore/{repo}/issues/events?per_page=100",
        f"/repos/dappcore/{repo}/branches?per_page=100",
        "/repos/dappcore/core/issues/1",
        "/repos/dappcore/core/issues/2/comments",
        "/orgs/dappcore",
    ]
    saved = save_state(sandbox.state, tmp_path / "state.json")
    with SandboxServer(port=0, state=load_state(saved)) as again:
        assert answers(again.url, paths) == answers(sandbox.url, paths)
        assert answers(again.url, ["/repos/dappcore/core/issues/1"])[0]["state"] == "closed"


def test_a_file_that_is_not_a_state_is_one_line(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"format": 1}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"x.json: not a sandbox state file \(missing or bad 'accepted_tokens'\)"):
        load_state(bad)
    bad.write_text("[1]", encoding="utf-8")
    with pytest.raises(ValueError, match="x.json: not a sandbox state file of format 1"):
        load_state(bad)
    with pytest.raises(ValueError, match="nothing.json: no such file"):
        load_state(tmp_path / "nothing.json")


def test_the_demo_configuration_is_the_demos_settings_at_the_fixed_address(tmp_path):
    db = tmp_path / "orchestrator-demo.duckdb"
    config, state = demo_files(db)
    assert (config.name, state.name) == ("orchestrator-demo.toml", "orchestrator-demo.sandbox.json")
    loaded = Settings.model_validate(tomllib.loads(config_text(db, port=8765)))
    expected = demo_settings("http://127.0.0.1:8765", db)
    expected.github.token_env = "ORCHESTRATOR_SANDBOX_TOKEN"
    assert loaded == expected


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_sandbox_that_answers_on_loopback_stands_in_for_the_token(tmp_path, monkeypatch):
    monkeypatch.delenv("ORCHESTRATOR_SANDBOX_TOKEN", raising=False)
    with SandboxServer(port=0) as server:
        unregister_sandbox(server.url)  # as if another process had started it
        settings = demo_settings(server.url, tmp_path / "d.duckdb")
        settings.github.token_env = "ORCHESTRATOR_SANDBOX_TOKEN"
        with pytest.raises(Exception, match="ORCHESTRATOR_SANDBOX_TOKEN is not set"):
            settings.token()
        connect_sandbox(settings, None)
        assert is_own_sandbox(server.url) and settings.token() == "sandbox-token"


def test_nothing_listening_on_loopback_says_how_to_start_the_sandbox(tmp_path):
    (tmp_path / "demo.sandbox.json").write_text("{}", encoding="utf-8")
    port = free_port()
    settings = demo_settings(f"http://127.0.0.1:{port}", tmp_path / "d.duckdb")
    with pytest.raises(SandboxNotRunning) as caught:
        connect_sandbox(settings, str(tmp_path / "demo.toml"))
    message = str(caught.value)
    assert f"sandbox is not running at http://127.0.0.1:{port}" in message and "\n" not in message
    assert f"orchestrator sandbox --state {tmp_path / 'demo.sandbox.json'} --port {port}" in message
    elsewhere = str(tmp_path / "other.toml")  # no state saved next to it: any sandbox, on that port
    with pytest.raises(SandboxNotRunning, match=rf"nothing listens there .*`orchestrator sandbox --port {port}`"):
        connect_sandbox(settings, elsewhere)


def test_github_itself_is_never_asked_for_the_sandbox(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("asked GitHub for /_sandbox/identity")

    monkeypatch.setattr(httpx, "get", refuse)
    settings = Settings.model_validate({"github": {"org": "dappcore"}})
    connect_sandbox(settings, None)  # https://api.github.com: not loopback, nothing asked


# ── the demo itself, in a subprocess (about 1-2 minutes on 2 cores) ────────────────────────────


def run_cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ORCHESTRATOR_SANDBOX_URL", "ORCHESTRATOR_CONFIG")}
    env["COLUMNS"] = "100"
    command = [sys.executable, "-m", "orchestrator.cli", *args]
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=600)


def test_the_demo_leaves_a_configuration_every_read_command_works_on(tmp_path):
    demo = run_cli(tmp_path, "demo")
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert re.search(r"open epics done by: P50 \d{4}-\d\d-\d\d, P85 \d{4}-\d\d-\d\d", demo.stdout), demo.stdout
    assert len(re.findall(r"\d{4}-\d\d-\d\d", demo.stdout)) >= 4  # the epics' P50 and P85 too
    assert "--config orchestrator-demo.toml budget" in demo.stdout
    config = tmp_path / "orchestrator-demo.toml"
    assert config.is_file() and (tmp_path / "orchestrator-demo.sandbox.json").is_file()
    if not _port_free(8765):  # someone else's sandbox there: point the configuration at a closed port
        config.write_text(config.read_text().replace(":8765", f":{free_port()}"), encoding="utf-8")
    use = ("--config", "orchestrator-demo.toml")

    def json_of(*args: str) -> object:
        result = run_cli(tmp_path, *use, *args)
        assert result.returncode == 0, f"{args}: {result.stderr}"
        return json.loads(result.stdout)

    assert json_of("budget", "--json")["pool"] == 600  # the demo's two-person team
    assert {"p50", "p85"} <= set(json_of("forecast", "--json")[0])
    assert json_of("plan", "--json")["plan_id"]
    assert json_of("sql", "SELECT 1 AS one", "--json") == [{"one": 1}]
    # routing at work: both agents measured by language, the plans dispatched to both, and routing
    # ahead of either agent alone on merged PRs per task
    assert "measured success" in demo.stdout and "codex" in demo.stdout, demo.stdout
    sent = dict(re.findall(r"(jules|codex) (\d+)", demo.stdout.split("dispatched by the plans:")[1].splitlines()[0]))
    assert int(sent["jules"]) > 0 and int(sent["codex"]) > 0, sent
    by = {row["routing"]: row for row in json_of("simulate", "--days", "30", "--trials", "500", "--json")["rows"]}
    assert all(by["best"]["merged_per_task"] > by[f"single:{name}"]["merged_per_task"] for name in ("jules", "codex"))
    html = (tmp_path / "reports" / "report.html").read_text(encoding="utf-8")
    assert "No forecast yet" not in html and 'alt="forecast fan"' in html
    assert re.search(r"all open epics done by \(P50\)</span><b>\d{4}-\d\d-\d\d", html)
    refused = run_cli(tmp_path, *use, "execute", "--apply")
    assert refused.returncode != 0
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "sandbox is not running" in refused.stderr
    assert "orchestrator sandbox --state orchestrator-demo.sandbox.json" in refused.stderr


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0
