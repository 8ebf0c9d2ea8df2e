"""Session-wide: one GitHub sandbox on a free port, one Prefect test harness."""

from __future__ import annotations

import os

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import duckdb  # noqa: E402
import pytest  # noqa: E402

from common.config import Settings  # noqa: E402

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
    from sandbox.server import SandboxServer

    server = SandboxServer(port=0, seed=7, now=SANDBOX_NOW)
    with server:
        yield server


@pytest.fixture
def sandbox(sandbox_server):
    """The session's sandbox, reset to the demo organisation, faults off, (re)started if a test killed it."""
    from sandbox.seed import reset_demo

    state = sandbox_server.state
    state.set_faults()
    reset_demo(state, seed=7, now=SANDBOX_NOW)
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


# Fixtures that start a server (the sandbox, Prefect's harness) or a subprocess: tests using them
# are `integration`, and `make check` (the fast lane) leaves them out.
SERVER_FIXTURES = {"sandbox", "sandbox_server", "prefect_harness", "settings"}


def pytest_configure(config):
    config.addinivalue_line("markers", "integration: needs the sandbox, Prefect's harness or a subprocess")


def pytest_collection_modifyitems(config, items):
    import inspect

    for item in items:
        source = inspect.getsource(item.function) if hasattr(item, "function") else ""
        starts_a_process = "subprocess." in source or "Popen(" in source or "run_cli(" in source
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())) or starts_a_process:
            item.add_marker(pytest.mark.integration)


_SCHEMA_TEMPLATE: list[Path] = []


def schema_database() -> duckdb.DuckDBPyConnection:
    """A new database with every table and view, copied from one made once per session: creating
    the views takes about a second, copying the file a few milliseconds (property tests make many)."""
    import atexit
    import shutil
    import tempfile

    from tasks import store

    if not _SCHEMA_TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="orchestrator-schema-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        template = folder / "template.duckdb"
        with duckdb.connect(str(template)) as con:
            store.ensure_schema(con)
        _SCHEMA_TEMPLATE.append(template)
    template = _SCHEMA_TEMPLATE[0]
    copy = Path(tempfile.mkstemp(dir=template.parent, suffix=".duckdb")[1])
    shutil.copyfile(template, copy)
    return duckdb.connect(str(copy))


def examples(count: int) -> int:
    """Hypothesis examples for a property test: all of them in `make test`, a tenth in `make check`'s
    fast lane (ORCHESTRATOR_FAST_TESTS=1), where each example through the real views costs a second."""
    return max(3, count // 10) if os.environ.get("ORCHESTRATOR_FAST_TESTS") else count
