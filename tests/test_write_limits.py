"""GitHub's content-creation limits: execute paces its writes, waits out a short refusal, defers the rest
on a long one (nothing failed, nothing written twice) and the next run carries on; the sandbox enforces
the limits with windows scaled to seconds. No assertion depends on how long anything took."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.write_pacing import in_window, wait_before_write
from sandbox import write_limits as sandbox_limits
from tasks.github_client import RateLimited, graphql_rate_limited, rate_limited
from tasks.write_limits import creates_content, refusal_wait
from tests.conftest import examples, make_settings, write_config

ORG = "dappcore"
T0 = datetime(2026, 3, 2, 9, 0, 0)

# ── the pacing arithmetic (pure) ──────────────────────────────────────────────

limits_strategy = st.lists(
    st.tuples(st.integers(1, 6), st.sampled_from([1.0, 2.0, 5.0, 60.0, 3600.0])), min_size=1, max_size=3
)
offsets = st.lists(st.integers(0, 4000), max_size=30)


@settings(max_examples=examples(300), deadline=None)
@given(limits=limits_strategy, sent=offsets, now=st.integers(0, 4000))
def test_the_wait_is_the_shortest_that_keeps_every_limit(limits, sent, now):
    times = [T0 + timedelta(seconds=s) for s in sent if s <= now]
    at = T0 + timedelta(seconds=now)
    wait = wait_before_write(times, at, limits)
    assert wait >= 0
    after = at + timedelta(seconds=wait)
    for count, window in limits:  # once waited, one more write stays within every limit
        assert len(in_window(times, after, window)) < count
    if wait > 0:  # and no shorter wait would do
        sooner = after - timedelta(seconds=0.5)
        assert any(len(in_window(times, sooner, window)) >= count for count, window in limits)


@settings(max_examples=examples(200), deadline=None)
@given(limits=limits_strategy, wanted=st.integers(1, 40), start=st.integers(0, 100))
def test_writes_sent_after_their_waits_never_pass_a_limit_in_any_window(limits, wanted, start):
    sent: list[datetime] = []
    clock = T0 + timedelta(seconds=start)
    for _ in range(wanted):
        clock += timedelta(seconds=wait_before_write(sent, clock, limits))
        sent.append(clock)
    for t in sent:
        for count, window in limits:
            assert len(in_window(sent, t, window)) <= count
    assert len(sent) == wanted


# ── GitHub's answers, classified ──────────────────────────────────────────────

SECONDARY = "You have exceeded a secondary rate limit and have been temporarily blocked from content creation."


def test_githubs_documented_limit_answers_are_rate_limits_and_other_403s_are_not():
    secondary = rate_limited(403, {"Retry-After": "30"}, SECONDARY, "/repos/o/r/issues")
    assert isinstance(secondary, RateLimited) and secondary.retry_after == 30 and secondary.secondary
    too_many = rate_limited(429, {}, "Too many requests", "/x")
    assert too_many is not None and too_many.retry_after is None
    primary = rate_limited(
        403,
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1772442000"},
        "API rate limit exceeded for user ID 1.",
        "/x",
    )  # noqa: E501
    assert primary is not None and primary.reset_at == 1772442000 and not primary.secondary
    assert rate_limited(403, {"x-ratelimit-remaining": "4999"}, "Resource not accessible by integration", "/x") is None
    assert rate_limited(404, {"Retry-After": "5"}, "Not Found", "/x") is None
    graphql = graphql_rate_limited(
        {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}]}, {}, "/graphql"
    )  # noqa: E501
    assert graphql is not None and graphql.status == 200
    assert graphql_rate_limited({"data": {"x": 1}}, {}, "/graphql") is None


def test_how_long_github_asked_to_wait():
    now = datetime(2026, 3, 2, 9, 0, 0)
    assert refusal_wait(RateLimited(403, SECONDARY, "/x", 42.0, None), now) == 42
    reset = int((now - datetime(1970, 1, 1)).total_seconds()) + 300
    assert refusal_wait(RateLimited(403, "API rate limit exceeded", "/x", None, reset), now) == 301
    assert refusal_wait(RateLimited(403, SECONDARY, "/x", None, None), now) == 60  # GitHub: at least a minute


def test_content_creating_requests_are_writes_and_graphql_mutations():
    assert not creates_content("GET", "/repos/o/r/issues", None)
    assert creates_content("POST", "/repos/o/r/issues", {"title": "x"})
    assert creates_content("PUT", "/repos/o/r/pulls/1/update-branch", {})
    assert creates_content("DELETE", "/repos/o/r/issues/1/labels/x", None)
    assert not creates_content("POST", "/graphql", {"query": "query { viewer { login } }"})
    assert creates_content("POST", "/graphql", {"query": "  mutation { addComment(input: {}) { clientMutationId } }"})
    for body in ({"query": "mutation M { x }"}, json.dumps({"query": "mutation M { x }"})):
        assert sandbox_limits.creates_content("POST", "/graphql", body)
    assert not sandbox_limits.creates_content("POST", "/graphql", json.dumps({"query": "{ viewer { login } }"}))


def test_the_sandbox_counts_each_users_writes_in_sliding_windows():
    from sandbox.state import SandboxState

    state = SandboxState()
    state.set_faults(write_limits=[[3, 2], [5, 10]])
    now = [100.0]
    admit = lambda who: sandbox_limits.admit(state, who, clock=lambda: now[0])  # noqa: E731
    assert [admit("a") for _ in range(3)] == [None, None, None]
    assert admit("a") == pytest.approx(2.0)  # the 4th within 2 s waits for the first to leave
    assert admit("b") is None  # counted per user
    now[0] += 2.5
    assert admit("a") is None and admit("a") is None
    assert admit("a") == pytest.approx(7.5)  # 5 in 10 s: until the first (t=100) leaves at 110
    with pytest.raises(ValueError, match="write_limits"):
        state.set_faults(write_limits=[[0, 1]])
    assert sandbox_limits.parse_option("80/60,500/3600") == [[80, 60.0], [500, 3600.0]]
    with pytest.raises(ValueError, match="COUNT/SECONDS"):
        sandbox_limits.parse_option("80")


# ── against the sandbox ───────────────────────────────────────────────────────


def _plan(sandbox, settings_, plan_id: str) -> list[dict]:
    from tests.test_execute import every_type_plan, insert_plan

    plan = every_type_plan(sandbox.state)
    insert_plan(settings_, plan_id, plan)
    return plan


def _statuses(settings_, plan_id: str) -> dict[int, str]:
    from tests.test_execute import ledger_rows

    return {seq: row[1] for seq, row in ledger_rows(settings_, plan_id).items()}


def _sent(settings_) -> int:
    from tasks import store

    with store.reader(settings_.database.path) as con:
        return con.execute("SELECT count(*) FROM write_log").fetchone()[0]


@pytest.mark.usefixtures("prefect_harness")
def test_a_short_retry_after_is_waited_out_inside_one_run(sandbox, tmp_path):
    from flows.execute import execute
    from tests.test_execute import writes

    settings_ = make_settings(sandbox.url, tmp_path / "short.duckdb")
    _plan(sandbox, settings_, "p-short")
    sandbox.state.set_faults(write_limits=[[2, 4]])  # retry-after of 4 s at most: waited (max_write_wait 120)
    sandbox.state.request_log.clear()
    summary = execute(settings_, apply=True)
    refused = [r for r in sandbox.state.writes() if r["status"] == 403]
    assert refused, "the sandbox never refused a write: the test proves nothing"
    assert summary.get("deferred") is None and "stopped" not in summary
    assert summary["by_status"] == {"done": 15, "failed": 1}  # the 16th is a repo outside the configuration
    assert summary["write_limits"]["refused"] == len(refused) and summary["write_limits"]["waits"] >= len(refused)
    assert len(writes(sandbox.state)) == 21  # every write once (test_execute's exact list: 20 + the native sub-issue)


@pytest.mark.usefixtures("prefect_harness")
def test_limited_runs_reach_the_unlimited_end_state_with_no_duplicate_and_no_failure(sandbox, tmp_path):
    from flows.execute import execute
    from sandbox.seed import reset_demo
    from tests.conftest import SANDBOX_NOW
    from tests.test_execute import github_state, writes

    free = make_settings(sandbox.url, tmp_path / "free.duckdb")
    _plan(sandbox, free, "p-same")
    assert execute(free, apply=True)["by_status"] == {"done": 15, "failed": 1}
    reference, reference_writes = github_state(sandbox.state), writes(sandbox.state)
    reference_statuses = _statuses(free, "p-same")

    reset_demo(sandbox.state, seed=7, now=SANDBOX_NOW)
    limited = make_settings(sandbox.url, tmp_path / "limited.duckdb", max_write_wait=2.5)
    _plan(sandbox, limited, "p-same")
    sandbox.state.set_faults(write_limits=[[3, 2], [6, 10]])  # a short window (waited) and a long one (deferred)
    sandbox.state.request_log.clear()
    deferrals, runs = 0, 0
    while runs < 40:
        runs += 1
        summary = execute(limited, apply=True)
        assert "failed" not in {s for seq, s in _statuses(limited, "p-same").items() if seq != 16}
        if not summary.get("deferred"):
            break
        deferrals += 1
        assert summary["deferred"]["message"].startswith(f"deferred {summary['deferred']['actions']} actions until ")
        _sleep_until_the_window_passes(summary)
    assert deferrals >= 1, "no run was deferred: the test proves nothing"
    assert github_state(sandbox.state) == reference
    assert sorted(writes(sandbox.state)) == sorted(reference_writes)  # nothing written twice
    assert _statuses(limited, "p-same") == reference_statuses


def _sleep_until_the_window_passes(summary: dict) -> None:
    """Between runs, as a person (or cron) would: the deferral says how long (a few seconds here)."""
    import time

    until = datetime.fromisoformat(summary["deferred"]["until"].removesuffix("Z"))
    time.sleep(min(max((until - datetime.utcnow()).total_seconds(), 0) + 0.2, 11))  # noqa: DTZ003


@pytest.mark.usefixtures("prefect_harness")
def test_pacing_counts_earlier_runs_writes_from_the_ledger_and_defers_without_failing(sandbox, tmp_path):
    from flows.execute import execute
    from tests.test_execute import writes

    paced = make_settings(sandbox.url, tmp_path / "paced.duckdb", writes_per_minute=4, max_write_wait=0)
    _plan(sandbox, paced, "p-paced")
    sandbox.state.request_log.clear()

    first = execute(paced, apply=True)
    assert first["write_limits"]["writes_sent"] == 4 and len(writes(sandbox.state)) == 4
    assert first["deferred"]["actions"] > 0 and "writes_per_minute" in first["deferred"]["reason"]
    statuses = _statuses(paced, "p-paced")
    assert "failed" not in statuses.values()

    second = execute(paced, apply=True)  # the same minute: already counted, so not one more write
    assert second["write_limits"]["writes_sent"] == 0 and len(writes(sandbox.state)) == 4
    assert second["deferred"]["actions"] == first["deferred"]["actions"]
    assert _statuses(paced, "p-paced") == statuses
    assert _sent(paced) == 4

    relaxed = paced.model_copy(update={"github": paced.github.model_copy(update={"writes_per_minute": 80})})
    last = execute(relaxed, apply=True)
    assert last.get("deferred") is None
    assert sorted(_statuses(paced, "p-paced").values()) == sorted(["done"] * 15 + ["failed"])
    assert len(writes(sandbox.state)) == 21  # the same 21 writes a single unlimited run makes: none twice


@pytest.mark.usefixtures("prefect_harness")
def test_the_command_prints_the_deferral_and_exits_75(sandbox, tmp_path):
    from typer.testing import CliRunner

    import orchestrator.commands.execute  # noqa: F401 - registers the command
    from orchestrator.cli_common import app

    db = tmp_path / "cli.duckdb"
    config = write_config(tmp_path, sandbox.url, db, extra="")
    marker = "seconds_between_writes = 0\n"
    config.write_text(config.read_text().replace(marker, marker + "max_write_wait = 1\n"))
    _plan(sandbox, make_settings(sandbox.url, db), "p-cli")
    sandbox.state.set_faults(write_limits=[[2, 3600]])  # an hour-long window: retry-after far beyond 1 s
    result = CliRunner().invoke(app, ["--config", str(config), "execute", "--apply"], env={"COLUMNS": "200"})
    assert result.exit_code == 75, result.output
    assert "deferred " in result.output and " actions until " in result.output and "Traceback" not in result.output
    assert "failed" not in set(_statuses(make_settings(sandbox.url, db), "p-cli").values())
    assert len([r for r in sandbox.state.writes() if r["status"] < 400]) == 2


def test_the_sandbox_answers_a_write_beyond_its_limit_as_github_does(sandbox):
    import httpx

    sandbox.state.set_faults(write_limits=[[1, 3600]])
    auth = {"Authorization": f"token {sandbox.token}"}
    url = f"{sandbox.url}/repos/{ORG}/core/issues/88/comments"
    assert httpx.post(url, json={"body": "one"}, headers=auth).status_code == 201
    refused = httpx.post(url, json={"body": "two"}, headers=auth)
    assert refused.status_code == 403
    assert 3000 <= int(refused.headers["Retry-After"]) <= 3600  # the hour-long window, whole seconds
    body = refused.json()
    assert body["message"].startswith("You have exceeded a secondary rate limit")
    assert body["documentation_url"].endswith("#about-secondary-rate-limits")
    assert httpx.get(url, headers=auth).status_code == 200  # reads are not content creation
    assert [c.body for c in sandbox.state.comments if c.body in ("one", "two")] == ["one"]
