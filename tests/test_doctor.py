"""`orchestrator doctor` against the sandbox: a healthy setup passes every check (exit 0), a configured
repository that does not exist and a missing agent label fail, naming the repository and the fix;
the doctor never writes to GitHub, never upgrades the database and never prints the token."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from common.config import SANDBOX_TOKEN
from tasks import schema_upgrade
from tests.test_schema_upgrade import load_fixture


def config(folder: Path, url: str, db: Path, repos: str = '"*"', label: str = "jules") -> Path:
    path = folder / "orchestrator.toml"
    path.write_text(
        f'[github]\napi_url = "{url}"\norg = "dappcore"\nrepos = [{repos}]\n'
        f'[database]\npath = "{db}"\n[agent]\nlabel = "{label}"\n[[team.members]]\nlogin = "Snider"\n',
        encoding="utf-8",
    )
    return path


def doctor(path: Path, *args: str):
    from orchestrator.cli import app

    return CliRunner().invoke(app, ["--config", str(path), "doctor", *args], env={"COLUMNS": "80"})


def test_a_healthy_setup_passes_every_check(sandbox, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    cfg = config(tmp_path, sandbox.url, tmp_path / "orchestrator.duckdb")
    result = doctor(cfg, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True and all(check["ok"] for check in report["checks"]), report
    names = {check["check"] for check in report["checks"]}
    assert {"credentials", "REST rate limit", "GraphQL rate limit", "repositories", "permissions",
            "agent label", "database", "Prefect API", "schedule"} <= names  # fmt: skip
    table = doctor(cfg)
    assert table.exit_code == 0 and "✗" not in table.output and table.output.count("✓") == len(report["checks"])
    assert max(len(line) for line in table.output.splitlines()) <= 80
    assert sandbox.state.writes() == []  # read-only: not one write to GitHub
    assert SANDBOX_TOKEN not in result.output + table.output


def test_a_missing_repository_fails_naming_it(sandbox, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    cfg = config(tmp_path, sandbox.url, tmp_path / "orchestrator.duckdb", repos='"core", "nope"')
    result = doctor(cfg, "--json")
    assert result.exit_code == 1, result.output
    failing = [check for check in json.loads(result.output)["checks"] if not check["ok"]]
    assert [(c["check"], c["repo"]) for c in failing] == [("repository", "dappcore/nope")]
    assert "404" in failing[0]["detail"] and "github.repos" in failing[0]["fix"]
    table = doctor(cfg)
    assert table.exit_code == 1 and "dappcore/nope" in table.output and "✗" in table.output


def test_a_missing_agent_label_fails_with_its_fix(sandbox, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    cfg = config(tmp_path, sandbox.url, tmp_path / "x.duckdb", repos='"core", "core-php"', label="openhands")
    result = doctor(cfg, "--json")
    assert result.exit_code == 1, result.output
    failing = [check for check in json.loads(result.output)["checks"] if not check["ok"]]
    assert {(c["check"], c["repo"]) for c in failing} == {
        ("agent label", "dappcore/core"),
        ("agent label", "dappcore/core-php"),
    }
    assert all("gh label create openhands -R dappcore/" in c["fix"] for c in failing)


def test_an_old_database_is_reported_not_upgraded(sandbox, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    db = tmp_path / "old.duckdb"
    load_fixture(db)
    result = doctor(config(tmp_path, sandbox.url, db), "--json")
    assert result.exit_code == 0, result.output
    (database,) = [check for check in json.loads(result.output)["checks"] if check["check"] == "database"]
    assert database["ok"] and "schema 1 (release 0.1.0)" in database["detail"]
    con = duckdb.connect(str(db), read_only=True)
    assert schema_upgrade.inspect(con).version == 1
    con.close()
    assert not list(tmp_path.glob("*.bak-*"))


def test_a_database_from_a_newer_release_fails_the_check(sandbox, tmp_path: Path, monkeypatch) -> None:
    from tasks import store

    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    db = tmp_path / "new.duckdb"
    with store.writer(db) as con:
        con.execute("INSERT INTO schema_meta VALUES (99, '9.0.0', now()::TIMESTAMP, 2)")
    result = doctor(config(tmp_path, sandbox.url, db), "--json")
    assert result.exit_code == 1, result.output
    (database,) = [check for check in json.loads(result.output)["checks"] if not check["ok"]]
    assert database["check"] == "database" and "9.0.0" in database["fix"]
