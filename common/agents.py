"""Agent back-ends, the pure part: who an agent is, how a dispatch reaches it, how to recognise it.

One class per kind of back-end (`LabelAgent`: an issue label such as `jules`; `AssigneeAgent`:
assigning the agent's account, as the Copilot coding agent wants), registered in `AGENT_KINDS`
by its `kind`. Every layer asks the back-end instead of switching on a mode:

* the planner writes `payload()` into each `dispatch` action and `not_dispatched_check()` into
  its preconditions;
* execute (`tasks/agents.py`) sends `dispatch_request()` / `undo_request()` over the live client
  and asks `holds(issue)` whether an issue is with the agent;
* the snapshot's views recognise the agent from `recognition()`, stored in `run_settings`
  (`stg_settings.agent_labels`, `agent_assignees`), never by a mode switch in SQL.

Adding a back-end: one class here (subclass `Agent`, decorate with `@register_agent`) and one
config entry (`[agent] mode = "<kind>"`, or `kind = "<kind>"` in an `[[agents]]` table, plus its
fields). Several agents at once are several back-ends, each with its `name`. Pure: no network, no project imports.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar
from urllib.parse import quote


@dataclass(frozen=True)
class Request:
    """One GitHub write, described: execute sends it through the live client."""

    method: str
    path: str
    body: dict[str, Any] | None = None


def _lower_set(values: Any) -> set[str]:
    return {str(v).lower() for v in values or [] if v}


def _logins(item: dict[str, Any], key: str) -> set[str]:
    return {(entry.get("login") or "").lower() for entry in item.get(key) or [] if isinstance(entry, dict)}


def _label_names(item: dict[str, Any]) -> set[str]:
    return {(lab["name"] if isinstance(lab, dict) else str(lab)).lower() for lab in item.get("labels") or []}


# Signs of well-known agents' pull requests (the PR's author, its head branch), added to the
# generic ones every agent gets (`<name>[bot]`, `<name>` as author; `<name>/`, `<name>-` as branch).
KNOWN_PR_AUTHORS: dict[str, tuple[str, ...]] = {
    "jules": ("google-labs-jules[bot]", "jules[bot]"),
    "copilot": ("copilot", "copilot-swe-agent[bot]"),
    "codex": ("chatgpt-codex-connector[bot]", "codex[bot]"),
    "openhands": ("openhands-agent", "openhands[bot]"),
}
KNOWN_BRANCH_PREFIXES: dict[str, tuple[str, ...]] = {
    "copilot": ("copilot/",),
    "jules": ("jules-", "jules/"),
    "codex": ("codex/", "codex-"),
    "openhands": ("openhands-",),
}


def default_pr_authors(name: str) -> tuple[str, ...]:
    """The PR authors that mean `name` wrote the PR, when the config does not list them."""
    key = name.lower()
    return tuple(dict.fromkeys((*KNOWN_PR_AUTHORS.get(key, ()), f"{key}[bot]")))


def default_branch_prefixes(name: str) -> tuple[str, ...]:
    """The head-branch prefixes that mean `name` opened the PR, when the config does not list them."""
    key = name.lower()
    return tuple(dict.fromkeys((*KNOWN_BRANCH_PREFIXES.get(key, ()), f"{key}/", f"{key}-")))


@dataclass(frozen=True)
class Agent:
    """An agent back-end. `label` is the agent's label (recognised in the snapshot whatever the
    kind, as `[agent] label` always was); `assignee` its account, when it has one; `name` how
    people and plans call it (default: its account, else its label); `pr_authors` and
    `branch_prefixes` how its pull requests are recognised (defaults from its name)."""

    kind: ClassVar[str] = ""
    label: str = "jules"
    assignee: str | None = None
    name: str = ""
    pr_authors: tuple[str, ...] = ()
    branch_prefixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        name = self.name or self.assignee or self.label
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "pr_authors", tuple(self.pr_authors or default_pr_authors(name)))
        object.__setattr__(self, "branch_prefixes", tuple(self.branch_prefixes or default_branch_prefixes(name)))

    # ── what the planner writes ──────────────────────────────────────────────

    def payload(self) -> dict[str, Any]:
        """The agent fields of a `dispatch` action's payload: `agent` its name, `mode` its kind."""
        return {"mode": self.kind, "agent": self.name, "label": self.label, "assignee": self.assignee}

    def not_dispatched_check(self, number: int) -> dict[str, Any]:
        """The precondition saying #number is not with the agent yet (checked live before dispatch)."""
        return {"check": "not_with_agent", "number": number, "agent": self.payload()}

    # ── what execute does (sent by tasks/agents.py) ──────────────────────────

    def holds(self, issue: dict[str, Any]) -> bool:
        """Whether the live issue (GitHub's JSON) is with this agent."""
        raise NotImplementedError

    def dispatch_request(self, repo: str, number: int) -> Request:
        raise NotImplementedError

    def undo_request(self, repo: str, number: int) -> Request:
        raise NotImplementedError

    def opened(self, pr_author: str | None) -> bool:
        """Whether a pull request by `pr_author` is the agent's (its accounts, any case; for an
        assignee back-end its own account too, as the Copilot coding agent opens PRs as itself)."""
        mine = _lower_set(self.pr_authors) | (_lower_set([self.assignee]) if self.kind == "assignee" else set())
        return bool(pr_author) and str(pr_author).lower() in mine

    # ── what the snapshot's views recognise ──────────────────────────────────

    def recognition(self) -> dict[str, list[str]]:
        """Signs in the snapshot that an issue is with this agent: its labels (now, or ever added:
        label events), the accounts it is assigned to, the authors and head-branch prefixes of its
        pull requests. Lower-cased; stored in `run_settings`."""
        return {
            "labels": sorted(_lower_set([self.label])),
            "assignees": sorted(_lower_set([self.assignee])),
            "pr_authors": sorted(_lower_set(self.pr_authors)),
            "branch_prefixes": sorted(_lower_set(self.branch_prefixes)),
        }

    # ── building ─────────────────────────────────────────────────────────────

    @classmethod
    def from_fields(cls, values: dict[str, Any], fallback: Agent | None = None) -> Agent:
        """This kind from a config section or a plan payload; a field missing (or empty) there
        comes from `fallback` (the configured agent), as execute always read old plans."""
        chosen = {}
        values = {**values, "name": values.get("name") or values.get("agent")}  # a payload's `agent`
        for f in fields(cls):
            value = values.get(f.name)
            if not value and fallback is not None:
                value = getattr(fallback, f.name, None)
            if value is not None:
                chosen[f.name] = value
        return cls(**chosen)


AGENT_KINDS: dict[str, type[Agent]] = {}


def register_agent(cls: type[Agent]) -> type[Agent]:
    """Make `cls` available as `[agent] mode = cls.kind` (and as a plan payload's `mode`)."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} needs a kind")
    AGENT_KINDS[cls.kind] = cls
    return cls


@register_agent
@dataclass(frozen=True)
class LabelAgent(Agent):
    """Dispatch by adding the agent's label (Jules, OpenHands' GitHub resolver, ...)."""

    kind: ClassVar[str] = "label"

    def not_dispatched_check(self, number: int) -> dict[str, Any]:
        return {"check": "lacks_label", "number": number, "label": self.label}

    def holds(self, issue: dict[str, Any]) -> bool:
        return self.label.lower() in _label_names(issue)

    def dispatch_request(self, repo: str, number: int) -> Request:
        return Request("POST", f"/repos/{repo}/issues/{int(number)}/labels", {"labels": [self.label]})

    def undo_request(self, repo: str, number: int) -> Request:
        return Request("DELETE", f"/repos/{repo}/issues/{int(number)}/labels/{quote(self.label, safe='')}")


@register_agent
@dataclass(frozen=True)
class AssigneeAgent(Agent):
    """Dispatch by assigning the agent's account (the Copilot coding agent)."""

    kind: ClassVar[str] = "assignee"

    def not_dispatched_check(self, number: int) -> dict[str, Any]:
        return {"check": "not_assigned", "number": number, "login": self.assignee}

    def holds(self, issue: dict[str, Any]) -> bool:
        return str(self.assignee).lower() in _logins(issue, "assignees")

    def dispatch_request(self, repo: str, number: int) -> Request:
        return Request("POST", f"/repos/{repo}/issues/{int(number)}/assignees", {"assignees": [self.assignee]})

    def undo_request(self, repo: str, number: int) -> Request:
        return Request("DELETE", f"/repos/{repo}/issues/{int(number)}/assignees", {"assignees": [self.assignee]})


def agent_kinds() -> tuple[str, ...]:
    return tuple(AGENT_KINDS)


def build_agent(kind: str, values: dict[str, Any], fallback: Agent | None = None) -> Agent:
    """The back-end of `kind` (a registered one) from its fields."""
    try:
        cls = AGENT_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown agent kind {kind!r} (one of {', '.join(AGENT_KINDS)})") from None
    return cls.from_fields(values, fallback)


def agent_from_section(section: Any) -> Agent:
    """The back-end an `[agent]` section describes (`mode` is its kind). A later `[[agents]]` list
    builds one back-end per entry with this same function."""
    values = section.model_dump() if hasattr(section, "model_dump") else dict(section)
    return build_agent(str(values.get("mode") or LabelAgent.kind), values)


def agent_from_payload(payload: dict[str, Any], configured: Agent) -> Agent:
    """The back-end a dispatch action names (its `mode`), else the configured one; fields the
    payload lacks come from the configured agent."""
    return build_agent(str(payload.get("mode") or configured.kind), payload, configured)


def recognition_settings(agents: Agent | Sequence[Agent]) -> dict[str, str]:
    """The `run_settings` rows the views recognise the agents by: `agent_labels` and
    `agent_assignees` (comma-separated, every agent's), `agents` (JSON: one object per agent with
    its `name`, `kind`, `labels`, `assignees`, `pr_authors`, `branch_prefixes`; read by the view
    `stg_agents`), plus the single `agent_label` / `agent_mode` / `agent_assignee` keys of the
    first agent, which older readers use."""
    every = [agents] if isinstance(agents, Agent) else list(agents)
    first = every[0]
    signs = [(agent, agent.recognition()) for agent in every]
    described = [{"name": agent.name.lower(), "kind": agent.kind, **sign} for agent, sign in signs]
    return {
        "agent_label": first.label,
        "agent_mode": first.kind,
        "agent_assignee": first.assignee or "",
        "agent_labels": ",".join(sorted({name for _, sign in signs for name in sign["labels"]})),
        "agent_assignees": ",".join(sorted({name for _, sign in signs for name in sign["assignees"]})),
        "agents": json.dumps(described, sort_keys=True),
    }
