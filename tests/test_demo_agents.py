"""The demo organisation with two agents (`reset_demo(agents=True)`): the rest of the org is laid out
as without them, jules's older fix PRs merge at jules's seeded rate on the repo's language, and both
agents have history where their strengths differ. Pure: the sandbox state, no server."""

from __future__ import annotations

from datetime import datetime

from sandbox.models import AGENT_BOT
from sandbox.seed import AGENT_HISTORY_PER_REPO, INVENTORY, ORG, reset_demo
from sandbox.seed.agent_history import DEMO_AGENTS
from sandbox.state import SandboxState

NOW = datetime(2026, 3, 2, 9, 0)


def demo(agents: bool) -> SandboxState:
    state = SandboxState()
    reset_demo(state, seed=7, now=NOW, agents=agents)
    return state


def test_two_agents_leave_the_rest_of_the_demo_as_it_was_and_jules_fails_where_it_is_weak():
    plain, both = demo(False), demo(True)
    merged: dict[str, list[bool]] = {}
    for spec in INVENTORY:
        full = f"{ORG}/{spec.name}"
        before = {i.number: i for i in plain.repo_issues(full)}
        after = {i.number: i for i in both.repo_issues(full) if i.number <= spec.numbers}
        assert [(n, i.title) for n, i in sorted(before.items())] == [(n, i.title) for n, i in sorted(after.items())]
        for number, issue in after.items():
            if issue.pull is not None and issue.user == AGENT_BOT and issue.title.startswith("fix: resolve #"):
                assert before[number].pull.merged  # without agents every old jules fix merges
                merged.setdefault(spec.language, []).append(issue.pull.merged)
        extra = [i for i in both.repo_issues(full) if i.number > spec.numbers and not i.is_pull]
        assert len(extra) == (AGENT_HISTORY_PER_REPO if spec.language in ("Go", "PHP", "TypeScript") else 0)
    jules = next(a for a in DEMO_AGENTS if a.name == "jules")
    for language in ("Go", "PHP"):
        share = sum(merged[language]) / len(merged[language])
        assert abs(share - jules.rate(language)) < 0.2, (language, share, len(merged[language]))
    assert sum(merged["Go"]) / len(merged["Go"]) < sum(merged["PHP"]) / len(merged["PHP"])
