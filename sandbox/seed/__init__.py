"""Demo organisation `dappcore`: the runbook's repo inventory with audits, epics, PRs and weeks of history.

`seed_demo(state, seed, now)` fills an empty `SandboxState` through its public methods, deterministic
in seed and now; `reset_demo` empties the state first. The state never imports this package.

- `inventory`: the repos, people and labels; `texts`: what the issues say
- `builder`: one repo's numbered history in order, everyday issues and open PRs of each kind
- `plans`: where a repo's open issues, audits and open PRs go; `epics`: core's and core-mcp's epics
- `history`: finished and half-done epics of the last weeks, woven into the free numbers
- `links`: native sub-issues, issue dependencies and review threads, laid over the finished organisation
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sandbox.models import AGENT_BOT, DEFAULT_LOGIN
from sandbox.seed.agent_history import DEMO_AGENTS, seed_agent_history
from sandbox.seed.builder import Builder
from sandbox.seed.epics import plan_core, plan_mcp_epic
from sandbox.seed.history import HISTORY_EPICS, EpicHistory
from sandbox.seed.inventory import INVENTORY, LABELS, MEMBERS, ORG, RepoSpec
from sandbox.seed.links import seed_links
from sandbox.seed.plans import plan_generic, plan_single_audit
from sandbox.state import SandboxState

__all__ = ["HISTORY_EPICS", "INVENTORY", "ORG", "reset_demo", "seed_demo"]

AGENT_HISTORY_PER_REPO = 12  # with agents: issues per repo dispatched to jules/codex over 90 days

# The demo's people: (login, account type, display name).
PEOPLE = (
    (DEFAULT_LOGIN, "User", "Snider"),
    ("bodane", "User", "Bodane"),
    (AGENT_BOT, "Bot", "Jules"),
    ("mira-k", "User", "Mira Kovač"),
    ("tomasz-w", "User", "Tomasz Wiśniewski"),
    ("aiko-t", "User", "相子 田中"),
    ("dependabot[bot]", "Bot", None),
    ("github", "Organization", "GitHub"),
)


def reset_demo(
    state: SandboxState, seed: int = 7, demo: bool = True, now: datetime | None = None, agents: bool = False
) -> None:
    """Empty the state, then (with demo) seed the demo organisation (with agents: two agents' history)."""
    with state.lock:
        state.reset()
        if demo:
            seed_demo(state, seed=seed, now=now, agents=agents)


def seed_demo(state: SandboxState, seed: int = 7, now: datetime | None = None, agents: bool = False) -> None:
    """Fill state with the dappcore demo organisation (deterministic in seed and now).

    With `agents`, two label agents (`DEMO_AGENTS`: jules, codex) with different strengths: the old
    jules fix PRs merge at jules's seeded rate on the repo's language, and `AGENT_HISTORY_PER_REPO`
    issues per repo written in a language the agents know carry 90 days of both agents' attempts.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    rng = random.Random(seed)
    with state.lock:
        for login, kind, name in PEOPLE:
            state.user(login, type=kind, name=name)
            state.backdate_account(login, now - timedelta(days=2000))
        state.add_org(ORG, name="dAppCore", members=MEMBERS)
        state.backdate_account(ORG, now - timedelta(days=1500))
        for spec in INVENTORY:
            before = rng.getstate()
            _seed_repo(state, spec, rng, now, seed, agents=agents)
            if any(e.repo == spec.name for e in HISTORY_EPICS):
                rng.setstate(_rng_without_history(spec, before, now, seed))
        seed_links(state)  # sub-issues, dependencies, review threads: over the finished organisation
        if agents:
            known = {spec.language for spec in INVENTORY if all(spec.language in a.rates for a in DEMO_AGENTS)}
            languages = {f"{ORG}/{s.name}": s.language for s in INVENTORY if s.language in known}
            seed_agent_history(state, languages, DEMO_AGENTS, now=now, per_repo=AGENT_HISTORY_PER_REPO, seed=seed)


def _rng_without_history(spec: RepoSpec, before: tuple, now: datetime, seed: int) -> tuple:
    """The shared random state after building the repo without its history epics (on a scratch state).

    The history epics take numbers the filler would have used, so the filler draws less; the repos
    built after this one must still be laid out (open issues, audits, PRs at their numbers) as before.
    """
    scratch = SandboxState()
    scratch.add_org(ORG, name="dAppCore", members=MEMBERS)
    plain = random.Random()
    plain.setstate(before)
    _seed_repo(scratch, spec, plain, now, seed, history=False)
    return plain.getstate()


def _seed_repo(
    state: SandboxState,
    spec: RepoSpec,
    rng: random.Random,
    now: datetime,
    seed: int = 7,
    history: bool = True,
    agents: bool = False,
) -> None:
    """One repo: its labels and first commits, then every issue/PR number from 1 on."""
    created = now - timedelta(days=430)
    repo = state.add_repo(
        ORG,
        spec.name,
        default_branch=spec.default_branch,
        language=spec.language,
        description=f"{spec.name} — part of the dAppCore platform",
        created_at=created,
    )
    for name, color, desc in LABELS:
        state.add_label(repo.full_name, name, color, desc)
    for i in range(3):  # some history on the default branch
        state.add_commit(
            repo.full_name,
            spec.default_branch,
            f"chore: bootstrap ({i + 1})",
            DEFAULT_LOGIN,
            created + timedelta(days=i),
        )
    b = Builder(state, rng, now, spec.name, spec)
    if agents:  # its own stream: the rest of the demo is laid out as without agents
        b.jules_outcomes = random.Random(f"{seed}/{spec.name}/jules")
    epics = [e for e in HISTORY_EPICS if e.repo == spec.name] if history else []
    if epics:  # its own random stream (see _rng_without_history): the rest of the demo stays as it was
        b.history = EpicHistory(b, epics, random.Random(f"{seed}/{spec.name}/history"))
    _plan_repo(b)
    b.build()
    times = [issue.updated_at for issue in state.repo_issues(repo.full_name)]
    state.set_repo_updated_at(repo.full_name, max([created, *times]))


def _plan_repo(b: Builder) -> None:
    """Lay out the repo's planned items by its kind: core, a small one-audit repo, core-mcp, or generic."""
    spec = b.spec
    if spec.name == "core":
        plan_core(b)
    elif spec.audits <= 1 and spec.open_issues <= 12:
        plan_single_audit(b)
    elif spec.name == "core-mcp":
        plan_mcp_epic(b)
        plan_generic(b, reserved_open=3)
    else:
        plan_generic(b)
