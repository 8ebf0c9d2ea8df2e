"""Why a pull request is stuck: one list of reason codes, with their English text and what to do.

`analytics/marts/stuck_prs.sql` decides the code (`intervention_code`, in the runbook's order)
and shows this table's `text` as `intervention` for people; the planner turns a code into its
`action` (with `comment` for a nudge); execute re-checks the code on live GitHub before acting
(`tasks/live_checks.STILL_STUCK`). A new rule: a row here, a `when ... then '<code>'` in
stuck_prs.sql and a live check; tests/test_stuck_codes.py checks the three agree.
Pure: imported by analytics/ and tasks/ alike.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StuckReason:
    code: str  # stuck_prs.intervention_code; also the `reason` of a `pr_still_stuck` precondition
    text: str  # stuck_prs.intervention: what a person reads
    action: str  # the plan action it calls for
    comment: str | None = None  # a nudge's comment (the agent reads it)


ESCALATE = "escalate"

STUCK_REASONS: tuple[StuckReason, ...] = (
    StuckReason(ESCALATE, "escalate", "escalate_pr"),
    StuckReason("conflicting", "fix the merge conflict", "nudge_pr", "fix the merge conflict"),
    StuckReason("changes_requested", "fix the code reviews", "nudge_pr", "fix the code reviews"),
    # Review threads still open (GraphQL's reviewThreads; NULL from REST, then never this code). The
    # runbook's Stage 3 asks the agent the same way: "fix the code reviews".
    StuckReason("unresolved_threads", "fix the code reviews (unresolved threads)", "nudge_pr", "fix the code reviews"),
    StuckReason("ci_failing", "re-run CI", "nudge_pr", "the checks are failing: please fix them"),
    StuckReason("behind", "update branch", "update_branch"),
    StuckReason("stale", "ping", "nudge_pr", "is this still moving? please push your progress or say what blocks you"),
)

BY_CODE: dict[str, StuckReason] = {reason.code: reason for reason in STUCK_REASONS}
_BY_TEXT: dict[str, StuckReason] = {reason.text: reason for reason in STUCK_REASONS}


def reason_of(code: str | None, text: str | None = None) -> StuckReason | None:
    """The reason for a stuck_prs row: by its code, else by its English text (frames written
    before `intervention_code` existed); None when not stuck or unknown."""
    if code:
        return BY_CODE.get(code)
    return _BY_TEXT.get(text) if text else None


def sql_values() -> str:
    """The table as a SQL `values` list (code, text), rendered into stuck_prs.sql."""
    rows = ", ".join(f"('{r.code}', '{r.text.replace(chr(39), chr(39) * 2)}')" for r in STUCK_REASONS)
    return f"(values {rows}) as reasons(code, text)"
