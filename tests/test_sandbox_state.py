"""The sandbox's state and seed without a server: the seam between them, the back-dated writes, and the demo.

The state knows nothing of the demo: `reset()` only empties it, `sandbox.seed.seed_demo` fills it
through public methods. These tests hold that line and pin the demo's data.
"""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sandbox.models import DEFAULT_LOGIN
from sandbox.seed import reset_demo, seed_demo
from sandbox.state import SandboxState

SANDBOX_DIR = Path(__file__).resolve().parents[1] / "sandbox"
SEED_DIR = SANDBOX_DIR / "seed"
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
T0 = datetime(2026, 1, 5, 10, tzinfo=UTC)
# The sha256 of the seed-7 demo at NOW (see demo_fingerprint). Change it only when the demo is
# changed on purpose: the organisation is what the docs, the benchmarks and the other tests describe.
DEMO_SEED_7 = "a8bf9d7af598562b5bde7e7f2817a112a7305d2384e464d5dfdf7c8c44f76e65"


def demo_fingerprint(state: SandboxState) -> str:
    """sha256 of everything the seed writes: people, repos with their git, issues, PRs, events, CI."""
    dump = {
        "users": {k: asdict(v) for k, v in state.users.items()},
        "orgs": sorted(state.orgs),
        "org_members": {k: sorted(v) for k, v in state.org_members.items()},
        "collaborators": {k: sorted(v) for k, v in state.collaborators.items()},
        "repos": {str(k): asdict(v) for k, v in state.repos.items()},
        "issues": {f"{k[0]}/{k[1]}": asdict(v) for k, v in state.issues.items()},
        "comments": [asdict(c) for c in state.comments],
        "events": [asdict(e) for e in state.events],
        "reviews": [asdict(r) for r in state.reviews],
        "check_runs": [asdict(r) for r in state.check_runs],
        "statuses": [asdict(s) for s in state.statuses],
        "review_threads": [asdict(t) for t in state.review_threads],
        "review_comments": [asdict(c) for c in state.review_comments],
    }
    return hashlib.sha256(json.dumps(dump, sort_keys=True, default=str).encode()).hexdigest()


def small_state() -> tuple[SandboxState, str, int]:
    state = SandboxState()
    state.reset()
    repo = state.add_repo("acme", "widgets", created_at=T0)
    issue = state.add_issue(repo.full_name, "Fix it", "body", created_at=T0)
    return state, repo.full_name, issue.number


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_state_does_not_import_the_seed():
    """One way only: the seed imports the state; the state's modules import none of the seed's."""
    state_files = [SANDBOX_DIR / "models.py", *sorted(SANDBOX_DIR.glob("state*.py"))]
    assert len(state_files) >= 5
    for path in state_files:
        ours = {m for m in imported_modules(path) if m.startswith("sandbox")}
        assert ours <= {
            "sandbox.models",
            "sandbox.state_git",
            "sandbox.state_issues",
            "sandbox.state_pulls",
            "sandbox.state_links",
            "sandbox.state_history",
            "sandbox.apps",  # GitHub Apps' state mixin
            "sandbox.write_limits",  # content-creation limits' state
        }, path.name


def test_the_seed_uses_only_public_state_methods():
    """No `state._x`, no reading the collections the state owns, no writing into a repo's branches."""
    owned = {"issues", "events", "comments", "reviews", "check_runs", "statuses", "users", "repos"}
    offences = []
    for path in sorted(SEED_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute):
                owner = node.value
                on_state = (isinstance(owner, ast.Name) and owner.id in ("state", "scratch")) or (
                    isinstance(owner, ast.Attribute) and owner.attr == "state"
                )
                if on_state and (node.attr.startswith("_") or node.attr in owned):
                    offences.append(f"{path.name}:{node.lineno} .{node.attr}")
            if isinstance(node, ast.Assign | ast.AugAssign):
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if isinstance(target, ast.Subscript) and ast.unparse(target.value).endswith("branches"):
                        offences.append(f"{path.name}:{node.lineno} writes {ast.unparse(target)}")
    assert offences == []


def test_reset_only_empties_and_reset_demo_seeds():
    state = SandboxState()
    reset_demo(state, seed=7, now=NOW)
    assert len(state.repos) == 16
    state.reset()
    assert (list(state.users), state.repos, state.issues, state.events) == ([DEFAULT_LOGIN.lower()], {}, {}, [])
    reset_demo(state, seed=7, demo=False, now=NOW)
    assert state.repos == {} and list(state.users) == [DEFAULT_LOGIN.lower()]


def test_the_demo_is_the_same_data_for_the_same_seed():
    state = SandboxState()
    reset_demo(state, seed=7, now=NOW)
    assert demo_fingerprint(state) == DEMO_SEED_7
    again = SandboxState()
    again.reset()
    seed_demo(again, seed=7, now=NOW)
    assert demo_fingerprint(again) == DEMO_SEED_7


def test_back_dated_label_and_close_happen_at_their_time_and_never_move_updated_at_back():
    state, full, number = small_state()
    later = T0 + timedelta(days=3)
    state.add_comment(full, number, "a comment", created_at=later)
    state.label_at(full, number, ["jules"], DEFAULT_LOGIN, T0 + timedelta(days=1))
    issue = state.issue(full, number)
    assert issue.labels == ["jules"] and issue.updated_at == later
    assert [(e.event, e.created_at) for e in state.events] == [("labeled", T0 + timedelta(days=1))]
    state.unlabel_at(full, number, "jules", DEFAULT_LOGIN, T0 + timedelta(days=4))
    assert issue.labels == [] and issue.updated_at == T0 + timedelta(days=4)
    state.close_at(full, number, "bodane", T0 + timedelta(days=5), reason="not_planned")
    assert (issue.state, issue.state_reason, issue.closed_by) == ("closed", "not_planned", "bodane")
    assert (issue.closed_at, issue.updated_at) == (T0 + timedelta(days=5), T0 + timedelta(days=5))
    assert state.events[-1].event == "closed" and state.events[-1].created_at == T0 + timedelta(days=5)


def test_redate_close_moves_the_close_and_its_events():
    state, full, number = small_state()
    state.close_at(full, number, DEFAULT_LOGIN, T0 + timedelta(days=5))
    state.redate_close(full, number, T0 + timedelta(days=2), commit_id="abc123")
    issue = state.issue(full, number)
    assert (issue.closed_at, issue.updated_at) == (T0 + timedelta(days=2), T0 + timedelta(days=2))
    closed = [e for e in state.events if e.event == "closed"]
    assert [(e.created_at, e.commit_id) for e in closed] == [(T0 + timedelta(days=2), "abc123")]


def test_quiet_edits_leave_the_dates_alone():
    state, full, number = small_state()
    before = state.issue(full, number).updated_at
    state.rewrite_body(full, number, "- [x] #2")
    state.bump_updated_at(full, number, T0 - timedelta(days=1))  # earlier: no change
    assert state.issue(full, number).body == "- [x] #2" and state.issue(full, number).updated_at == before
    pushed = state.repo(full).pushed_at
    sha = state.add_branch(full, "epic/1-x")
    assert sha == state.repo(full).branches["main"] and state.repo(full).pushed_at == pushed
    state.set_repo_updated_at(full, T0 + timedelta(days=9))
    state.backdate_account("acme", T0 - timedelta(days=100))
    assert state.repo(full).updated_at == T0 + timedelta(days=9)
    assert state.user("acme").created_at == T0 - timedelta(days=100)
    assert state.find_issue(full, 99) is None and [i.number for i in state.repo_issues(full)] == [number]
