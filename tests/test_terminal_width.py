"""Every command that prints a table, through the real CLI at `COLUMNS=80`: headers whole, no line
wider than the terminal, empty cells empty; and the same tables as `--json` and `--csv`."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SANDBOX_NOW, make_settings, write_config

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("orchestrator"))
MISSING = {"nan", "None", "NaT", "<NA>", "NaN"}

# Each command and the headers it shows at 80 columns; the columns it drops there (README, "Commands
# at 80 columns") are in DROPPED and must not appear cut instead.
TABLES = {
    ("sql", "DESCRIBE plan_actions"): ["column_name", "column_type", "null", "key", "default", "extra"],
    ("budget", "--team"): ["member", "quota", "used", "remaining", "repos"],
    ("budget", "--history"): ["date", "used", "pool", "unused", "used_Snider"],
    ("budget", "--plan"): ["repo", "issue", "member", "reason"],
    ("budget", "--forecast", "30"): ["epic", "title", "left", "P85", "P(done)"],
    ("execute",): ["seq", "action", "target", "status", "reason / url"],
    ("forecast",): ["epic", "title", "left", "P50", "P85"],
    ("forecast", "--backtest"): ["cutoff", "epics", "done by P50", "done by P85", "done by P95", "P50 error"],
}
DROPPED = {"cost", "P95", "P(done by)", "tasks", "P50 bias"}


@pytest.fixture(scope="module")
def config(sandbox_server, prefect_harness, tmp_path_factory) -> Path:
    """One snapshot of the demo organisation and one plan, for the whole module."""
    from flows.plan import plan_flow
    from flows.snapshot import snapshot
    from sandbox.seed import reset_demo

    state = sandbox_server.state
    state.set_faults()
    reset_demo(state, seed=7, now=SANDBOX_NOW)
    if state.stopped or sandbox_server._thread is None or not sandbox_server._thread.is_alive():
        sandbox_server.stop()
        sandbox_server.port = 0
        sandbox_server.start()
    folder = tmp_path_factory.mktemp("terminal")
    path = write_config(folder, sandbox_server.url, folder / "orchestrator.duckdb")
    settings = make_settings(sandbox_server.url, folder / "orchestrator.duckdb")
    settings.dispatch.plans_dir = str(folder / "plans")
    snapshot(settings)
    plan_flow(settings=settings)
    return path


def run_cli(config: Path, *args: str) -> str:
    """The command's stdout at 80 columns, after checking it exited 0 without a traceback."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "COLUMNS": "80", "PREFECT_API_URL": PREFECT_API_URL.value() or ""}
    env.pop("GITHUB_TOKEN", None)
    result = subprocess.run(
        [CLI, "--config", str(config), *args], capture_output=True, text=True, timeout=300, cwd=config.parent, env=env
    )
    assert result.returncode == 0, (args, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout


def cells(line: str, bar: str) -> list[str]:
    return [part.strip() for part in line.strip().strip(bar).split(bar)]


def test_every_table_fits_80_columns_with_whole_headers_and_no_missing_markers(config):
    for args, shown in TABLES.items():
        out = run_cli(config, *args)
        lines = out.splitlines()
        assert all(len(line) <= 80 for line in lines), (args, max(lines, key=len))
        headers = [cell for line in lines if line.startswith("┃") for cell in cells(line, "┃")]
        assert headers, (args, out)
        assert set(shown) <= set(headers), (args, headers)
        assert set(headers) <= set(shown) | DROPPED, (args, headers)  # nothing cut to `op…` or `P…`
        body = [cell for line in lines if line.startswith("│") for cell in cells(line, "│")]
        assert not MISSING & set(body), (args, MISSING & set(body))


def test_describe_prints_empty_cells_empty_in_the_table_and_csv(config):
    table = run_cli(config, "sql", "DESCRIBE plan_actions")
    assert "nan" not in table and "None" not in table
    rows = list(csv.DictReader(io.StringIO(run_cli(config, "sql", "DESCRIBE plan_actions", "--csv"))))
    assert rows and all(row["default"] == "" for row in rows)
    assert all(row["default"] is None for row in json.loads(run_cli(config, "sql", "DESCRIBE plan_actions", "--json")))


def test_rows_too_wide_for_the_terminal_print_as_records(config):
    out = run_cli(config, "sql", "SELECT * FROM plan_actions ORDER BY seq LIMIT 2")
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    for column in ("plan_id", "seq", "action", "repo", "target", "payload", "reason", "precondition", "member"):
        assert sum(line.startswith(f"{column} ") for line in lines) == 2, column
    assert not any(line.split()[1:] and line.split()[1] in MISSING for line in lines if line.strip())


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (("budget", "--team"), "login"),
        (("budget", "--history"), "unused"),
        (("budget", "--forecast", "30"), "p85"),
        (("execute",), "action"),
        (("forecast",), "p50"),
        (("forecast", "--backtest"), "cutoff"),
        (("plan",), "action"),
    ],
)
def test_table_commands_print_csv_with_empty_missing_cells(config, args, key):
    rows = list(csv.DictReader(io.StringIO(run_cli(config, *args, "--csv"))))
    assert rows and key in rows[0]
    assert not MISSING & {value for row in rows for value in row.values()}


def test_table_commands_print_json(config):
    assert json.loads(run_cli(config, "execute", "--json"))["outcomes"]
    assert all("p50" in row for row in json.loads(run_cli(config, "forecast", "--json")))
    assert json.loads(run_cli(config, "budget", "--json"))["pool"] == 300
