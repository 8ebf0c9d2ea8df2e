"""Writing GitHub for the execute flow: one idempotent function per action (`PERFORM`).

Every write is preceded by a read that finds what an earlier (possibly killed) run already
wrote, through our hidden markers, labels, branches and PR heads, so running an action twice
leaves GitHub as running it once. Creating requests (POST/PATCH) are not repeated blindly
after a 5xx (GitHub may have done the work): the marker is searched again first (`guarded`,
in `tasks.live`). The live precondition checks are `tasks.live_checks`; a dispatch goes
through the agent back-end (`tasks.agents`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import github
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from common.config import Settings, is_trusted_author
from common.sanitize import has_marker, marker, sanitize, with_marker
from tasks import agents
from tasks.github_client import GitHubClient, GitHubError, make_github
from tasks.github_native import add_sub_issue, do_resolve_threads
from tasks.live import WRITE_ATTEMPTS, ActionFailed, Live, PreconditionFailed, guarded
from tasks.live_checks import _still_stuck, check, checkbox, labels_of
from tasks.write_limits import paced

__all__ = [  # what execute (and tests) take from here; Live and the checks live next door
    "MARKER_KINDS", "PERFORM", "WRITE_ATTEMPTS", "ActionFailed", "Live", "PreconditionFailed", "_still_stuck",
    "allowed_repo", "check", "claim_key", "guarded", "is_transient", "make_writer",
]  # fmt: skip

# Which marker each creating action writes, and which payload field (or the target) keys it.
MARKER_KINDS: dict[str, str] = {
    "create_issue": "finding",
    "create_framework_issue": "framework",
    "create_epic": "epic",
    "link_child": "parent",
    "dispatch": "dispatch",
    "nudge_pr": "nudge",
    "escalate_pr": "escalate",
    "close_audit": "close-audit",
    "open_epic_pr": "epic-pr",
    "close_epic": "close-epic",
}
HUMAN_LABEL = "needs-human"


class WriteSafeRetry(github.GithubRetry):
    """PyGithub's retry (Retry-After, rate-limit reset, 5xx backoff), except that a 5xx answer to
    a POST/PATCH is returned to us: the write may have landed, so we look for it before repeating."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() in ("POST", "PATCH") and status_code >= 500:
            return False
        if status_code in (403, 429):  # a rate limit: urllib3 would sleep any Retry-After, even an hour;
            return False  # tasks.write_limits waits a short one and defers a long one
        return super().is_retry(method, status_code, has_retry_after)

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):  # noqa: ANN001
        """A POST/PATCH whose answer was lost (read timeout, dropped connection) may have landed:
        hand it back too. Only a connection that never opened is safe to repeat blindly."""
        sent = error is not None and not isinstance(error, ConnectTimeoutError | NewConnectionError)
        if sent and response is None and (method or "").upper() in ("POST", "PATCH"):
            raise MaxRetryError(_pool, url, reason=error) from error
        return super().increment(method, url, response, error, _pool, _stacktrace)


def make_writer(settings: Settings, token: str | None = None) -> GitHubClient:
    """A client like `make_github`'s, with writes paced (`tasks.write_limits`) and never blindly repeated."""
    retry = WriteSafeRetry(
        total=5,
        connect=2,
        backoff_factor=0.5,
        secondary_rate_wait=10,
        allowed_methods={"GET", "HEAD", "PUT", "DELETE", "POST", "PATCH"},
    )
    gh = make_github(settings, token, retry)
    return paced(GitHubClient(gh, token_source=settings.token_source), settings)  # GitHub's write limits


def is_transient(exc: BaseException) -> bool:
    """Worth trying again in a later run (GitHub down or unreachable), unlike a 4xx."""
    if isinstance(exc, GitHubError):
        return exc.status >= 500 or exc.status == 429
    return not isinstance(exc, ActionFailed | PreconditionFailed)


def allowed_repo(settings: Settings, repo: str) -> bool:
    """Only configured repositories may be written: the org's, and listed ones unless `["*"]`."""
    owner, _, name = repo.partition("/")
    if not name or owner.lower() != settings.github.org.lower():
        return False
    repos = settings.github.repos
    return "*" in repos or name.lower() in (r.lower() for r in repos)


# ── writing, idempotently ─────────────────────────────────────────────────────


def _url(item: dict[str, Any] | None) -> str | None:
    return (item or {}).get("html_url")


def with_labels(live: Live, repo: str, names: list[str], write: Callable[[], Any]) -> Any:
    """Run a write that sets labels. GitHub creates missing labels itself, so no label is created
    up front (that would be a write the plan did not ask for); a server that refuses unknown
    labels (422) gets them created, then the write once more."""
    try:
        return write()
    except GitHubError as exc:
        if exc.status != 422 or not names:
            raise
        _ensure_labels(live, repo, names)
        return write()


def _ensure_labels(live: Live, repo: str, names: list[str]) -> None:
    """Create the labels the repo lacks."""
    for name in names:
        if name.lower() in live.labels(repo):
            continue
        try:
            live.client.request("POST", f"/repos/{repo}/labels", body={"name": name, "color": "ededed"})
        except GitHubError as exc:
            if exc.status != 422:  # 422 already_exists: another run made it
                raise
        live.labels(repo).add(name.lower())


def _marker_key(action: dict[str, Any]) -> str:
    """The key of the action's marker, as docs/actions.md fixes it."""
    payload, name = action["payload"], action["action"]
    explicit = str(payload.get("marker") or "")
    if explicit:  # the plan may give `<!-- orchestrator:kind key -->`, `kind key` or just the key
        inner = explicit.removeprefix("<!--").removesuffix("-->").strip().removeprefix("orchestrator:")
        return inner.split()[-1]
    if name == "create_issue":
        return str(payload["fingerprint"])
    if name in ("link_child", "open_epic_pr"):
        return str(payload["epic"])
    if name in ("dispatch", "nudge_pr", "escalate_pr"):
        return str(action["plan_id"])
    return str(action["target"])


def _create_issue(live: Live, action: dict[str, Any]) -> str | None:
    repo, payload = action["repo"], action["payload"]
    kind, key = MARKER_KINDS[action["action"]], _marker_key(action)
    labels = [str(name) for name in payload.get("labels") or []]
    body = with_marker(payload.get("body"), kind, key)

    def write() -> dict[str, Any]:
        data = {"title": sanitize(payload["title"]), "body": body, "labels": labels}
        item = with_labels(
            live, repo, labels, lambda: live.client.request("POST", f"/repos/{repo}/issues", body=data)
        ).data
        live.remember(repo, item)
        return item

    item, _ = guarded(lambda: live.find_marked(repo, kind, key), write)
    return _url(item)


def _comment_once(live: Live, repo: str, number: int | str, text: str | None, kind: str, key: str) -> str | None:
    """Our marked comment on #number, written unless it is already there."""
    body = with_marker(text, kind, key)
    item, _ = guarded(
        lambda: live.find_comment(repo, number, kind, key),
        lambda: live.client.request("POST", f"/repos/{repo}/issues/{int(number)}/comments", body={"body": body}).data,
    )
    return _url(item)


def _close(live: Live, repo: str, number: int | str, reason: str = "completed") -> str | None:
    def closed() -> dict[str, Any] | None:
        item = live.issue(repo, number)
        return item if item["state"] == "closed" else None

    item, _ = guarded(
        closed,
        lambda: (
            live.client.request(
                "PATCH", f"/repos/{repo}/issues/{int(number)}", body={"state": "closed", "state_reason": reason}
            ).data
        ),
    )
    return _url(item)


def _add_label(live: Live, repo: str, number: int | str, label: str) -> None:
    guarded(
        lambda: label.lower() in labels_of(live.issue(repo, number)),
        lambda: live.client.request("POST", f"/repos/{repo}/issues/{int(number)}/labels", body={"labels": [label]}),
    )


def _assign(live: Live, repo: str, number: int | str, login: str) -> None:
    def assigned() -> bool:
        return login.lower() in {
            (a.get("login") or "").lower() for a in live.issue(repo, number).get("assignees") or []
        }

    guarded(
        assigned,
        lambda: live.client.request(
            "POST", f"/repos/{repo}/issues/{int(number)}/assignees", body={"assignees": [login]}
        ),
    )


def do_create_issue(live: Live, action: dict[str, Any], settings: Settings) -> str | None:
    """create_issue / create_framework_issue / create_epic: one marked issue, labels created first."""
    return _create_issue(live, action)


def do_close_audit(live: Live, action: dict[str, Any], settings: Settings) -> str | None:
    """Comment (with marker) listing the children, then close as completed or not planned."""
    repo, number, payload = action["repo"], action["target"], action["payload"]
    url = _comment_once(live, repo, number, payload.get("comment"), "close-audit", _marker_key(action))
    _close(live, repo, number, payload.get("state_reason") or "completed")
    return url


def do_link_child(live: Live, action: dict[str, Any], settings: Settings) -> tuple[str | None, str]:
    """`Parent: #EPIC` (with marker) on the child, unless a person already wrote that line; then
    the child as a native sub-issue of the epic where the server has sub-issues (the ledger's
    reason says which: `sub-issue added`, `already a sub-issue`, `sub-issues not supported here`)."""
    repo, number, payload = action["repo"], action["target"], action["payload"]
    epic = int(payload["epic"])
    plain = re.compile(rf"(?mi)^\s*Parent:\s*#{epic}(?!\d)")
    existing = next(
        (c for c in live.comments(repo, number) if plain.search(c.get("body") or "") and _trusted(live, c, settings)),
        None,
    )
    if existing is not None:
        url = _url(existing)
    else:
        url = _comment_once(live, repo, number, payload.get("comment") or f"Parent: #{epic}", "parent", str(epic))
    return url, add_sub_issue(live, repo, epic, int(number))


def _trusted(live: Live, item: dict[str, Any], settings: Settings) -> bool:
    """An issue or comment a trusted person wrote: its instruction (a `Parent:` line) counts as done."""
    login = (item.get("user") or {}).get("login")
    return is_trusted_author(settings, login, item.get("author_association"), live.me())


def do_create_branch(live: Live, action: dict[str, Any], settings: Settings) -> str | None:
    """refs/heads/<branch> at the head of from_branch (an existing branch is left alone)."""
    repo, payload = action["repo"], action["payload"]
    branch = str(payload.get("branch") or action["target"])
    source = live.branch_sha(repo, str(payload["from_branch"]))
    if source is None:
        raise ActionFailed(f"branch {payload['from_branch']} does not exist")
    try:
        guarded(
            lambda: live.branch_sha(repo, branch),
            lambda: live.client.request(
                "POST", f"/repos/{repo}/git/refs", body={"ref": f"refs/heads/{branch}", "sha": source}
            ),
        )
    except GitHubError as exc:
        if not (exc.status == 422 and live.branch_sha(repo, branch)):  # made meanwhile by another run
            raise
    return f"{_html_root(live, repo)}/tree/{branch}"


def _html_root(live: Live, repo: str) -> str:
    api = live.client.gh.requester.base_url.rstrip("/")
    host = "https://github.com" if api == "https://api.github.com" else api
    return f"{host}/{repo}"


def do_dispatch(live: Live, action: dict[str, Any], settings: Settings) -> str | None:
    """Hand the issue to the agent back-end (its label, assignee, ...), then the `Target branch:`
    comment with the plan's marker."""
    repo, number, payload = action["repo"], action["target"], action["payload"]
    agents.dispatch(live, agents.agent_for(payload, settings), repo, number)
    comment = payload.get("comment")
    if not comment and payload.get("branch"):
        epic = f" (epic #{payload['epic']})" if payload.get("epic") else ""
        comment = f"Target branch: `{payload['branch']}`{epic}"
    if not comment:
        return f"{_html_root(live, repo)}/issues/{int(number)}"
    return _comment_once(live, repo, number, comment, "dispatch", _marker_key(action))


def do_tick_checklist(live: Live, action: dict[str, Any], settings: Settings) -> str | None:
    """Edit the epic's body: `- [ ] #child` -> `- [x] #child` (the rest of the body untouched)."""
    repo, payload = action["repo"], action["payload"]
    epic, child = int(payload.get("epic") or action["target"]), int(payload["child"])

    def ticked() -> dict[str, Any] | None:
        item = live.issue(repo, epic)
        body = item.get("body") or ""
        if checkbox(child, True).search(body):
            return item
        if not checkbox(child, False).search(body):
            raise ActionFailed(f"#{epic} has no checkbox for #{child}")
        return None

    def write() -> dict[str, Any]:
        body = live.issue(repo, epic).get("body") or ""
        new = checkbox(child, False).sub(r"\1x\2", body, count=1)
        return live.client.request("PATCH", f"/repos/{repo}/issues/{epic}", body={"body": new}).data

    item, _ = guarded(ticked, write)
    return _url(item)


def do_nudge_pr(live: Live, action: dict[str, Any], settings: Settings) -> str | None:
    """A marked comment asking the agent to fix the PR (`mention` pings on purpose, nothing else does)."""
    repo, number, payload = action["repo"], action["target"], action["payload"]
    text = sanitize(payload.get("comment")) or "Please take another look at this PR."
    if payload.get("mention"):
        text = f"@{payload['mention']} {text}"
    return _marked_raw(live, repo, number, text, "nudge", _marker_key(action))


def _marked_raw(live: Live, repo: str, number: int | str, text: str, kind: str, key: str) -> str | None:
    """Like `_comment_once` for text we have already sanitised (and deliberately prefixed)."""
    body = f"{text.rstrip()}\n\n{marker(kind, key)}"
    item, _ = guarded(
        lambda: live.find_comment(repo, number, kind, key),
        lambda: live.client.request("POST", f"/repos/{repo}/issues/{int(number)}/comments", body={"body": body}).data,
    )
    return _url(item)


def do_escalate_pr(live: Live, action: dict[str, Any], settings: Settings) -> str | None:
    """A marked comment handing the PR to a person, the `needs-human` label, and the assignee."""
    repo, number, payload = action["repo"], action["target"], action["payload"]
    url = _comment_once(live, repo, number, payload.get("comment"), "escalate", _marker_key(action))
    with_labels(live, repo, [HUMAN_LABEL], lambda: _add_label(live, repo, number, HUMAN_LABEL))
    if payload.get("assignee"):
        _assign(live, repo, number, str(payload["assignee"]))
    return url


def do_update_branch(live: Live, action: dict[str, Any], settings: Settings) -> str | None:
    """`PUT /pulls/N/update-branch` (PUT is safe to repeat; 'no new commits' means done)."""
    repo, number = action["repo"], int(action["target"])
    try:
        live.client.request("PUT", f"/repos/{repo}/pulls/{number}/update-branch", body={})
    except GitHubError as exc:
        if not (exc.status == 422 and "no new commits" in str(exc).lower()):
            raise
    return f"{_html_root(live, repo)}/pull/{number}"


def do_sync_epic_branch(live: Live, action: dict[str, Any], settings: Settings) -> str | None:
    """Merge from_branch into the epic branch (`POST /merges`; nothing to merge answers 204)."""
    repo, payload = action["repo"], action["payload"]
    branch = str(payload.get("branch") or action["target"])
    body = {"base": branch, "head": str(payload["from_branch"]),
            "commit_message": f"Merge {payload['from_branch']} into {branch}"}  # fmt: skip
    try:
        page, _ = guarded(lambda: None, lambda: live.client.request("POST", f"/repos/{repo}/merges", body=body))
    except GitHubError as exc:
        if exc.status == 409:
            raise ActionFailed(f"merge conflict between {payload['from_branch']} and {branch}") from None
        raise
    return _url(page.data) if page.data else f"{_html_root(live, repo)}/tree/{branch}"


def do_open_epic_pr(live: Live, action: dict[str, Any], settings: Settings) -> str | None:
    """The PR epic branch -> default branch, with the `epic-pr` marker (found again on any state)."""
    repo, payload = action["repo"], action["payload"]
    key, head = _marker_key(action), str(payload["head"])

    def find() -> dict[str, Any] | None:
        pulls = live.pulls(repo, state="all", head=head)
        ours = (p for p in pulls if live.is_mine(p) and has_marker(p.get("body"), "epic-pr", key))
        return next((p for p in pulls if p["state"] == "open"), None) or next(ours, None)

    data = {"title": sanitize(payload["title"]), "head": head, "base": str(payload["base"]),
            "body": with_marker(payload.get("body"), "epic-pr", key)}  # fmt: skip
    item, _ = guarded(find, lambda: live.client.request("POST", f"/repos/{repo}/pulls", body=data).data)
    return _url(item)


def do_close_epic(live: Live, action: dict[str, Any], settings: Settings) -> str | None:
    """A marked closing comment, then close the epic as completed."""
    repo, number, payload = action["repo"], action["target"], action["payload"]
    url = _comment_once(live, repo, number, payload.get("comment"), "close-epic", _marker_key(action))
    _close(live, repo, number, "completed")
    return url


# A perform function returns the GitHub URL of what it did, or (URL, a note for the ledger's reason).
Performed = str | None | tuple[str | None, str]
PERFORM: dict[str, Callable[[Live, dict[str, Any], Settings], Performed]] = {
    "create_issue": do_create_issue,
    "create_framework_issue": do_create_issue,
    "create_epic": do_create_issue,
    "close_audit": do_close_audit,
    "link_child": do_link_child,
    "create_branch": do_create_branch,
    "dispatch": do_dispatch,
    "tick_checklist": do_tick_checklist,
    "nudge_pr": do_nudge_pr,
    "escalate_pr": do_escalate_pr,
    "update_branch": do_update_branch,
    "sync_epic_branch": do_sync_epic_branch,
    "open_epic_pr": do_open_epic_pr,
    "close_epic": do_close_epic,
    "resolve_threads": do_resolve_threads,
}


def claim_key(action: dict[str, Any]) -> tuple[str, ...]:
    """What two runs must not do at the same time: the same marker, or the same step on the same item."""
    name = action["action"]
    if name in ("create_issue", "create_framework_issue", "create_epic", "open_epic_pr"):
        try:
            return ("marker", MARKER_KINDS[name], _marker_key(action))
        except (KeyError, TypeError):
            pass
    return (name, str(action["repo"]), str(action.get("target")))
