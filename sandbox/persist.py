"""The sandbox's state as a JSON file: `orchestrator demo` saves it, `orchestrator sandbox --state` serves it again.

The objects are `sandbox.models`' dataclasses, dumped field by field (datetimes as ISO strings, sets
and tuples as lists) and rebuilt from their type hints. The request log and the rate-limit buckets
are not kept: a served state starts with an empty log and a fresh hour.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import asdict, fields, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sandbox.apps import App, Installation
from sandbox.models import (
    CheckRun,
    Comment,
    Event,
    Faults,
    Issue,
    Repo,
    Review,
    ReviewComment,
    ReviewThread,
    Status,
    User,
)
from sandbox.state import SandboxState

FORMAT = 1
# The state's lists of objects, by attribute, and the dataclass each holds.
LISTS: dict[str, type] = {"comments": Comment, "events": Event, "reviews": Review, "check_runs": CheckRun,
                          "statuses": Status, "review_threads": ReviewThread,
                          "review_comments": ReviewComment}  # fmt: skip


def _plain(value: Any) -> Any:
    """JSON's view of a dumped value (`json.dumps(default=...)`)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot save a {type(value).__name__}")


def state_dict(state: SandboxState) -> dict[str, Any]:
    """Everything the sandbox answers from, as JSON-ready data."""
    with state.lock:
        return {
            "format": FORMAT,
            "ids": state._ids,
            "sha_counter": state._sha_counter,
            "accepted_tokens": sorted(state.accepted_tokens),
            "token_users": dict(state.token_users),
            "rate_limit": state.rate_limit,
            "anonymous_rate_limit": state.anonymous_rate_limit,
            "users": {key: asdict(user) for key, user in state.users.items()},
            "orgs": sorted(state.orgs),  # the same objects as their `users` entries
            "org_members": {key: sorted(names) for key, names in state.org_members.items()},
            "collaborators": {key: sorted(names) for key, names in state.collaborators.items()},
            "repos": [asdict(repo) for repo in state.repos.values()],
            "issues": [asdict(issue) for issue in state.issues.values()],
            **{name: [asdict(item) for item in getattr(state, name)] for name in LISTS},
            "faults": asdict(state.faults),
            "fault_counter": state.fault_counter,
            # GitHub Apps (public keys only) and installations; installation tokens are not kept.
            "apps": [asdict(app) for app in state.apps.values()],
            "installations": [asdict(inst) for inst in state.installations.values()],
            "installation_token_seconds": state.installation_token_seconds,
        }


def save_state(state: SandboxState, path: str | Path) -> Path:
    """Write the state to `path` (JSON) and return it."""
    path = Path(path)
    path.write_text(json.dumps(state_dict(state), default=_plain), encoding="utf-8")
    return path


def _value(hint: Any, value: Any) -> Any:
    """`value` as JSON holds it, rebuilt as the type `hint` says."""
    if value is None:
        return None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _value(next(arg for arg in args if arg is not type(None)), value)
    if hint is datetime:
        return datetime.fromisoformat(value)
    if is_dataclass(hint):
        return build(hint, value)
    if origin is tuple:
        return tuple(_value(args[0], item) for item in value)
    if origin is list:
        return [_value(args[0], item) for item in value]
    if origin is dict:
        return {key: _value(args[1], item) for key, item in value.items()}
    return value


def build(cls: type, data: dict[str, Any]) -> Any:
    """One dataclass from its dumped fields."""
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _value(hints[f.name], data[f.name]) for f in fields(cls) if f.name in data})


def state_from_dict(data: dict[str, Any]) -> SandboxState:
    """A `SandboxState` answering as the dumped one did."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not a sandbox state file of format {FORMAT}")
    state = SandboxState(data["accepted_tokens"], data["rate_limit"], data["anonymous_rate_limit"])
    state.token_users = dict(data["token_users"])
    state._ids, state._sha_counter = data["ids"], data["sha_counter"]
    state.users = {key: build(User, user) for key, user in data["users"].items()}
    state.orgs = {key: state.users[key] for key in data["orgs"]}
    state.org_members = {key: set(names) for key, names in data["org_members"].items()}
    state.collaborators = {key: set(names) for key, names in data["collaborators"].items()}
    state.repos = {repo.id: repo for repo in (build(Repo, row) for row in data["repos"])}
    state.issues = {(issue.repo_id, issue.number): issue for issue in (build(Issue, row) for row in data["issues"])}
    for name, cls in LISTS.items():
        setattr(state, name, [build(cls, row) for row in data.get(name, [])])
    state.faults = build(Faults, data["faults"])
    state.fault_counter = data["fault_counter"]
    state.apps = {app.id: app for app in (build(App, row) for row in data.get("apps", []))}
    state.installations = {i.id: i for i in (build(Installation, row) for row in data.get("installations", []))}
    state.installation_token_seconds = data.get("installation_token_seconds", state.installation_token_seconds)
    return state


def load_state(path: str | Path) -> SandboxState:
    """Read a state `save_state` wrote; ValueError (one line) when the file is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file (`orchestrator demo` writes orchestrator-demo.sandbox.json)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a sandbox state file ({exc.__class__.__name__})") from None
    try:
        return state_from_dict(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: not a sandbox state file (missing or bad {exc})") from None
