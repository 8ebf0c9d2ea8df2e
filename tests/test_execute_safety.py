"""Execute's safety beyond idempotence: readers never wait on GitHub, an unreachable GitHub stops
the run early, and one nudge per PR per cooldown however many plans asked for one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from flows.execute import execute
from tasks import store
from tests.conftest import make_settings, write_config
from tests.test_execute import ORG, ROOT, insert_plan, ledger_rows, open_plain_issues, writes

pytestmark = pytest.mark.usefixtures("prefect_harness")

PHP = f"{ORG}/core-php"


def cli(config: Path, *args: str) -> subprocess.Popen:
    """`orchestrator --config … execute …` in a new process, logging as a user's terminal does."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value() or "", "GITHUB_TOKEN": "sandbox-token"}
    env.pop("PREFECT_LOGGING_LEVEL", None)  # the command's own default: only its one-line errors
    code = "import orchestrator.cli as c; c.app()"
    return subprocess.Popen(
        [sys.executable, "-c", code, "--config", str(config), *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def open_pulls(state, repo: str) -> list[int]:
    r = state.repo(repo)
    return sorted(n for (rid, n), i in state.issues.items() if rid == r.id and i.is_pull and i.state == "open")


def nudge(number: int, comment: str = "please rebase") -> dict:
    return {"action": "nudge_pr", "repo": PHP, "target": str(number), "payload": {"comment": comment}}


def nudges_on(state, number: int, login: str = "Snider") -> int:
    """Our nudge comments on PR #number (any plan's marker)."""
    issue = state.issue(PHP, number)
    return sum(
        1 for c in state.comments
        if c.repo_id == issue.repo_id and c.issue_number == number and c.user == login
        and "<!-- orchestrator:nudge " in (c.body or "")
    )  # fmt: skip


# ── item 3: no database lock while on the network ─────────────────────────────


def test_readers_never_fail_while_an_execute_waits_on_a_slow_github(sandbox, tmp_path):
    """Each request takes a second; `orchestrator sql`'s read-only open (with a short wait here,
    0.8 s) keeps succeeding: the lock is held only to read and write ledger rows."""
    state = sandbox.state
    db = tmp_path / "slow.duckdb"
    config = write_config(tmp_path, sandbox.url, db)
    settings = make_settings(sandbox.url, db)
    plain = open_plain_issues(state, "core-php")
    insert_plan(settings, "p-slow", [
        {"action": "nudge_pr", "repo": PHP, "target": "94", "payload": {"comment": "fix the merge conflict"},
         "precondition": [{"check": "pr_still_stuck", "number": 94, "reason": "conflicting"}]},
        {"action": "dispatch", "repo": PHP, "target": str(plain[0]), "cost": 1, "member": "Snider",
         "payload": {"mode": "label", "label": "jules", "comment": "Target branch: `dev`"},
         "precondition": [{"check": "lacks_label", "number": plain[0], "label": "jules"},
                          {"check": "budget", "member": "Snider"}]},
        {"action": "link_child", "repo": PHP, "target": str(plain[1]), "payload": {"epic": 81},
         "precondition": [{"check": "issue_open", "number": plain[1]}]},
    ])  # fmt: skip
    state.request_log.clear()
    state.set_faults(latency_ms=1000)
    run = cli(config, "execute", "--apply")
    reads, errors = 0, []
    try:
        deadline = time.monotonic() + 120
        # loading the plan (which may create the schema) is a write as always: read once execute is on GitHub
        while not any(r["path"] == "/user" for r in state.request_log) and time.monotonic() < deadline:
            if run.poll() is not None:
                break
            time.sleep(0.05)
        while run.poll() is None and time.monotonic() < deadline:
            try:
                with store.reader(db, attempts=5) as con:
                    con.execute("SELECT count(*) FROM action_log").fetchone()
                reads += 1
            except duckdb.IOException as exc:
                errors.append(str(exc).splitlines()[0])
            time.sleep(0.1)
        out, err = run.communicate(timeout=60)
    finally:
        state.set_faults()
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, err
    assert not errors, errors[:3]
    assert reads >= 20  # the run took many seconds, and the readers were in all along
    assert [row[1] for row in ledger_rows(settings, "p-slow").values()] == ["done", "done", "done"]


# ── item 3: stop early when GitHub is unreachable ─────────────────────────────


def die_after_who_am_i(state, monkeypatch) -> None:
    """The sandbox answers until `GET /user` (execute's who-am-i), then stops listening."""
    log = state.log_request

    def logging_then_dying(method: str, path: str, *args, **kwargs) -> None:
        log(method, path, *args, **kwargs)
        if path == "/user":
            state.set_faults(stop_after=0)

    monkeypatch.setattr(state, "log_request", logging_then_dying)


def test_an_unreachable_github_stops_the_run_with_one_line_and_leaves_the_rest(sandbox, tmp_path, monkeypatch):
    state = sandbox.state
    db = tmp_path / "down.duckdb"
    config = write_config(tmp_path, sandbox.url, db)
    settings = make_settings(sandbox.url, db)
    pulls = open_pulls(state, PHP)  # 4 PRs, each nudged twice (different wording, one plan)
    plan = [nudge(n) for n in pulls] + [nudge(n, "still stuck") for n in pulls]
    insert_plan(settings, "p-down", plan)
    die_after_who_am_i(state, monkeypatch)  # then every request meets a refused connection
    run = cli(config, "execute", "--apply")
    out, err = run.communicate(timeout=180)  # a hang guard, not a speed check (make bench times it)

    assert run.returncode != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err + out
    assert (
        f"execute stopped: GitHub unreachable (3 consecutive network failures); {len(plan)} actions left "
        "for the next run"
    ) in lines[0]
    rows = ledger_rows(settings, "p-down")
    assert sorted(rows) == [1, 2, 3]  # the unreached actions have no row at all
    assert all(r[1] == "failed" and r[2].startswith("GitHub unavailable: ") for r in rows.values())

    # GitHub back: the next run does every action, each once
    monkeypatch.undo()
    state.set_faults()
    sandbox.stop()
    sandbox.port = 0
    sandbox.start()
    state.request_log.clear()
    summary = execute(make_settings(sandbox.url, db), plan_id="p-down", apply=True)
    assert "stopped" not in summary
    # the second nudge of each PR waits for the cooldown
    assert summary["by_status"] == {"done": len(pulls), "skipped": len(pulls)}
    assert sorted(path for _, path in writes(state)) == sorted(f"/repos/{PHP}/issues/{n}/comments" for n in pulls)


def test_nothing_listening_fails_at_once_with_one_line(sandbox, tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    db = tmp_path / "nobody.duckdb"
    config = write_config(tmp_path, f"http://127.0.0.1:{port}", db)
    insert_plan(make_settings(f"http://127.0.0.1:{port}", db), "p-nobody", [nudge(94)])
    began = time.monotonic()
    run = cli(config, "execute", "--apply")
    out, err = run.communicate(timeout=180)
    assert run.returncode != 0 and time.monotonic() - began < 120
    assert len(err.strip().splitlines()) == 1 and "cannot reach the GitHub API" in err, err
    assert ledger_rows(make_settings(f"http://127.0.0.1:{port}", db), "p-nobody") == {}


def test_stop_rules_count_failures_in_a_row_and_the_deadline(settings):
    from tasks.execute_guards import StopRules

    now = [0.0]
    settings.github.stop_after_failures = 2
    settings.github.execute_deadline_minutes = 1
    rules = StopRules(settings, clock=lambda: now[0])
    rules.observe(unreachable=True, talked_to_github=False)
    rules.observe(unreachable=False, talked_to_github=False)  # no request (e.g. refused repo): no reset
    assert rules.reason() is None
    rules.observe(unreachable=False, talked_to_github=True)  # GitHub answered: the count starts again
    rules.observe(unreachable=True, talked_to_github=False)
    assert rules.reason() is None
    rules.observe(unreachable=True, talked_to_github=False)
    assert rules.reason() == "GitHub unreachable (2 consecutive network failures)"
    fresh = StopRules(settings, clock=lambda: now[0])
    now[0] = 61
    assert "deadline of 1 minutes reached" in fresh.reason()


def test_the_deadline_leaves_the_rest_for_the_next_run(sandbox, settings):
    settings.github.execute_deadline_minutes = 0.02  # 1.2 s: the first action or two, no more
    pulls = open_pulls(sandbox.state, PHP)[:6]
    insert_plan(settings, "p-late", [nudge(n) for n in pulls])
    sandbox.state.set_faults(latency_ms=400)
    summary = execute(settings, plan_id="p-late", apply=True)
    sandbox.state.set_faults()
    done = len(ledger_rows(settings, "p-late"))
    assert 1 <= done < len(pulls)
    assert summary["stopped"] == (
        "execute stopped: deadline of 0.02 minutes reached (github.execute_deadline_minutes); "
        f"{len(pulls) - done} actions left for the next run"
    )


# ── item 5: one nudge per PR per cooldown ─────────────────────────────────────


def test_two_plans_made_before_an_apply_nudge_each_pr_once(sandbox, settings):
    state = sandbox.state
    first, second = open_pulls(state, PHP)[:2]
    before = {n: nudges_on(state, n) for n in (first, second)}
    insert_plan(settings, "p-n1", [nudge(first), nudge(second)])
    insert_plan(settings, "p-n2", [nudge(second, "still conflicting"), nudge(first, "still conflicting")])
    state.request_log.clear()

    one = execute(settings, plan_id="p-n1", apply=True)
    two = execute(settings, plan_id="p-n2", apply=True)

    assert one["by_status"] == {"done": 2} and two["by_status"] == {"skipped": 2}
    assert {n: nudges_on(state, n) - before[n] for n in (first, second)} == {first: 1, second: 1}
    assert [w for w in writes(state) if w[1].endswith("/comments")] == [
        ("POST", f"/repos/{PHP}/issues/{first}/comments"), ("POST", f"/repos/{PHP}/issues/{second}/comments"),
    ]  # fmt: skip
    reasons = [row[2] for row in ledger_rows(settings, "p-n2").values()]
    assert all(r.startswith("nudged ") and r.endswith("min ago, cooldown 12 h") for r in reasons), reasons


def test_github_comments_decide_too_on_githubs_clock_and_only_our_own(sandbox, settings, tmp_path):
    """A nudge another database recorded (or a run whose ledger was lost) is seen in the PR's
    comments; the cooldown is measured on GitHub's clock (11 days behind the host here), and a
    marker written by someone else is not ours."""
    state = sandbox.state
    ours, forged = open_pulls(state, PHP)[:2]
    before = nudges_on(state, ours)
    state.set_faults(clock_offset_seconds=-11 * 24 * 3600)
    state.add_comment(PHP, forged, "nudge\n\n<!-- orchestrator:nudge p-old -->", user="mira-k",
                      created_at=state.clock())  # fmt: skip
    elsewhere = make_settings(sandbox.url, tmp_path / "elsewhere.duckdb")
    insert_plan(elsewhere, "p-old", [nudge(ours)])
    assert execute(elsewhere, plan_id="p-old", apply=True)["by_status"] == {"done": 1}

    insert_plan(settings, "p-new", [nudge(ours), nudge(forged)])
    summary = execute(settings, plan_id="p-new", apply=True)
    rows = ledger_rows(settings, "p-new")
    assert rows[1][1] == "skipped" and rows[1][2].endswith("min ago, cooldown 12 h"), rows[1]
    assert rows[2][1] == "done"  # mira-k's marker is not our nudge
    assert summary["by_status"] == {"skipped": 1, "done": 1}
    assert nudges_on(state, ours) == before + 1  # the earlier one only

    # once the cooldown has passed on GitHub's clock, a nudge goes out again
    state.set_faults(clock_offset_seconds=-11 * 24 * 3600 + 13 * 3600)
    insert_plan(settings, "p-later", [nudge(ours)])
    later = execute(settings, plan_id="p-later", apply=True)
    assert later["by_status"] == {"done": 1}


def test_a_nudge_step_that_wrote_its_comment_before_a_failure_finishes_as_done(sandbox, settings):
    """The step's own comment (its plan's marker) is not a cooldown: the retry finds it and ends done."""
    state = sandbox.state
    number = open_pulls(state, PHP)[0]
    before = nudges_on(state, number)
    insert_plan(settings, "p-own", [nudge(number)])
    state.add_comment(PHP, number, "please rebase\n\n<!-- orchestrator:nudge p-own -->", created_at=state.clock())
    summary = execute(settings, plan_id="p-own", apply=True)
    assert summary["by_status"] == {"done": 1}
    assert nudges_on(state, number) == before + 1 and sandbox.state.writes() == []
