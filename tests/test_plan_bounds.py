"""Bounded plans: issue and write-action caps, their precedence, the held-back summary, framework text."""

from __future__ import annotations

import json
import random
from datetime import datetime

import pandas as pd
import pytest
from pydantic import ValidationError

from analytics.frameworks import framework_issue_body, framework_issue_title
from analytics.plan_bounds import Bounds, apply_bounds, held_back_note
from analytics.planning import Action, Member, PlanInputs, PlanRules, build_plan
from common.config import Settings

NOW = datetime(2026, 3, 2, 9, 0)


def findings(audits: dict[tuple[str, int], list[str]], implemented: bool = False) -> pd.DataFrame:
    """audit_findings rows: one per severity given, finding_index from 1."""
    return pd.DataFrame(
        [
            {"repo": repo, "audit_number": number, "finding_index": i, "fingerprint": f"{repo}-{number}-{i}",
             "title": f"finding {i} of audit {number}", "text": None, "severity": severity, "type": "security",
             "scope": None, "complexity": None, "labels": ["audit"], "implemented_by": 900 + i if implemented else None}
            for (repo, number), severities in audits.items()
            for i, severity in enumerate(severities, 1)
        ]
    )  # fmt: skip


def inputs(found: pd.DataFrame, audits: list[tuple[str, int]] | None = None, **frames) -> PlanInputs:
    repos = sorted(set(found["repo"])) if len(found) else ["acme/a"]
    audits = audits if audits is not None else sorted(set(zip(found["repo"], found["audit_number"], strict=True)))
    return PlanInputs(
        now_local=NOW,
        now_utc=NOW,
        members=[Member("m", 100, ["*"])],
        repositories=pd.DataFrame({"repo": repos, "default_branch": "main"}),
        findings=found,
        audits=pd.DataFrame(
            [{"repo": r, "number": n, "count_findings": 1, "count_parse_warnings": 0} for r, n in audits],
            columns=["repo", "number", "count_findings", "count_parse_warnings"],
        ),
        tiers=pd.DataFrame({"repo": repos, "rank": range(1, len(repos) + 1)}),
        **frames,
    )


def rules(*caps: int) -> PlanRules:
    return PlanRules(refill_high=1000.0, bounds=Bounds(*caps))  # Stage 1 on every repo with work


def plan_of(found: pd.DataFrame, *caps: int, **frames):
    made = inputs(found, **frames)
    return build_plan(made, rules(*caps), set(made.repositories["repo"]))


FOUR_AUDITS = {
    (repo, number): ["critical"] * 5 + ["high"] * 5 + ["medium"] * 20
    for repo, number in (("acme/a", 1), ("acme/a", 2), ("acme/b", 3), ("acme/b", 4))
}


def created(plan) -> list[tuple[str, int, int]]:
    issues = [a for a in plan.actions if a.action == "create_issue"]
    return [(a.repo, a.payload["audit_number"], a.payload["finding_index"]) for a in issues]


def test_caps_keep_the_most_severe_findings_first_and_say_what_waits():
    plan = plan_of(findings(FOUR_AUDITS), 50, 20, 200)
    audits = [("acme/a", 1), ("acme/a", 2), ("acme/b", 3), ("acme/b", 4)]
    expected = (
        [(r, n, i) for r, n in audits for i in range(1, 11)]  # every critical and high finding
        + [("acme/a", 1, i) for i in range(11, 21)]  # then the first audit's mediums, up to the per-plan cap
    )
    assert sorted(created(plan)) == sorted(expected)
    severities = [a.priority for a in plan.actions if a.action == "create_issue"]
    assert severities == sorted(severities)  # critical, then high, then medium, in execution order
    held = plan.summary["held_back"]
    assert held["max_new_issues_per_audit"] == {"limit": 20, "issues": 40,
                                                "audits": ["acme/a#1", "acme/a#2", "acme/b#3", "acme/b#4"]}  # fmt: skip
    assert held["max_new_issues_per_plan"] == {"limit": 50, "issues": 30}
    assert (
        "held back for the next plan: 40 issues (max_new_issues_per_audit 20: acme/a#1, acme/a#2, acme/b#3 "
        "and 1 more), 30 issues (max_new_issues_per_plan 50)"
    ) in plan.summary["notes"]
    assert plan.summary["by_action"]["create_issue"] == 50 == plan.summary["count_actions"]
    assert not any(a.action == "close_audit" for a in plan.actions)


def test_the_same_findings_in_any_row_order_give_the_same_plan():
    frame = findings(FOUR_AUDITS)
    shuffled = frame.sample(frac=1, random_state=random.Random(3).randint(0, 999)).reset_index(drop=True)
    assert created(plan_of(frame, 50, 20, 200)) == created(plan_of(shuffled, 50, 20, 200))


def test_no_summary_note_when_nothing_is_held_back():
    plan = plan_of(findings({("acme/a", 1): ["high"] * 3}), 50, 20, 200)
    assert len(created(plan)) == 3 and plan.summary["held_back"] == {}
    assert not any("held back" in note for note in plan.summary["notes"])


def test_an_audit_closes_only_when_every_finding_has_its_issue():
    done = findings({("acme/a", 7): ["high"] * 4}, implemented=True)
    waiting = findings({("acme/a", 8): ["high"] * 30})
    plan = plan_of(pd.concat([done, waiting], ignore_index=True), 50, 20, 200)
    closes = [a.target for a in plan.actions if a.action == "close_audit"]
    assert closes == ["7"]  # audit 8 has 10 findings held back: it stays open
    assert len(created(plan)) == 20


def test_a_close_audit_next_to_a_held_back_finding_is_dropped():
    issues = [Action("create_issue", "acme/a", "8", "r", payload={"audit_number": 8, "finding_index": i})
              for i in (1, 2, 3)]  # fmt: skip
    close = Action("close_audit", "acme/a", "8", "r")
    other = Action("close_audit", "acme/a", "9", "r")
    kept, held = apply_bounds([*issues, close, other], Bounds(50, 2, 200))
    assert kept == [*issues[:2], other]
    assert held["audits_left_open"] == ["acme/a#8"]
    assert held_back_note(held).endswith("; audits acme/a#8 stay open until every finding has its issue")


def _actions(kinds: list[str]) -> list[Action]:
    finding = {"audit_number": 1}
    return [
        Action(kind, "acme/a", str(i), "r", payload={**finding, "finding_index": i} if kind == "create_issue" else {})
        for i, kind in enumerate(kinds, 1)
    ]


def test_write_cap_keeps_unsticking_then_dispatches_before_new_issues():
    kinds = ["tick_checklist"] * 3 + ["nudge_pr"] * 2 + ["create_issue"] * 5 + ["link_child"] * 2 + ["dispatch"] * 4
    actions = _actions(kinds)
    kept, held = apply_bounds(actions, Bounds(50, 20, 10))
    assert [a.action for a in kept] == ["tick_checklist"] * 3 + ["nudge_pr"] * 2 + ["link_child"] + ["dispatch"] * 4
    assert [a.target for a in kept] == sorted((a.target for a in kept), key=int)  # plan order kept
    assert held["max_write_actions_per_plan"] == {"limit": 10, "actions": 6,
                                                  "by_action": {"create_issue": 5, "link_child": 1}}  # fmt: skip
    assert held_back_note(held) == (
        "held back for the next plan: 6 actions (max_write_actions_per_plan 10: 5 create_issue, 1 link_child)"
    )


def test_write_cap_through_the_planner_spends_the_budget_first():
    ready = pd.DataFrame(
        {"repo": "acme/a", "number": [501, 502, 503, 504, 505], "epic": None, "phase": None, "severity": "high",
         "queue_position": [1, 2, 3, 4, 5]}
    )  # fmt: skip
    plan = plan_of(findings({("acme/a", 1): ["critical"] * 40}), 50, 20, 8, ready=ready)
    assert plan.summary["by_action"] == {"create_issue": 3, "dispatch": 5}
    assert plan.summary["dispatched"] == 5 and plan.summary["cost"] == 5
    assert plan.summary["held_back"]["max_write_actions_per_plan"]["by_action"] == {"create_issue": 17}
    assert plan.summary["held_back"]["max_new_issues_per_audit"]["issues"] == 20


def test_zero_new_issues_pauses_stage_one_but_not_dispatch():
    ready = pd.DataFrame({"repo": "acme/a", "number": [501], "epic": None, "phase": None, "severity": "low",
                          "queue_position": [1]})  # fmt: skip
    plan = plan_of(findings({("acme/a", 1): ["high"] * 3}), 0, 20, 200, ready=ready)
    assert plan.summary["by_action"] == {"dispatch": 1}
    assert "3 issues (max_new_issues_per_plan 0)" in held_back_note(plan.summary["held_back"])


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("Framework: Missing CSRF (3 findings in 2 repos)", "Framework: Missing CSRF (3 findings in 2 repos)"),
        ("Framework: Framework: Missing CSRF", "Framework: Missing CSRF"),
        ("framework:FRAMEWORK :  Missing CSRF", "Framework: Missing CSRF"),
        ("[Framework] Missing CSRF", "Framework: Missing CSRF"),
        ("Framework(php): Missing CSRF", "Framework: Missing CSRF"),
        ("Frameworks are outdated", "Framework: Frameworks are outdated"),
        ("Framework:", "Framework: shared fix"),
    ],
)  # fmt: skip
def test_framework_titles_carry_one_prefix(candidate, expected):
    assert framework_issue_title(candidate) == expected


def test_framework_issue_lists_each_member_findings_own_title():
    members = [("acme/a", 1, 2, "SQL built by string concatenation in search"),
               ("acme/a", 4, 1, "Raw SQL in the report exporter"),
               ("acme/b", 3, 5, "Unescaped query in the admin filter")]  # fmt: skip
    frame = pd.DataFrame(
        [{"candidate_id": "fw-1", "repo": r, "audit_number": n, "finding_index": i, "type": "security",
          "title": "Framework: SQL built by string concatenation (3 findings in 2 repos)", "finding_title": t,
          "implemented_by": None} for r, n, i, t in members]
    )  # fmt: skip
    plan = plan_of(findings({("acme/a", 1): ["low"]}), 50, 20, 200, frameworks=frame)
    (action,) = [a for a in plan.actions if a.action == "create_framework_issue"]
    assert action.payload["title"] == "Framework: SQL built by string concatenation (3 findings in 2 repos)"
    for repo, number, index, title in members:
        assert f"- {repo}#{number} finding {index}: {title}\n" in action.payload["body"] + "\n"


def test_framework_body_stays_within_githubs_limit():
    members = [{"repo": "acme/a", "audit_number": 1, "finding_index": i, "finding_title": "x" * 500}
               for i in range(2000)]  # fmt: skip
    body = framework_issue_body(members)
    assert len(body) < 65_536 and body.count("\n- acme/a#1 finding ") > 100
    assert body.endswith("more findings (see `framework_candidates`)")
    assert "x" * 201 not in body  # each title is cut to 200 characters


def test_bounds_are_configurable_and_validated():
    dispatch = Settings.model_validate({"github": {"org": "acme"}}).dispatch
    assert (dispatch.max_new_issues_per_plan, dispatch.max_new_issues_per_audit,
            dispatch.max_write_actions_per_plan) == (50, 20, 200)  # fmt: skip
    for key, bad in (("max_new_issues_per_plan", -1), ("max_new_issues_per_audit", 0),
                     ("max_write_actions_per_plan", 0)):  # fmt: skip
        with pytest.raises(ValidationError, match=key):
            Settings.model_validate({"github": {"org": "acme"}, "dispatch": {key: bad}})


def test_plan_summary_json_round_trips():
    plan = plan_of(findings(FOUR_AUDITS), 50, 20, 200)
    assert json.loads(json.dumps(plan.summary, default=str))["held_back"]["max_new_issues_per_plan"]["issues"] == 30


# ── through the real views: a member's 300-finding audit in the sandbox ───────

_WORDS = (
    "cache token session query upload webhook invoice tenant export import login search report billing mailer "
    "queue scheduler payment profile avatar"
).split()
_VERBS = ("leaks", "skips validation in", "blocks on", "double counts", "ignores timeouts in", "logs secrets from",
          "races with", "crashes on empty", "retries forever in", "mis-sorts", "truncates", "drops errors from",
          "re-reads", "caches stale", "locks")  # fmt: skip


def _severity(i: int) -> str:
    return "critical" if i % 10 == 0 else "high" if i % 10 == 5 else "medium" if i % 2 else "low"


def huge_audit_body(count: int) -> str:
    """`count` bullet findings: every 10th critical, every 10th from 5 high, the rest medium and low."""
    lines = [
        f"- [{_severity(i).upper()}] The {_WORDS[i % 20]} module {_VERBS[i % 15]} the "
        f"{_WORDS[(i * 7 + 3) % 20]} handler (case {i})"
        for i in range(1, count + 1)
    ]
    return "## Findings\n\n" + "\n".join(lines)


def _planned(settings, plan_id: str) -> tuple[list[dict], dict]:
    from tasks import store

    with store.reader(settings.database.path) as con:
        rows = con.execute(
            "SELECT action, target, payload FROM plan_actions WHERE plan_id = ? ORDER BY seq", [plan_id]
        ).fetchall()
        (summary,) = con.execute("SELECT summary FROM dispatch_plans WHERE plan_id = ?", [plan_id]).fetchone()
    return [{"action": a, "target": t, **json.loads(p)} for a, t, p in rows], json.loads(summary)


@pytest.mark.usefixtures("prefect_harness")
def test_a_300_finding_audit_is_filed_at_most_50_a_plan_and_stays_open(sandbox, tmp_path, monkeypatch):
    from flows.execute import execute
    from flows.plan import plan_flow
    from flows.snapshot import snapshot
    from tests.conftest import make_settings

    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    sandbox.state.add_repo("dappcore", "huge-audit")
    audit = sandbox.state.add_issue(
        "dappcore/huge-audit", "[Audit] Everything, everywhere", huge_audit_body(300), labels=["audit"], user="bodane"
    )
    settings = make_settings(sandbox.url, tmp_path / "orchestrator.duckdb", repos=["huge-audit"])
    settings.dispatch.plans_dir = str(tmp_path / "plans")
    settings.dispatch.max_new_issues_per_audit = 300  # the per-plan cap (default 50) is the one that binds here
    settings.dispatch.refill_low = settings.dispatch.refill_high = 100.0  # Stage 1 runs in both rounds

    snapshot(settings)
    first = plan_flow(settings=settings)
    actions, stored = _planned(settings, first["plan_id"])
    filed = {a["finding_index"] for a in actions if a["action"] == "create_issue"}
    critical = set(range(10, 301, 10))
    high = set(range(5, 300, 10))
    assert len(filed) == 50 == sum(a["action"].startswith("create_") for a in actions)
    assert critical <= filed and filed - critical == set(sorted(high)[:20])  # the most severe first
    assert not any(a["action"] == "close_audit" for a in actions)
    held = stored["held_back"]["max_new_issues_per_plan"]
    assert held["limit"] == 50 and held["issues"] >= 250  # 250 findings (and the framework issues) wait
    note = f"{held['issues']} issues (max_new_issues_per_plan 50)"
    assert any(note in line for line in first["summary"]["notes"])
    document = json.loads((tmp_path / "plans" / f"{first['plan_id']}.json").read_text())
    assert document["summary"]["held_back"] == stored["held_back"]

    outcome = execute(settings, first["plan_id"], apply=True)
    assert outcome["by_status"] == {"done": len(actions)}, outcome["by_status"]
    snapshot(settings, full=True)
    second = plan_flow(settings=settings)
    actions, _ = _planned(settings, second["plan_id"])
    again = {a["finding_index"] for a in actions if a["action"] == "create_issue"}
    mediums = sorted(i for i in range(1, 301) if _severity(i) == "medium")
    assert len(again) == 50 and not again & filed
    assert again == set(sorted(high)[20:]) | set(mediums[:40])  # the next ones, in the same order
    assert not any(a["action"] == "close_audit" for a in actions)
    assert sandbox.state.issue("dappcore/huge-audit", audit.number).state == "open"
