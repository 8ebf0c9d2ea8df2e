"""Execute's live precondition checks: does what the plan assumed still hold on GitHub right now?

`check(live, repo, condition, settings)` answers one precondition of a plan action (None: it
holds; else why not, one short sentence). A stuck PR is re-checked by its reason code
(`common.stuck`): `STILL_STUCK` has one live check per code.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from common.agents import build_agent
from common.config import Settings
from common.stuck import ESCALATE
from tasks.github_native import has_unresolved_threads
from tasks.live import ActionFailed, Live


def labels_of(item: dict[str, Any]) -> set[str]:
    return {(lab["name"] if isinstance(lab, dict) else str(lab)).lower() for lab in item.get("labels") or []}


def checkbox(number: int, ticked: bool) -> re.Pattern[str]:
    mark = "[xX]" if ticked else " "
    return re.compile(rf"(?m)^(\s*[-*+]\s+\[){mark}(\]\s+#{number})(?!\d)")


def _references(text: str | None, number: int) -> bool:
    """A closing keyword pointing at #number."""
    pattern = rf"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)[\s:]+#{number}(?!\d)"
    return bool(re.search(pattern, text or ""))


# ── one function per precondition kind ─────────────────────────────────────────

Check = Callable[[Live, str, dict[str, Any], Settings], "str | None"]


def _budget(live: Live, repo: str, condition: dict[str, Any], settings: Settings) -> str | None:
    return None  # checked while reserving, inside the ledger's lock


def _issue_open(live: Live, repo: str, condition: dict[str, Any], settings: Settings) -> str | None:
    number = condition.get("number")
    return None if live.issue(repo, number)["state"] == "open" else f"#{number} is closed"


def _issue_closed(live: Live, repo: str, condition: dict[str, Any], settings: Settings) -> str | None:
    number = condition.get("number")
    return None if live.issue(repo, number)["state"] == "closed" else f"#{number} is open"


def _lacks_label(live: Live, repo: str, condition: dict[str, Any], settings: Settings) -> str | None:
    number, label = condition.get("number"), str(condition["label"])
    item = live.issue(repo, number)
    return None if label.lower() not in labels_of(item) else f"#{number} already has label {label}"


def _not_assigned(live: Live, repo: str, condition: dict[str, Any], settings: Settings) -> str | None:
    number, login = condition.get("number"), str(condition["login"]).lower()
    assigned = {(a.get("login") or "").lower() for a in live.issue(repo, number).get("assignees") or []}
    return None if login not in assigned else f"#{number} is already assigned to {condition['login']}"


def _not_with_agent(live: Live, repo: str, condition: dict[str, Any], settings: Settings) -> str | None:
    """Any agent back-end's own "not dispatched yet" (the payload it planned with names it)."""
    number, payload = condition.get("number"), dict(condition.get("agent") or {})
    configured = settings.agent_named(payload.get("agent")) or settings.agent.backend()
    agent = build_agent(str(payload.get("mode") or configured.kind), payload, configured)
    return None if not agent.holds(live.issue(repo, number)) else f"#{number} is already with {agent.name}"


def _checkbox_unticked(live: Live, repo: str, condition: dict[str, Any], settings: Settings) -> str | None:
    number, child = condition.get("number"), int(condition["child"])
    body = live.issue(repo, number).get("body") or ""
    return None if checkbox(child, False).search(body) else f"#{number} has no unticked box for #{child}"


def _no_marker(live: Live, repo: str, condition: dict[str, Any], settings: Settings) -> str | None:
    kind_key = str(condition["marker"]).removeprefix("<!--").removesuffix("-->").strip()
    mkind, _, mkey = kind_key.removeprefix("orchestrator:").partition(" ")
    found = live.find_marked(repo, mkind, mkey.strip())
    return None if found is None else f"already created as #{found['number']}"


def _no_open_pr_for(live: Live, repo: str, condition: dict[str, Any], settings: Settings) -> str | None:
    number = int(condition["number"])
    hits = [p for p in live.pulls(repo) if _references(f"{p.get('title')}\n{p.get('body')}", number)]
    return None if not hits else f"open PR #{hits[0]['number']} already fixes #{number}"


def _branch_absent(live: Live, repo: str, condition: dict[str, Any], settings: Settings) -> str | None:
    present = live.branch_sha(repo, str(condition["branch"])) is not None
    return None if not present else f"branch {condition['branch']} exists"


def _branch_present(live: Live, repo: str, condition: dict[str, Any], settings: Settings) -> str | None:
    present = live.branch_sha(repo, str(condition["branch"])) is not None
    return None if present else f"branch {condition['branch']} does not exist"


def _no_open_pr_from(live: Live, repo: str, condition: dict[str, Any], settings: Settings) -> str | None:
    hits = live.pulls(repo, head=str(condition["head"]))
    return None if not hits else f"open PR #{hits[0]['number']} is from {condition['head']}"


def _pr_still_stuck(live: Live, repo: str, condition: dict[str, Any], settings: Settings) -> str | None:
    return _still_stuck(live, repo, int(condition["number"]), str(condition.get("reason")), settings)


CHECKS: dict[str, Check] = {
    "budget": _budget,
    "issue_open": _issue_open,
    "issue_closed": _issue_closed,
    "lacks_label": _lacks_label,
    "not_assigned": _not_assigned,
    "not_with_agent": _not_with_agent,
    "checkbox_unticked": _checkbox_unticked,
    "no_marker": _no_marker,
    "no_open_pr_for": _no_open_pr_for,
    "branch_absent": _branch_absent,
    "branch_present": _branch_present,
    "no_open_pr_from": _no_open_pr_from,
    "pr_still_stuck": _pr_still_stuck,
}


def check(live: Live, repo: str, condition: dict[str, Any], settings: Settings) -> str | None:
    """None when the condition holds on live GitHub, else why not (one short sentence)."""
    kind = condition.get("check")
    if kind not in CHECKS:
        raise ActionFailed(f"unknown precondition {kind!r}")
    return CHECKS[kind](live, repo, condition, settings)


# ── is the PR still stuck, for its reason code ────────────────────────────────

StillStuck = Callable[[Live, str, dict[str, Any], Settings], bool]


def _conflicting(live: Live, repo: str, pr: dict[str, Any], settings: Settings) -> bool:
    if pr.get("mergeable") is None:  # GitHub computes mergeability lazily: ask once more
        time.sleep(1)
        pr = live.pull(repo, pr["number"])
    return pr.get("mergeable") is False or pr.get("mergeable_state") == "dirty"


def _behind(live: Live, repo: str, pr: dict[str, Any], settings: Settings) -> bool:
    return pr.get("mergeable_state") == "behind"


def _ci_failing(live: Live, repo: str, pr: dict[str, Any], settings: Settings) -> bool:
    return live.ci_failing(repo, pr["head"]["sha"])


def _changes_requested(live: Live, repo: str, pr: dict[str, Any], settings: Settings) -> bool:
    return live.changes_requested(repo, pr["number"])


def _unresolved_threads(live: Live, repo: str, pr: dict[str, Any], settings: Settings) -> bool:
    return has_unresolved_threads(live, repo, int(pr["number"]))


def _stale(live: Live, repo: str, pr: dict[str, Any], settings: Settings) -> bool:
    updated = datetime.fromisoformat(pr["updated_at"].replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)
    # GitHub's clock (its Date header), not the host's: the two may disagree by days
    return live.client.github_now() - updated >= timedelta(days=settings.dispatch.stale_pr_days)


def _open(live: Live, repo: str, pr: dict[str, Any], settings: Settings) -> bool:
    """An escalation stands while the PR is open (its own preconditions check the label)."""
    return True


STILL_STUCK: dict[str, StillStuck] = {
    ESCALATE: _open,
    "conflicting": _conflicting,
    "changes_requested": _changes_requested,
    "unresolved_threads": _unresolved_threads,
    "ci_failing": _ci_failing,
    "behind": _behind,
    "stale": _stale,
}


def _still_stuck(live: Live, repo: str, number: int, reason: str, settings: Settings) -> str | None:
    """None when PR #number is open and still stuck for `reason` (a code of common.stuck), else why not."""
    pr = live.pull(repo, number)
    if pr["state"] != "open":
        return f"PR #{number} is {'merged' if pr.get('merged_at') else 'closed'}"
    if reason not in STILL_STUCK:
        raise ActionFailed(f"unknown stuck reason {reason!r}")
    stuck = STILL_STUCK[reason](live, repo, {"number": number, **pr}, settings)
    return None if stuck else f"PR #{number} is no longer {reason.replace('_', ' ')}"
