"""Stage 1 of the plan: audits become implementation issues (and framework issues), finished audits close.

Pure: `stage1_actions(inputs, repos)` reads `audit_findings`, `audit_issues` and
`framework_candidates` (trusted instructions only) and returns the actions.
"""

from __future__ import annotations

from typing import Any

from analytics.frameworks import framework_issue_body, framework_issue_title
from analytics.planning.model import SEVERITY_RANK, Action, PlanInputs, grouped, marker, rows


def stage1_actions(inputs: PlanInputs, repos: set[str]) -> list[Action]:
    actions: list[Action] = []
    findings = [f for f in rows(inputs.findings) if f["repo"] in repos]
    filed: set[tuple[str, str]] = set()
    for f in findings:
        # The same finding in two audits of a repo (same fingerprint) needs one issue, not two.
        if f.get("implemented_by") is not None or (f["repo"], f["fingerprint"]) in filed:
            continue
        filed.add((f["repo"], f["fingerprint"]))
        key = f"{f['repo']}#{f['audit_number']}/{f['finding_index']}"
        body = (
            f"{f.get('text') or f['title']}\n\n"
            f"From audit #{f['audit_number']} (finding {f['finding_index']}): severity {f['severity']}, "
            f"type {f['type']}, scope {f.get('scope')}, complexity {f.get('complexity')}."
        )
        actions.append(
            Action(
                "create_issue",
                f["repo"],
                str(f["audit_number"]),
                f"Finding {f['finding_index']} of audit #{f['audit_number']} has no implementation issue yet.",
                payload={
                    "title": f["title"],
                    "body": body,
                    "labels": list(f.get("labels") or ["audit"]),
                    "audit_number": int(f["audit_number"]),
                    "finding_index": int(f["finding_index"]),
                    "fingerprint": f["fingerprint"],
                    "marker": marker("finding", f["fingerprint"]),
                    "key": key,
                },
                precondition=[{"check": "no_marker", "marker": marker("finding", f["fingerprint"])}],
                priority=10 + SEVERITY_RANK.get(f["severity"], 2),
            )  # fmt: skip
        )
    by_audit: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for f in findings:
        by_audit.setdefault((f["repo"], int(f["audit_number"])), []).append(f)
    for audit in rows(inputs.audits):
        if audit["repo"] not in repos:
            continue
        key = (audit["repo"], int(audit["number"]))
        members = by_audit.get(key, [])
        if not members and not audit.get("count_parse_warnings"):
            actions.append(_close_audit(audit, [], not_applicable=True))
        elif members and all(f.get("implemented_by") is not None for f in members):
            actions.append(_close_audit(audit, sorted({int(f["implemented_by"]) for f in members}), False))
    actions += _framework_actions(inputs, repos)
    return actions


def _close_audit(audit: dict[str, Any], children: list[int], not_applicable: bool) -> Action:
    number = int(audit["number"])
    if not_applicable:
        comment, reason_text = (
            "No actionable finding in this audit: closing as not applicable.",
            "has no actionable finding",
        )
    else:
        comment = "Every finding now has its own issue: " + ", ".join(f"#{n}" for n in children) + "."
        reason_text = f"has all {len(children)} findings filed as issues"
    return Action(
        "close_audit", audit["repo"], str(number), f"Audit #{number} {reason_text}.",
        payload={"comment": comment, "state_reason": "not_planned" if not_applicable else "completed",
                 "children": children, "marker": marker("close-audit", number)},
        precondition=[{"check": "issue_open", "number": number}],
        priority=20,
    )  # fmt: skip


def _framework_actions(inputs: PlanInputs, repos: set[str]) -> list[Action]:
    actions = []
    for candidate_id, members in grouped(rows(inputs.frameworks), "candidate_id"):
        members.sort(key=lambda m: (m["repo"], m["audit_number"], m["finding_index"]))
        if any(m.get("implemented_by") is not None for m in members):
            continue
        home = max(sorted({m["repo"] for m in members}), key=lambda r: sum(m["repo"] == r for m in members))
        if home not in repos:
            continue
        actions.append(
            Action(
                "create_framework_issue",
                home,
                str(candidate_id),
                f"{len(members)} similar {members[0]['type']} findings across "
                f"{len({m['repo'] for m in members})} repos call for one framework fix.",
                payload={
                    "title": framework_issue_title(members[0]["title"]),
                    "body": framework_issue_body(members),
                    "labels": ["framework", f"type:{members[0]['type']}"],
                    "members": [{k: m[k] for k in ("repo", "audit_number", "finding_index")} for m in members],
                    "marker": marker("framework", candidate_id),
                },
                precondition=[{"check": "no_marker", "marker": marker("framework", candidate_id)}],
                priority=15,
            )  # fmt: skip
        )
    return actions
