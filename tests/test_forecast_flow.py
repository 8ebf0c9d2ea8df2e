"""The forecast flow and `orchestrator forecast` against the sandbox's demo organisation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from tasks import store
from tests.conftest import write_config

CLI = [sys.executable, "-m", "orchestrator.cli"]
KEYS = ["repo", "epic", "p50", "p85", "p95", "remaining_children"]


def run_cli(config: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    result = subprocess.run(
        [*CLI, "--config", str(config), "forecast", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=config.parent,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result


@pytest.fixture
def forecasted(settings, sandbox, prefect_harness, tmp_path):
    from flows.forecast import forecast_flow
    from flows.snapshot import snapshot

    snapshot(settings)
    summary = forecast_flow(settings=settings, charts_dir=str(tmp_path / "charts"))
    return settings, summary, tmp_path


def test_flow_writes_one_row_per_open_epic(forecasted):
    settings, summary, tmp_path = forecasted
    with store.reader(settings.database.path) as con:
        fc = con.execute("SELECT * FROM epic_forecast ORDER BY repo, epic").fetchdf()
        open_children = con.execute(
            """SELECT e.repo, e.epic, count(c.child) FILTER (c.child_state = 'open') AS n
               FROM epics e LEFT JOIN epic_children c USING (repo, epic) WHERE e.state = 'open' GROUP BY ALL"""
        ).fetchdf()
        org = con.execute("SELECT * FROM org_forecast").fetchdf()
    assert len(fc) == len(open_children) > 0
    expected = {
        (r, int(e)): int(n)
        for r, e, n in zip(open_children["repo"], open_children["epic"], open_children["n"], strict=False)
    }
    assert {
        (r, int(e)): int(n) for r, e, n in zip(fc["repo"], fc["epic"], fc["remaining_children"], strict=False)
    } == expected
    done = fc.dropna(subset=["p95"])
    assert ((done["p50"] <= done["p85"]) & (done["p85"] <= done["p95"])).all()
    for col in ("prob_done_by", "by_date", "expected_tasks", "thin_history", "beyond_horizon", "computed_at", "as_of"):
        assert col in fc.columns
    assert len(org) == 1 and org["open_epics"].iloc[0] == len(fc)
    charts = [Path(p) for p in summary["charts"]]
    assert charts and all(p.exists() and p.read_bytes()[:4] == b"\x89PNG" for p in charts)
    assert (tmp_path / "charts" / "org.png").exists()


def test_cli_json_matches_table_and_rates(forecasted, sandbox):
    settings, _, tmp_path = forecasted
    config = write_config(tmp_path, sandbox.url, Path(settings.database.path))
    with store.reader(settings.database.path) as con:
        table = json.loads(
            con.execute(f"SELECT {', '.join(KEYS)} FROM epic_forecast ORDER BY repo, epic")
            .fetchdf()
            .to_json(orient="records", date_format="iso")
        )
    rows = json.loads(run_cli(config, "--json").stdout)
    got = sorted(({k: r[k] for k in KEYS} for r in rows), key=lambda r: (r["repo"], r["epic"]))
    for r in table:
        for k in ("p50", "p85", "p95"):
            r[k] = r[k][:10] if r[k] else None
    assert got == table

    zero = json.loads(run_cli(config, "--json", "--rate", "0").stdout)
    busy = [r for r in zero if r["remaining_children"] > 0]
    assert busy and all(r["beyond_horizon"] and r["p50"] is None for r in busy)
    text = run_cli(config, "--rate", "0").stdout
    assert "beyond horizon" in text and "never complete" in text

    slow = {(r["repo"], r["epic"]): r["p85"] for r in json.loads(run_cli(config, "--json", "--rate", "1").stdout)}
    fast = {(r["repo"], r["epic"]): r["p85"] for r in json.loads(run_cli(config, "--json", "--rate", "50").stdout)}
    day = lambda text: date.fromisoformat(text[:10])  # noqa: E731
    both = [k for k in slow if slow[k] is not None and fast[k] is not None]
    # More capacity never makes an epic later, beyond Monte Carlo noise (a P85 moves a few days
    # between random streams), and makes some strictly earlier.
    assert all(day(fast[k]) <= day(slow[k]) + timedelta(days=7) for k in both)
    assert sum(day(fast[k]) < day(slow[k]) for k in both) >= len(both) // 2

    one = json.loads(run_cli(config, "--json", "--epic", f"{got[0]['repo']}#{got[0]['epic']}").stdout)
    assert [(r["repo"], r["epic"]) for r in one] == [(got[0]["repo"], got[0]["epic"])]


def test_backtest_prints_calibration(forecasted, sandbox):
    settings, _, tmp_path = forecasted
    config = write_config(tmp_path, sandbox.url, Path(settings.database.path))
    out = run_cli(config, "--backtest").stdout
    assert "Backtest" in out and "done by P85" in out
    data = json.loads(run_cli(config, "--backtest", "--json").stdout)
    assert {"calibration", "cutoffs", "notes"} <= set(data)
    if data["calibration"]:
        assert {"cover_p50", "cover_p85", "cover_p95", "p50_mae_days"} <= set(data["calibration"][-1])


def test_budget_forecast(forecasted):
    from tasks.forecast_store import budget_forecast

    settings, _, _ = forecasted
    slow = budget_forecast(settings, 30, rate=1, trials=2000)
    fast = budget_forecast(settings, 30, rate=50, trials=2000)
    assert len(fast["epics_done"]) >= len(slow["epics_done"])
    assert fast["rate"] == 50 and fast["days"] == 30
    total = len(slow["epics_done"]) + len(slow["epics_not_done"])
    assert len(fast["epics_done"]) + len(fast["epics_not_done"]) == total
