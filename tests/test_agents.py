"""Agent back-ends: the registry, the two built-in kinds, and a third kind added by one class and one config entry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, ClassVar

import pandas as pd
import pytest

from analytics.plan_rules import plan_rules
from analytics.planning import Member, PlanInputs, PlanRules, build_plan
from common.agents import (
    AGENT_KINDS,
    Agent,
    AssigneeAgent,
    LabelAgent,
    Request,
    agent_from_payload,
    register_agent,
)
from common.config import ConfigError, parse_settings, view_settings
from tasks import agents
from tasks.github_write import do_dispatch
from tasks.live import Live
from tasks.live_checks import check

REPO = "acme/api"
NOW = datetime(2026, 3, 2, 14, 0)


def settings_with(agent: dict[str, Any]):
    return parse_settings({"github": {"org": "acme"}, "agent": agent}, "orchestrator.toml")


# ── a fake GitHub: one issue, every request recorded ─────────────────────────


class FakeClient:
    def __init__(self) -> None:
        self.issue = {"number": 7, "state": "open", "labels": [], "assignees": [], "body": "", "handed_to": []}
        self.comments: list[dict[str, Any]] = []
        self.writes: list[tuple[str, str, Any]] = []

    def get(self, url: str, params: Any = None) -> SimpleNamespace:
        assert url == f"/repos/{REPO}/issues/7", url
        return SimpleNamespace(data=self.issue)

    def pages(self, url: str, params: Any = None):
        yield SimpleNamespace(data=self.comments if url.endswith("/comments") else [])

    def request(self, method: str, path: str, body: Any = None) -> SimpleNamespace:
        self.writes.append((method, path, body))
        if path.endswith("/comments"):
            comment = {"body": body["body"], "user": {"login": "orchestrator"}, "html_url": "c1"}
            self.comments.append(comment)
            return SimpleNamespace(data=comment)
        if path.endswith("/labels"):
            self.issue["labels"] += [{"name": name} for name in body["labels"]]
        elif path.endswith("/assignees") and method == "POST":
            self.issue["assignees"] += [{"login": login} for login in body["assignees"]]
        elif path.endswith("/assignees") and method == "DELETE":
            self.issue["assignees"] = [a for a in self.issue["assignees"] if a["login"] not in body["assignees"]]
        elif "/labels/" in path and method == "DELETE":
            gone = path.rsplit("/", 1)[1]
            self.issue["labels"] = [lab for lab in self.issue["labels"] if lab["name"] != gone]
        elif path.startswith("/handoff/"):
            self.issue["handed_to"] = [] if method == "DELETE" else [body["agent"]]
        return SimpleNamespace(data={})


def live() -> tuple[Live, FakeClient]:
    client = FakeClient()
    return Live(client, login="orchestrator"), client  # type: ignore[arg-type]


# ── the registry and `[agent]` ────────────────────────────────────────────────


def test_agent_section_builds_exactly_the_back_end_it_always_described():
    # `pr_authors` (the accounts its PRs come from) default from the agent's name
    assert settings_with({}).agent.backend() == LabelAgent(label="jules")
    assert "google-labs-jules[bot]" in LabelAgent(label="jules").pr_authors
    copilot = settings_with({"mode": "assignee", "assignee": "Copilot"}).agent.backend()
    assert copilot == AssigneeAgent(label="jules", assignee="Copilot") and copilot.name == "Copilot"
    assert settings_with({}).agent.backend().opened("Google-Labs-Jules[bot]")
    assert copilot.opened("copilot") and not copilot.opened("mira-k") and not copilot.opened(None)
    assert not LabelAgent(label="jules").opened("jules")  # a label is not an account
    assert set(AGENT_KINDS) >= {"label", "assignee"}


def test_unknown_agent_kind_and_missing_assignee_are_one_line_config_errors():
    with pytest.raises(ConfigError, match="agent.mode: Input should be 'label' or 'assignee'"):
        settings_with({"mode": "carrier-pigeon"})
    with pytest.raises(ConfigError, match="agent.assignee is required when agent.mode = 'assignee'"):
        settings_with({"mode": "assignee"})


def test_back_ends_plan_the_payload_and_precondition_plans_always_had():
    label, assignee = LabelAgent(label="jules"), AssigneeAgent(label="jules", assignee="copilot")
    assert label.payload() == {"mode": "label", "agent": "jules", "label": "jules", "assignee": None}
    assert assignee.payload() == {"mode": "assignee", "agent": "copilot", "label": "jules", "assignee": "copilot"}
    assert label.not_dispatched_check(7) == {"check": "lacks_label", "number": 7, "label": "jules"}
    assert assignee.not_dispatched_check(7) == {"check": "not_assigned", "number": 7, "login": "copilot"}
    rules = PlanRules(agent_mode="assignee", agent_assignee="copilot")  # the fields callers used to pass
    assert rules.backend() == assignee


def test_views_recognise_the_agent_through_the_settings_table():
    settings = settings_with({"mode": "assignee", "assignee": "Copilot", "label": "Jules"})
    stored = view_settings(settings)
    keys = ("agent_label", "agent_mode", "agent_assignee", "agent_labels", "agent_assignees")
    assert {k: stored[k] for k in keys} == {
        "agent_label": "Jules", "agent_mode": "assignee", "agent_assignee": "Copilot",
        "agent_labels": "jules", "agent_assignees": "copilot",
    }  # fmt: skip
    assert json.loads(stored["agents"]) == [{
        "name": "copilot", "kind": "assignee", "labels": ["jules"], "assignees": ["copilot"],
        "pr_authors": ["copilot", "copilot-swe-agent[bot]", "copilot[bot]"],
        "branch_prefixes": ["copilot-", "copilot/"],
    }]  # fmt: skip


def test_a_payload_names_its_back_end_and_the_configured_one_fills_the_gaps():
    configured = AssigneeAgent(label="jules", assignee="copilot")
    assert agent_from_payload({"mode": "label", "label": "bot"}, configured) == LabelAgent("bot", "copilot")
    assert agent_from_payload({}, configured) == configured  # an old plan without agent fields


@pytest.mark.parametrize(
    ("agent", "holds_after"),
    [
        (LabelAgent(label="jules"), lambda issue: [lab["name"] for lab in issue["labels"]] == ["jules"]),
        (AssigneeAgent(assignee="copilot"), lambda issue: [a["login"] for a in issue["assignees"]] == ["copilot"]),
    ],
)
def test_dispatch_is_idempotent_and_undo_takes_it_back(agent, holds_after):
    reader, client = live()
    assert agents.dispatched(reader, agent, REPO, 7) is False
    agents.dispatch(reader, agent, REPO, 7)
    agents.dispatch(reader, agent, REPO, 7)  # a second run finds it done: no second write
    assert holds_after(client.issue) and len(client.writes) == 1
    assert agents.dispatched(reader, agent, REPO, 7) is True
    agents.undo(reader, agent, REPO, 7)
    assert agents.dispatched(reader, agent, REPO, 7) is False
    assert client.writes[-1][0] == "DELETE"


def test_dispatched_is_unknown_when_github_cannot_say():
    class Down:
        def issue(self, repo, number):
            raise ConnectionError("refused")

    assert agents.dispatched(Down(), LabelAgent(), REPO, 7) is None  # type: ignore[arg-type]


# ── a third kind: one class, one config entry, nothing else touched ─────────


@dataclass(frozen=True)
class HandoffAgent(Agent):
    """A made-up agent service that takes issues through its own endpoint."""

    kind: ClassVar[str] = "handoff"

    def holds(self, issue: dict[str, Any]) -> bool:
        return self.label in issue.get("handed_to", [])

    def dispatch_request(self, repo: str, number: int) -> Request:
        return Request("POST", f"/handoff/{repo}/{number}", {"agent": self.label})

    def undo_request(self, repo: str, number: int) -> Request:
        return Request("DELETE", f"/handoff/{repo}/{number}")


@pytest.fixture
def handoff_kind():
    register_agent(HandoffAgent)
    yield
    AGENT_KINDS.pop(HandoffAgent.kind)


def test_a_third_back_end_plans_and_executes_a_dispatch(handoff_kind):
    settings = settings_with({"mode": "handoff", "label": "robot"})  # the one config entry
    assert view_settings(settings)["agent_labels"] == "robot"
    inputs = PlanInputs(
        now_local=NOW, now_utc=NOW, members=[Member("m", 10, ["*"])],
        repositories=pd.DataFrame([{"repo": REPO, "default_branch": "main"}]),
        ready=pd.DataFrame([{"repo": REPO, "number": 7, "epic": None, "phase": None, "severity": "high",
                             "queue_position": 1}]),
    )  # fmt: skip
    plan = build_plan(inputs, plan_rules(settings), {REPO})
    (dispatch,) = [a for a in plan.actions if a.action == "dispatch"]
    assert dispatch.payload["mode"] == "handoff" and dispatch.payload["label"] == "robot"
    agent_fields = {"mode": "handoff", "agent": "robot", "label": "robot", "assignee": None}
    not_yet = {"check": "not_with_agent", "number": 7, "agent": agent_fields}
    assert not_yet in dispatch.precondition

    reader, client = live()
    assert check(reader, REPO, not_yet, settings) is None
    action = {"repo": REPO, "target": "7", "payload": dispatch.payload, "plan_id": "p1", "action": "dispatch"}
    do_dispatch(reader, action, settings)
    assert client.writes[0] == ("POST", f"/handoff/{REPO}/7", {"agent": "robot"})
    assert client.comments[0]["body"].startswith("Target branch: `main`")
    assert agents.dispatched(reader, agents.agent_for(dispatch.payload, settings), REPO, 7) is True
    assert check(reader, REPO, not_yet, settings) == "#7 is already with robot"


# ── several agents: `[[agents]]` ──────────────────────────────────────────────


def agents_settings(*tables: dict[str, Any], **extra: Any):
    return parse_settings({"github": {"org": "o"}, "agents": list(tables), **extra})


def test_agents_tables_build_one_named_back_end_each_and_the_views_recognise_all():
    settings = agents_settings(
        {"name": "jules", "kind": "label", "languages": ["Python"]},
        {"name": "codex", "kind": "label", "label": "codex-go", "max_in_flight": 3, "daily_quota": 40},
        {"name": "copilot", "kind": "assignee", "assignee": "Copilot", "branch_prefixes": ["cp/"]},
    )
    jules, codex, copilot = settings.agent_backends()
    assert (jules.name, jules.label, codex.name, codex.label) == ("jules", "jules", "codex", "codex-go")
    assert copilot == AssigneeAgent(label="copilot", assignee="Copilot", name="copilot", branch_prefixes=("cp/",))
    assert settings.agent_named("CODEX") == codex and settings.agent_named("nobody") is None
    assert settings.agent.agent_name == "jules"  # readers of one agent see the first
    assert settings.agent_sections[1].daily_quota == 40
    assert settings.agent_sections[0].covers("o/api", "python") and not settings.agent_sections[0].covers("o/api", "Go")
    stored = view_settings(settings)
    assert (stored["agent_labels"], stored["agent_assignees"]) == ("codex-go,copilot,jules", "copilot")
    assert [a["name"] for a in json.loads(stored["agents"])] == ["jules", "codex", "copilot"]
    assert codex.payload()["agent"] == "codex"
    assert agent_from_payload({"mode": "label", "agent": "codex", "label": "codex-go"}, jules).name == "codex"


def test_agent_and_agents_together_or_twice_the_same_name_are_one_line_errors():
    with pytest.raises(ConfigError, match=r"^orchestrator.toml: agent and agents: use \[agent\] for one agent"):
        agents_settings({"name": "a"}, agent={"label": "b"})
    with pytest.raises(ConfigError, match="agents: two agents are named 'a'"):
        agents_settings({"name": "a"}, {"name": "A"})
    with pytest.raises(ConfigError, match="agents.0.kind: Input should be 'label' or 'assignee'"):
        agents_settings({"name": "a", "kind": "pigeon"})


def test_recognition_patterns_have_defaults_per_known_agent_and_can_be_configured():
    assert "copilot/" in LabelAgent(label="copilot").branch_prefixes
    assert "google-labs-jules[bot]" in LabelAgent(label="jules").pr_authors
    assert LabelAgent(label="x", pr_authors=("me[bot]",)).recognition()["pr_authors"] == ["me[bot]"]
