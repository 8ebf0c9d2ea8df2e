"""Stuck-PR reason codes: one table shared by stuck_prs.sql, the planner and execute's live re-check."""

from __future__ import annotations

import re
from datetime import datetime
from types import SimpleNamespace

import pandas as pd
import pytest

from analytics.planning import ACTION_TYPES, Member, PlanInputs, PlanRules, build_plan
from analytics.views import SQL_ROOT, view_definitions
from common.stuck import BY_CODE, STUCK_REASONS, reason_of
from tasks.live import ActionFailed
from tasks.live_checks import STILL_STUCK, _still_stuck

NOW = datetime(2026, 3, 2, 14, 0)
REPO = "acme/api"


def codes_in_sql() -> set[str]:
    """The codes stuck_prs.sql's `intervention_code` case can emit."""
    sql = (SQL_ROOT / "marts" / "stuck_prs.sql").read_text()
    case = re.search(r"case(.*?)end as intervention_code", sql, re.S)
    assert case is not None
    return set(re.findall(r"then '(\w+)'", case.group(1)))


def test_every_code_the_sql_emits_has_text_an_action_and_a_live_check():
    emitted = codes_in_sql()
    assert emitted == set(BY_CODE)  # no code without a row, no row the SQL never emits
    for code in emitted:
        reason = BY_CODE[code]
        assert reason.text and reason.action in ACTION_TYPES
        assert reason.action != "nudge_pr" or reason.comment
        assert code in STILL_STUCK


def test_the_view_shows_the_tables_english_text():
    sql = dict(view_definitions())["stuck_prs"]
    for reason in STUCK_REASONS:
        assert f"('{reason.code}', '{reason.text}')" in sql


def test_nudge_texts_are_the_ones_agents_always_read():
    assert {r.code: r.comment for r in STUCK_REASONS if r.action == "nudge_pr"} == {
        "conflicting": "fix the merge conflict",
        "changes_requested": "fix the code reviews",
        "unresolved_threads": "fix the code reviews",  # the runbook's Stage 3 asks the same way
        "ci_failing": "the checks are failing: please fix them",
        "stale": "is this still moving? please push your progress or say what blocks you",
    }


def test_a_reason_is_found_by_code_or_by_its_english_text():
    assert reason_of("behind") is BY_CODE["behind"]
    assert reason_of(None, "update branch") is BY_CODE["behind"]  # frames from before the code column
    assert reason_of(None, None) is None and reason_of("nope") is None


def plan_for(stuck: list[dict]) -> list:
    inputs = PlanInputs(now_local=NOW, now_utc=NOW, members=[Member("m", 0, ["*"])], stuck=pd.DataFrame(stuck))
    return build_plan(inputs, PlanRules(), {REPO}).actions


@pytest.mark.parametrize("reason", STUCK_REASONS, ids=lambda r: r.code)
def test_the_planner_acts_on_the_code_as_it_did_on_the_text(reason):
    row = {"repo": REPO, "number": 5, "is_stuck": True, "count_nudges": 0, "base_ref": "dev"}
    by_code = plan_for([{**row, "intervention_code": reason.code, "intervention": None}])
    by_text = plan_for([{**row, "intervention": reason.text}])
    assert [a.action for a in by_code] == [reason.action] and by_code == by_text
    if reason.action != "escalate_pr":
        assert by_code[0].precondition == [{"check": "pr_still_stuck", "number": 5, "reason": reason.code}]


class OnePull:
    """A live reader with one open PR in the given state."""

    def __init__(self, **pull) -> None:
        self.data = {"number": 5, "state": "open", "mergeable": True, "mergeable_state": "clean",
                     "head": {"sha": "abc"}, "updated_at": "2026-03-02T13:00:00Z", **pull}  # fmt: skip
        self.client = SimpleNamespace(github_now=lambda: NOW)

    def pull(self, repo, number):
        return self.data

    def ci_failing(self, repo, sha):
        return False

    def changes_requested(self, repo, number):
        return False


def test_live_re_check_per_code():
    settings = SimpleNamespace(dispatch=SimpleNamespace(stale_pr_days=3))
    assert _still_stuck(OnePull(mergeable_state="dirty"), REPO, 5, "conflicting", settings) is None
    assert _still_stuck(OnePull(mergeable_state="behind"), REPO, 5, "behind", settings) is None
    assert _still_stuck(OnePull(), REPO, 5, "behind", settings) == "PR #5 is no longer behind"
    assert _still_stuck(OnePull(), REPO, 5, "ci_failing", settings) == "PR #5 is no longer ci failing"
    assert _still_stuck(OnePull(), REPO, 5, "stale", settings) == "PR #5 is no longer stale"
    assert _still_stuck(OnePull(state="closed", merged_at="x"), REPO, 5, "stale", settings) == "PR #5 is merged"
    with pytest.raises(ActionFailed, match="unknown stuck reason"):
        _still_stuck(OnePull(), REPO, 5, "sad", settings)
