"""Session-wide: one GitHub sandbox on a free port, one Prefect test harness."""

from __future__ import annotations

import os

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from orchestrator.config import Settings  # noqa: E402

# A fixed clock for the seeded data, so figures in assertions never depend on today.
SANDBOX_NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).replace(tzinfo=None)


@pytest.fixture(scope="session")
def prefect_harness():
    """Prefect's test harness, started once (about 30 s on 2 cores)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def sandbox_server():
    from orchestrator.sandbox.server import SandboxServer

    server = SandboxServer(port=0, seed=7, now=SANDBOX_NOW)
    with server:
        yield server


@pytest.fixture
def sandbox(sandbox_server):
    """The session's sandbox, reset to the demo organisation, faults off, (re)started if a test killed it."""
    state = sandbox_server.state
    state.set_faults()
    state.reset(seed=7, demo=True, now=SANDBOX_NOW)
    if state.stopped or sandbox_server._thread is None or not sandbox_server._thread.is_alive():
        sandbox_server.stop()
        sandbox_server.port = 0
        sandbox_server.start()
    yield sandbox_server
    state.set_faults()


def make_settings(url: str, db: Path, repos: list[str] | None = None, org: str = "dappcore", **github) -> Settings:
    return Settings.model_validate(
        {
            "github": {"api_url": url, "org": org, "repos": repos or ["*"], "seconds_between_writes": 0, **github},
            "database": {"path": str(db)},
            "team": {"members": [{"login": "Snider", "quota": 300}]},
        }
    )


def write_config(folder: Path, url: str, db: Path | str, quota: int = 300, extra: str = "") -> Path:
    """An orchestrator.toml for the sandbox (for tests that run the CLI in another process)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "orchestrator.toml"
    path.write_text(
        f'[github]\napi_url = "{url}"\norg = "dappcore"\nrepos = ["*"]\nseconds_between_writes = 0\n'
        f'[database]\npath = "{db}"\n[dispatch]\nplans_dir = "{folder / "plans"}"\n'
        f'[[team.members]]\nlogin = "Snider"\nquota = {quota}\n{extra}',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def settings(sandbox, tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    return make_settings(sandbox.url, tmp_path / "orchestrator.duckdb")
