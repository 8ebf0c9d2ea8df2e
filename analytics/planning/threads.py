"""Stage 3's "resolve threads": the agent's PRs' review threads whose code has changed since.

Pure. From `plan_review_threads` (unresolved and outdated threads of open PRs), one
`resolve_threads` action per PR the agent opened (`Agent.opened`), listing its threads; execute
re-reads each thread and resolves only those still unresolved and outdated. Nothing when
`dispatch.resolve_outdated_threads` is off: threads are then left to people. A person's PR is
never touched. No task cost: resolving spends no agent work.
"""

from __future__ import annotations

from analytics.planning.model import Action, PlanInputs, PlanRules, grouped, rows

MAX_THREADS_PER_ACTION = 100  # one action stays small; the rest waits for the next plan


def resolve_thread_actions(inputs: PlanInputs, rules: PlanRules, repos: set[str]) -> list[Action]:
    """One `resolve_threads` per agent PR of `repos` with outdated, unresolved threads."""
    if not rules.resolve_outdated_threads:
        return []
    agent = rules.backend()
    mine = [t for t in rows(inputs.threads) if t["repo"] in repos and agent.opened(t.get("author"))]
    actions: list[Action] = []
    for (repo, number), threads in grouped([{**t, "pr": (t["repo"], int(t["number"]))} for t in mine], "pr"):
        ids = sorted({str(t["thread_id"]) for t in threads})[:MAX_THREADS_PER_ACTION]
        actions.append(
            Action(
                "resolve_threads",
                repo,
                str(number),
                f"PR #{number} by the agent has {len(ids)} review thread(s) on code that has changed since.",
                payload={"threads": ids},
                precondition=[{"check": "issue_open", "number": number}],
                priority=9,
            )
        )
    return actions
