"""A bad configuration is one clear line naming the key, exit 2, never a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.config import ConfigError, load_settings, parse_settings

GOOD = """
[github]
org = "dappcore"
repos = ["core", "core-php"]
[[team.members]]
login = "Snider"
quota = 300
repos = ["core"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "orchestrator.toml"
    path.write_text(text)
    return path


def test_good_file_loads_with_defaults(tmp_path):
    settings = load_settings(write(tmp_path, GOOD))
    assert settings.github.api_url == "https://api.github.com"
    assert settings.github.repos == ["core", "core-php"]
    assert settings.team.pool == 300
    assert settings.team.members[0].covers("dappcore/core") and not settings.team.members[0].covers("core-php")
    assert settings.dispatch.daily_range == (10, 20)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD + "\n[database]\npaht = 'x'\n", "database.paht: unknown key"),
        ("[github]\nrepos = ['core']\n", "github.org: required but missing"),
        (GOOD.replace("quota = 300", "quota = 'lots'"), "team.members.0.quota"),
        (GOOD + "\n[dispatch]\nstrategy = 'reckless'\n", "dispatch.strategy"),
        (GOOD + "\n[dispatch]\nmax_repo_share = 1.5\n", "dispatch.max_repo_share"),
        ("[github\norg = 'x'", "not valid TOML"),
        (GOOD.replace('org = "dappcore"', 'org = "dappcore"\napi_url = "ftp://x"'), "github.api_url"),
        (GOOD + "\n[team]\ntimezone = 'Mars/Olympus'\n", "timezone"),
    ],
)
def test_bad_file_names_the_key(tmp_path, text, expected):
    with pytest.raises(ConfigError) as raised:
        load_settings(write(tmp_path, text))
    assert expected in str(raised.value)
    assert "\n" not in str(raised.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_settings(tmp_path / "nope.toml")


def test_missing_token_is_an_error_except_for_the_sandbox_this_process_started(monkeypatch):
    from common.config import SANDBOX_URL_ENV, register_sandbox, unregister_sandbox

    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv(SANDBOX_URL_ENV, raising=False)
    remote = parse_settings({"github": {"org": "o"}})
    with pytest.raises(ConfigError, match="GITHUB_TOKEN is not set"):
        remote.token()
    # A loopback URL alone is no reason to send the sandbox's token (a tunnel to a real GitHub is loopback too).
    local = parse_settings({"github": {"org": "o", "api_url": "http://127.0.0.1:9"}})
    with pytest.raises(ConfigError, match="GITHUB_TOKEN is not set"):
        local.token()
    register_sandbox("http://127.0.0.1:9/")
    assert local.token() == "sandbox-token"
    other_port = parse_settings({"github": {"org": "o", "api_url": "http://127.0.0.1:10"}})
    with pytest.raises(ConfigError, match="GITHUB_TOKEN is not set"):
        other_port.token()
    unregister_sandbox("http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="GITHUB_TOKEN is not set"):
        local.token()
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    assert remote.token() == "ghp_secret"


def test_a_started_sandbox_vouches_for_its_own_url_only_while_it_runs(monkeypatch):
    from common.config import SANDBOX_URL_ENV
    from sandbox.server import SandboxServer

    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    with SandboxServer(port=0, seed=1) as server:
        settings = parse_settings({"github": {"org": "dappcore", "api_url": server.url}})
        assert settings.token() == "sandbox-token"
        assert server.url in os.environ[SANDBOX_URL_ENV].split()
    assert server.url not in os.environ.get(SANDBOX_URL_ENV, "").split()
    with pytest.raises(ConfigError, match="GITHUB_TOKEN is not set"):
        settings.token()


def test_cli_prints_one_line_and_exits_2(tmp_path):
    path = write(tmp_path, GOOD + "\n[agent]\nlabell = 'jules'\n")
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "--config", str(path), "snapshot"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "agent.labell: unknown key" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1


def test_example_configuration_is_valid():
    settings = load_settings(Path(__file__).parents[1] / "orchestrator.example.toml")
    assert settings.team.pool == 600 and settings.agent.label == "jules"


def test_every_command_has_a_readme_section():
    from orchestrator.cli import app

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    missing = [name for name in names if f"### `orchestrator {name}" not in readme]
    assert not missing, f"commands without a README section: {missing}"


@pytest.mark.usefixtures("prefect_harness")
def test_token_can_come_from_a_prefect_secret_block(monkeypatch):
    from prefect.blocks.system import Secret

    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    Secret(value="ghp_from_block").save("github-token-test", overwrite=True)
    settings = parse_settings({"github": {"org": "o", "token_block": "github-token-test"}})
    assert settings.token() == "ghp_from_block"
    missing = parse_settings({"github": {"org": "o", "token_block": "no-such-block"}})
    with pytest.raises(ConfigError, match="no Prefect Secret block named 'no-such-block'"):
        missing.token()


def test_sql_command_is_read_only(tmp_path):
    import duckdb

    from tasks import store

    db = tmp_path / "x.duckdb"
    con = duckdb.connect(str(db))
    store.ensure_schema(con)
    con.close()
    out = tmp_path / "leak.csv"
    for query in ("DELETE FROM snapshot_runs", f"COPY (SELECT 1) TO '{out}'", "SET enable_external_access = true"):
        result = subprocess.run(
            [sys.executable, "-m", "orchestrator.cli", "--db", str(db), "sql", query],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 1 and "query failed" in result.stderr, query
    assert not out.exists()
    ok = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "--db", str(db), "sql", "SELECT count(*) AS n FROM issues",
         "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ok.returncode == 0 and '"n":0' in ok.stdout.replace(" ", "")
