"""GitHub App credentials end to end, over real HTTP to the sandbox: a JWT, installation tokens that
expire in seconds and are renewed mid-command, writes by `slug[bot]`, and no secret anywhere."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import jwt
import pytest
from github import Auth, Github, GithubIntegration

from common.config import ConfigError, parse_settings
from tasks import github_auth
from tasks.github_client import GitHubClient, make_github, whoami
from tests.conftest import make_settings, write_config

PEM_BODY = re.compile(r"-----BEGIN RSA PRIVATE KEY-----\n(.+?)\n-----END", re.S)


def add_app(sandbox, tmp_path: Path, lifetime: int = 3600) -> tuple[object, int, Path, str]:
    """An App installed on dappcore; (app, installation id, key file, private key)."""
    from sandbox.apps import write_private_key

    sandbox.state.installation_token_seconds = lifetime
    app, installed, private = sandbox.state.add_app(f"orchestrator-{tmp_path.name[-12:].lower()}", "dappcore")
    return app, installed[0].id, write_private_key(private, tmp_path / "app.pem"), private


def app_settings(sandbox, tmp_path: Path, app, key: Path, **github):
    github_auth._AUTHS.clear()  # one auth per process: start each test with none
    return make_settings(sandbox.url, tmp_path / "orchestrator.duckdb", app_id=app.id,
                         app_private_key_path=str(key), **github)  # fmt: skip


def test_app_and_token_settings_together_are_one_line_errors():
    base = {"org": "dappcore", "app_id": 7, "app_private_key_path": "key.pem"}
    with pytest.raises(ConfigError) as both:
        parse_settings({"github": {**base, "token_env": "GITHUB_TOKEN"}}, "orchestrator.toml")
    assert str(both.value).startswith("orchestrator.toml: github: github.app_id and github.token_env are two kinds")
    assert "\n" not in str(both.value)
    with pytest.raises(ConfigError, match="needs exactly one of github.app_private_key_path"):
        parse_settings({"github": {"org": "dappcore", "app_id": 7}})
    with pytest.raises(ConfigError, match="github.app_id is required with github.installation_id"):
        parse_settings({"github": {"org": "dappcore", "installation_id": 3}})
    assert parse_settings({"github": base}).github.uses_app


def test_a_missing_or_unreadable_key_is_one_line(tmp_path):
    settings = parse_settings({"github": {"org": "o", "app_id": 7, "app_private_key_path": str(tmp_path / "no.pem")}})
    with pytest.raises(ConfigError, match=r"^github.app_private_key_path: cannot read .*no.pem: no such file"):
        settings.app_private_key()
    (tmp_path / "bad.pem").write_text("not a key")
    settings.github.app_private_key_path = str(tmp_path / "bad.pem")
    with pytest.raises(ConfigError, match="is not a PEM private key"):
        settings.app_private_key()


def test_sandbox_app_endpoints_follow_github(sandbox, tmp_path):
    app, installation_id, _, private = add_app(sandbox, tmp_path, lifetime=2)
    now = int(time.time())
    signed = jwt.encode({"iat": now - 60, "exp": now + 300, "iss": str(app.id)}, private, algorithm="RS256")
    too_long = jwt.encode({"iat": now - 60, "exp": now + 900, "iss": str(app.id)}, private, algorithm="RS256")
    with httpx.Client(base_url=sandbox.url) as http:
        me = http.get("/app", headers={"Authorization": f"Bearer {signed}"}).json()
        assert (me["id"], me["slug"], me["installations_count"]) == (app.id, app.slug, 1)
        refused = http.get("/app", headers={"Authorization": f"Bearer {too_long}"})
        assert refused.status_code == 401 and "too far in the future" in refused.json()["message"]
        org = http.get("/orgs/dappcore/installation", headers={"Authorization": f"Bearer {signed}"}).json()
        repo = http.get("/repos/dappcore/core/installation", headers={"Authorization": f"Bearer {signed}"}).json()
        assert org["id"] == repo["id"] == installation_id and org["account"]["login"] == "dappcore"
        minted = http.post(f"/app/installations/{installation_id}/access_tokens",
                           headers={"Authorization": f"Bearer {signed}"})  # fmt: skip
        assert minted.status_code == 201
        body = minted.json()
        assert set(body) >= {"token", "expires_at", "permissions", "repository_selection"}
        token = {"Authorization": f"token {body['token']}"}
        user = http.get("/user", headers=token)
        assert user.status_code == 403 and user.json()["message"] == "Resource not accessible by integration"
        comment = http.post("/repos/dappcore/core/issues/1/comments", headers=token, json={"body": "hi"}).json()
        assert comment["user"]["login"] == app.bot_login and comment["user"]["type"] == "Bot"
        time.sleep(2.5)  # the token's lifetime: afterwards GitHub says Bad credentials
        expired = http.get("/repos/dappcore/core", headers=token)
        assert expired.status_code == 401 and expired.json()["message"] == "Bad credentials"


def test_installation_tokens_are_renewed_and_the_identity_is_the_bot(sandbox, tmp_path):
    app, installation_id, key, _ = add_app(sandbox, tmp_path, lifetime=3)
    settings = app_settings(sandbox, tmp_path, app, key)
    who = whoami(settings)
    assert who == {"kind": "app", "login": app.bot_login, "app_slug": app.slug, "installation_id": installation_id,
                   "installation_permissions": who["installation_permissions"]}  # fmt: skip
    assert who["installation_permissions"]["issues"] == "write"
    client = GitHubClient(make_github(settings))
    auth = client.gh.requester.auth
    client.get("/repos/dappcore/core")
    first = auth.token
    time.sleep(3.2)  # past the first token's expiry
    assert client.get("/repos/dappcore/core").data["full_name"] == "dappcore/core"
    assert auth.token != first and auth.renewals >= 2
    auth._renew_at = float("inf")  # as if our clock thought the token still fresh: GitHub's 401 renews it
    time.sleep(3.2)
    assert client.get("/repos/dappcore/core").status == 200


def test_a_server_clock_ahead_of_ours_still_accepts_the_jwt(sandbox, tmp_path):
    app, installation_id, key, _ = add_app(sandbox, tmp_path)
    sandbox.state.set_faults(clock_offset_seconds=1800)  # GitHub's clock half an hour ahead of the host's
    settings = app_settings(sandbox, tmp_path, app, key)
    assert whoami(settings)["installation_id"] == installation_id
    assert GitHubClient(make_github(settings)).get("/repos/dappcore/core").status == 200


def test_an_app_not_installed_on_the_org_is_one_line(sandbox, tmp_path):
    app, _, key, _ = add_app(sandbox, tmp_path)
    sandbox.state.installations.clear()
    settings = app_settings(sandbox, tmp_path, app, key, repos=["core"])
    with pytest.raises(ConfigError, match=r"^github.app_id \d+: GitHub has no installation on dappcore"):
        whoami(settings)


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_TOKEN"} | {"COLUMNS": "160"}
    command = [sys.executable, "-m", "orchestrator.cli", "--config", str(config), *args]
    return subprocess.run(command, cwd=config.parent, env=env, capture_output=True, text=True, timeout=600)


def _database_text(db: Path) -> str:
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = con.execute("SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'")
        return " ".join(
            str(con.execute(f"SELECT coalesce(string_agg(CAST(columns(*) AS VARCHAR), ' '), '') FROM {t}").fetchall())
            for (t,) in tables.fetchall()
        )
    finally:
        con.close()


def test_snapshot_plan_execute_and_report_run_on_app_credentials_alone(sandbox, tmp_path):
    app, _, key, private = add_app(sandbox, tmp_path, lifetime=4)
    earlier = set(sandbox.state.installation_tokens)  # other tests' tokens in this session's sandbox
    config = write_config(tmp_path, sandbox.url, tmp_path / "orchestrator.duckdb")
    app_keys = f'app_id = {app.id}\napp_private_key_path = "{key}"\n'
    pacing = "seconds_between_writes = 0\n"
    config.write_text(config.read_text().replace(pacing, pacing + app_keys))
    output = ""
    for args in (("snapshot",), ("plan",), ("execute", "--apply"), ("report", "--out", str(tmp_path / "r.html"))):
        result = _cli(config, *args)
        assert result.returncode == 0, f"{args}: {result.stderr[-2000:]}"
        output += result.stdout + result.stderr
    log = sandbox.state.request_log
    mints = [r for r in log if r["path"].endswith("/access_tokens") and r["status"] == 201]
    assert len(mints) >= 3  # at least one token expired and was renewed within a command
    writes = [r for r in log if r["method"] in ("POST", "PATCH", "PUT", "DELETE") and "/app/" not in r["path"]]
    assert writes and {r["login"] for r in writes if r["status"] < 400} == {app.bot_login}
    # A token can expire between its renewal check and the server's (4 s tokens on a busy machine):
    # GitHub's 401 is then answered by a new token and the same request sent again, once.
    for i, refused in enumerate(log):
        if refused["status"] == 401:
            again = [r for r in log[i + 1 :] if (r["method"], r["path"]) == (refused["method"], refused["path"])]
            assert again and again[0]["status"] < 400, refused
    db = tmp_path / "orchestrator.duckdb"
    ledger = duckdb.connect(str(db), read_only=True)
    try:
        sql = "SELECT status, count(*), min(actor), max(actor) FROM action_log GROUP BY 1"
        statuses = ledger.execute(sql).fetchall()
        own = ledger.execute("SELECT value FROM run_settings WHERE key = 'token_login'").fetchall()
    finally:
        ledger.close()
    assert statuses and "failed" not in {s for s, *_ in statuses}
    assert {a for _, _, lo, hi in statuses for a in (lo, hi) if a} == {app.bot_login}
    assert own and own[0][0] == app.bot_login
    key_lines = PEM_BODY.search(private).group(1).splitlines()
    tokens = [t for t in sandbox.state.installation_tokens if t not in earlier]  # every token minted here
    secrets = [key_lines[1], key_lines[-2], *tokens]
    assert len(tokens) == len(mints)
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".json", ".html", ".csv", ".log", ".toml")]
    haystacks = {"output": output, "database": _database_text(db)}
    haystacks |= {str(p): p.read_text(errors="replace") for p in files}
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, where
        assert not re.search(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+", text), f"a JWT in {where}"
        assert "PRIVATE KEY" not in text, where


def test_orchestrator_sandbox_app_prints_the_ids_and_writes_a_usable_key(tmp_path):
    key = tmp_path / "keys" / "app.pem"
    env = {k: v for k, v in os.environ.items() if k != "ORCHESTRATOR_SANDBOX_URL"}
    port = _free_port()
    command = [sys.executable, "-m", "orchestrator.cli", "sandbox", "--port", str(port), "--app", "--app-key", str(key)]
    server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [server.stdout.readline() for _ in range(8)]
        found = re.search(r"app_id = (\d+), app_private_key_path = \"(.+?)\", installation_id = (\d+)", "".join(lines))
        assert found, lines
        assert Path(found.group(2)) == key.resolve() and stat.S_IMODE(key.stat().st_mode) == 0o600
        auth = Auth.AppAuth(int(found.group(1)), key.read_text())
        integration = GithubIntegration(auth=auth, base_url=f"http://127.0.0.1:{port}")
        assert integration.get_org_installation("dappcore").id == int(found.group(3))
        gh = Github(auth=auth.get_installation_auth(int(found.group(3))), base_url=f"http://127.0.0.1:{port}")
        assert gh.get_repo("dappcore/core").full_name == "dappcore/core"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_sandbox_state_file_keeps_the_app_but_never_its_private_key(tmp_path):
    from sandbox.persist import load_state, save_state
    from sandbox.state import SandboxState

    state = SandboxState()
    state.installation_token_seconds = 5
    app, installed, private = state.add_app("orchestrator", "Snider")
    saved = save_state(state, tmp_path / "state.json")
    assert PEM_BODY.search(private).group(1).splitlines()[1] not in saved.read_text()
    loaded = load_state(saved)
    assert loaded.apps == state.apps and loaded.installations == state.installations
    assert loaded.installation_token_seconds == 5
    now = int(time.time())
    signed = jwt.encode({"iat": now - 60, "exp": now + 300, "iss": str(app.id)}, private, algorithm="RS256")
    assert loaded.app_caller(signed).app_id == app.id
    minted = loaded.mint_installation_token(app.id, installed[0].id, None)
    assert loaded.login_for_token(minted.token) == "orchestrator[bot]"
