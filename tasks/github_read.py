"""Reading GitHub: `fetch_*` call the API, `*_row` turn one JSON object into one row.

A repository is fetched in as few requests as the data allows: 100 per page, `since` the
last complete snapshot, conditional requests (a 304 costs nothing against the rate limit),
the repo-wide comments and events lists instead of one list per issue, and per-item detail
only for open pull requests (mergeability and CI can change without `updated_at` moving).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from common.config import ConfigError
from common.text import clean_json, clean_text
from tasks.github_client import GitHubClient, GitHubError
from tasks.pull_heads import fill_closed_pull_heads

EPIC_CHECKLIST = re.compile(r"^\s*[-*]\s+\[[ xX]\]\s+", re.MULTILINE)


# ── small converters ──────────────────────────────────────────────────────────


def parse_time(value: str | None) -> datetime | None:
    """GitHub's ISO 8601 (`2024-01-02T03:04:05Z`) -> naive UTC datetime."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def iso(value: datetime) -> str:
    return value.replace(microsecond=0).isoformat() + "Z"


def _login(user: dict[str, Any] | None) -> str | None:
    return user.get("login") if isinstance(user, dict) else None


def _label_names(labels: list[Any] | None) -> list[str]:
    # GitHub sends objects; some servers (and old payloads) send bare strings.
    return [label["name"] if isinstance(label, dict) else str(label) for label in labels or []]


def clean_row(row: dict[str, Any]) -> dict[str, Any]:
    """Every string of a row (and of its lists) made storable: GitHub text is untrusted, and one
    lone surrogate or NUL in a title must not fail the snapshot (see common/text.py)."""
    return {
        key: [clean_text(item) for item in value] if isinstance(value, list) else clean_text(value)
        for key, value in row.items()
    }


def content_hash(row: dict[str, Any], ignore: tuple[str, ...] = ()) -> str:
    """A stable digest of a row's values, so an unchanged item adds no history row."""
    payload = {key: value for key, value in sorted(row.items()) if key not in ignore}
    return hashlib.sha1(json.dumps(payload, default=str, ensure_ascii=False).encode()).hexdigest()


# ── rows ──────────────────────────────────────────────────────────────────────


def issue_row(repo: str, raw: dict[str, Any]) -> dict[str, Any]:
    """One issue (or the issue half of a PR) from a list payload."""
    milestone = raw.get("milestone")
    row = {
        "repo": repo,
        "number": int(raw["number"]),
        "id": raw.get("id"),
        "title": raw.get("title") or "",
        "body": raw.get("body"),
        "state": raw.get("state"),
        "state_reason": raw.get("state_reason"),
        "author": _login(raw.get("user")),
        "author_association": raw.get("author_association"),
        "labels": _label_names(raw.get("labels")),
        "assignees": [_login(user) for user in raw.get("assignees") or [] if _login(user)],
        "milestone": milestone.get("title") if isinstance(milestone, dict) else None,
        "comments": int(raw.get("comments") or 0),
        "locked": bool(raw.get("locked")),
        "created_at": parse_time(raw.get("created_at")),
        "updated_at": parse_time(raw.get("updated_at")),
        "closed_at": parse_time(raw.get("closed_at")),
        "html_url": raw.get("html_url"),
    }
    return clean_row(row)


PR_DETAIL_COLUMNS = (
    "head_ref",
    "head_sha",
    "base_ref",
    "mergeable",
    "mergeable_state",
    "ci_state",
    "checks_total",
    "checks_failing",
    "review_decision",
    "approvals",
    "changes_requested_by",
    "unresolved_threads",
    "review_comments",
    "commits",
    "additions",
    "deletions",
    "changed_files",
    "detail_at",
)


def pull_row(repo: str, raw: dict[str, Any]) -> dict[str, Any]:
    """A PR from the issues list: the issue fields plus merged/draft; detail columns empty."""
    row = issue_row(repo, raw)
    pr = raw.get("pull_request") or {}
    merged_at = parse_time(pr.get("merged_at")) if isinstance(pr, dict) else None
    row.update(
        merged=merged_at is not None,
        merged_at=merged_at,
        draft=bool(raw.get("draft")),
        **dict.fromkeys(PR_DETAIL_COLUMNS),
    )
    row["changes_requested_by"] = []
    return row


def ci_state(check_runs: dict[str, Any] | None, status: dict[str, Any] | None) -> tuple[str, int, int]:
    """Combine check runs and commit statuses into success / failure / pending / none."""
    runs = (check_runs or {}).get("check_runs") or []
    statuses = (status or {}).get("statuses") or []
    failing_conclusions = {"failure", "timed_out", "cancelled", "action_required", "startup_failure"}
    failing = sum(run.get("conclusion") in failing_conclusions for run in runs)
    failing += sum(s.get("state") in ("failure", "error") for s in statuses)
    pending = sum(run.get("status") != "completed" for run in runs)
    pending += sum(s.get("state") == "pending" for s in statuses)
    total = len(runs) + len(statuses)
    if total == 0:
        return "none", 0, 0
    if failing:
        return "failure", total, failing
    if pending:
        return "pending", total, 0
    return "success", total, 0


def review_summary(reviews: list[dict[str, Any]] | None) -> tuple[str | None, int, list[str]]:
    """Latest decisive review per reviewer -> (decision, approvals, changes requested by)."""
    latest: dict[str, str] = {}
    for review in sorted(reviews or [], key=lambda r: (r.get("submitted_at") or "", r.get("id") or 0)):
        login = _login(review.get("user"))
        state = review.get("state")
        # COMMENTED and PENDING do not change a reviewer's standing; DISMISSED clears it.
        if login and state in ("APPROVED", "CHANGES_REQUESTED"):
            latest[login] = state
        elif login and state == "DISMISSED":
            latest.pop(login, None)
    blocking = sorted(login for login, state in latest.items() if state == "CHANGES_REQUESTED")
    approvals = sum(state == "APPROVED" for state in latest.values())
    if blocking:
        return "CHANGES_REQUESTED", approvals, blocking
    if approvals:
        return "APPROVED", approvals, []
    return None, 0, []


def apply_pull_detail(
    row: dict[str, Any],
    pull: dict[str, Any],
    check_runs: dict[str, Any] | None,
    status: dict[str, Any] | None,
    reviews: list[dict[str, Any]] | None,
    fetched_at: datetime,
) -> dict[str, Any]:
    """Fill a PR row's detail columns from the pull, its checks and its reviews."""
    state, total, failing = ci_state(check_runs, status)
    decision, approvals, blocking = review_summary(reviews)
    pull = clean_json(pull)
    head, base = pull.get("head") or {}, pull.get("base") or {}
    row.update(
        merged=bool(pull.get("merged")) or row["merged"],
        merged_at=parse_time(pull.get("merged_at")) or row["merged_at"],
        draft=bool(pull.get("draft")),
        head_ref=head.get("ref"),
        head_sha=head.get("sha"),
        base_ref=base.get("ref"),
        mergeable=pull.get("mergeable"),
        mergeable_state=pull.get("mergeable_state"),
        ci_state=state,
        checks_total=total,
        checks_failing=failing,
        review_decision=decision,
        approvals=approvals,
        changes_requested_by=[clean_text(login) for login in blocking],
        # GitHub's REST API does not say whether a review thread is resolved (GraphQL does).
        unresolved_threads=None,
        review_comments=pull.get("review_comments"),
        commits=pull.get("commits"),
        additions=pull.get("additions"),
        deletions=pull.get("deletions"),
        changed_files=pull.get("changed_files"),
        detail_at=fetched_at,
    )
    return row


def link_counts(raw: dict[str, Any]) -> tuple[int | None, int | None]:
    """(sub-issues, blocked by) from a listed issue's summaries; None where the server sends none."""
    subs, deps = raw.get("sub_issues_summary"), raw.get("issue_dependencies_summary")
    total = subs.get("total") if isinstance(subs, dict) else None
    # `blocked_by` counts open blockers only; `total_blocked_by` counts closed ones too (links all the same)
    blocked = (deps.get("total_blocked_by", deps.get("blocked_by"))) if isinstance(deps, dict) else None
    return (total if isinstance(total, int) else None, blocked if isinstance(blocked, int) else None)


def comment_row(repo: str, raw: dict[str, Any]) -> dict[str, Any]:
    issue_url = raw.get("issue_url") or ""
    number = issue_url.rstrip("/").rsplit("/", 1)[-1]
    row = {
        "repo": repo,
        "number": int(number) if number.isdigit() else None,
        "id": int(raw["id"]),
        "author": _login(raw.get("user")),
        "author_association": raw.get("author_association"),
        "body": raw.get("body"),
        "created_at": parse_time(raw.get("created_at")),
        "updated_at": parse_time(raw.get("updated_at")),
        "html_url": raw.get("html_url"),
    }
    return clean_row(row)


def event_row(repo: str, raw: dict[str, Any]) -> dict[str, Any]:
    issue = raw.get("issue") or {}
    label = raw.get("label")
    row = {
        "repo": repo,
        "number": issue.get("number"),
        "id": int(raw["id"]),
        "event": raw.get("event"),
        "actor": _login(raw.get("actor")),
        "label": label.get("name") if isinstance(label, dict) else None,
        "assignee": _login(raw.get("assignee")),
        "commit_id": raw.get("commit_id"),
        "created_at": parse_time(raw.get("created_at")),
        "is_pull_request": bool(issue.get("pull_request")),
    }
    return clean_row(row)


def repository_row(raw: dict[str, Any]) -> dict[str, Any]:
    row = {
        "repo": raw["full_name"],
        "id": raw.get("id"),
        "name": raw.get("name"),
        "default_branch": raw.get("default_branch"),
        "archived": bool(raw.get("archived")),
        "private": bool(raw.get("private")),
        "language": raw.get("language"),
        "open_issues_count": raw.get("open_issues_count"),
        "pushed_at": parse_time(raw.get("pushed_at")),
        "html_url": raw.get("html_url"),
    }
    return clean_row(row)


# ── fetching ──────────────────────────────────────────────────────────────────


def fetch_repositories(client: GitHubClient, org: str, names: list[str]) -> list[dict[str, Any]]:
    """The configured repositories (`*` = all of the org), with canonical names.

    A name missing from the org listing is asked for directly, so a renamed repository
    (GitHub answers 301) resolves to its new name and later list URLs need no redirect.
    """
    listing: list[dict[str, Any]] = []
    owners = ((f"/orgs/{org}/repos", {"per_page": 100, "type": "all"}), (f"/users/{org}/repos", {"per_page": 100}))
    for url, params in owners:
        try:
            listing = [raw for page in client.pages(url, params) for raw in page.data or []]
            break
        except GitHubError as exc:
            if exc.status != 404:
                raise
    else:  # neither an organisation nor a user: named repositories may still be asked for one by one
        if "*" in names:
            raise ConfigError(f"github.org: no organisation or user named {org!r} (404)")
    if "*" in names:
        return sorted((repository_row(raw) for raw in listing), key=lambda r: r["repo"])
    by_name = {raw["name"].lower(): raw for raw in listing}
    rows = []
    for name in names:
        raw = by_name.get(name.lower())
        if raw is None:
            raw = _configured_repository(client, org, name)
        rows.append(repository_row(raw))
    return rows


def _configured_repository(client: GitHubClient, org: str, name: str) -> dict[str, Any]:
    """A configured repository asked for by name; one that does not exist is a configuration error."""
    try:
        return client.get(f"/repos/{org}/{name}").data
    except GitHubError as exc:
        if exc.status in (404, 410):
            raise ConfigError(f"github.repos: {org}/{name} not found ({exc.status})") from None
        raise


@dataclass
class RepoSyncState:
    """What the database already knows about a repo, handed to the fetch task."""

    repo: str
    full: bool  # list everything (first snapshot, or the periodic full one)
    since: datetime | None  # incremental watermark: the last complete snapshot's start minus a margin
    known_numbers: list[int]  # issue and PR numbers current in the database
    last_event_id: int | None
    open_pulls: dict[int, dict[str, Any]]  # current rows of PRs open in the database
    etags: dict[str, str]  # url -> etag of the last 200 answer
    cached: dict[str, Any]  # url -> body, for detail answers we may get a 304 for
    has_epics: bool
    default_branch: str | None = None


@dataclass
class RepoFetch:
    """Everything one repository's refresh found; written in one transaction later."""

    repo: str
    full: bool
    issues: list[dict[str, Any]] = field(default_factory=list)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    epic_branches: list[dict[str, Any]] | None = None  # None: not looked at
    etags: dict[str, str] = field(default_factory=dict)
    cached: dict[str, Any] = field(default_factory=dict)
    gone: list[int] = field(default_factory=list)  # deleted or transferred (full refresh only)
    issues_disabled: bool = False
    listing_changed: bool = False
    comments_changed: bool = False
    # issue number -> (sub-issues, blocked by) as the listing's summaries say (None: the server has none)
    link_counts: dict[int, tuple[int | None, int | None]] = field(default_factory=dict)
    review_threads: list[dict[str, Any]] | None = None  # None: not read (REST path)
    sub_issues: list[dict[str, Any]] = field(default_factory=list)
    dependencies: list[dict[str, Any]] = field(default_factory=list)
    links_checked: list[int] = field(default_factory=list)  # issues whose links were read (or known to be none)
    detail_path: str = "rest"


def _cache_key(url: str, params: dict[str, Any] | None = None) -> str:
    query = "&".join(f"{k}={v}" for k, v in sorted((params or {}).items()))
    return f"{url}?{query}" if query else url


def _newest_first(times: list[datetime | None]) -> bool:
    return all(a is not None and b is not None and a >= b for a, b in zip(times, times[1:], strict=False))


def fetch_updated(
    client: GitHubClient, state: RepoSyncState, out: RepoFetch, url: str, params: dict[str, Any]
) -> list[dict[str, Any]] | None:
    """A list sorted by `updated` newest first; None when the server says nothing changed (304).

    The first page's URL never changes between refreshes, so its ETag can answer 304 (free
    against the rate limit). An incremental refresh stops at the first page that reaches
    back past the watermark; a full one reads every page and sends no ETag, because a
    deletion changes no item's `updated_at`. A server that does not sort is read in full.
    """
    params = {**params, "sort": "updated", "direction": "desc", "per_page": 100}
    key = _cache_key(url, params)
    since = None if state.full else state.since
    etag = None if state.full else state.etags.get(key)
    items: list[dict[str, Any]] = []
    for index, page in enumerate(client.pages(url, params, etag)):
        if page.not_modified:
            out.etags[key] = etag  # still the current answer
            return None
        if index == 0 and page.etag:
            out.etags[key] = page.etag
        data = page.data or []
        items.extend(data)
        times = [parse_time(raw.get("updated_at")) for raw in data]
        if since is not None and times and _newest_first(times) and times[-1] < since:
            break
    return items


def fetch_issues_and_pulls(client: GitHubClient, state: RepoSyncState, out: RepoFetch) -> None:
    """Issues and PRs (the issues list holds both) updated since the watermark, or all."""
    try:
        items = fetch_updated(client, state, out, f"/repos/{state.repo}/issues", {"state": "all"})
    except GitHubError as exc:
        if exc.status != 410:
            raise
        items = _pulls_only(client, state, out)  # issues are switched off: GitHub answers 410 Gone
    if items is None:
        return
    out.listing_changed = True
    seen: set[int] = set()
    for raw in items:
        number = int(raw["number"])
        if number in seen:  # an item updated while we paged shows up twice
            continue
        seen.add(number)
        if raw.get("pull_request"):
            out.pulls.append(pull_row(state.repo, raw))
        else:
            out.issues.append(issue_row(state.repo, raw))
            out.link_counts[number] = link_counts(raw)
    _fill_missing_merged(client, state, out, items)
    if state.full and not out.issues_disabled:  # without issues, /issues/N says 410 for every number
        _check_missing(client, state, out, seen)


def _pulls_only(client: GitHubClient, state: RepoSyncState, out: RepoFetch) -> list[dict[str, Any]] | None:
    """A repository with issues switched off still has PRs: list them as the issues list would."""
    out.issues_disabled = True
    pulls = fetch_updated(client, state, out, f"/repos/{state.repo}/pulls", {"state": "all"})
    if pulls is None:
        return None
    return [{**raw, "pull_request": {"url": raw.get("url"), "merged_at": raw.get("merged_at")}} for raw in pulls]


def _check_missing(client: GitHubClient, state: RepoSyncState, out: RepoFetch, listed: set[int]) -> None:
    """Items we hold that a full listing lacks: ask for each (410 deleted, 301 moved, 200 missed)."""
    for number in sorted(set(state.known_numbers) - listed):
        try:
            raw = client.get(f"/repos/{state.repo}/issues/{number}").data
        except GitHubError as exc:
            if exc.status in (404, 410):
                out.gone.append(number)
                continue
            raise
        # PyGithub follows a 301: a transferred issue comes back from its new repository.
        if not (raw.get("repository_url") or "").endswith(f"/repos/{state.repo}") or int(raw["number"]) != number:
            out.gone.append(number)
        elif raw.get("pull_request"):
            out.pulls.append(pull_row(state.repo, raw))
        else:
            out.issues.append(issue_row(state.repo, raw))


def _fill_missing_merged(client: GitHubClient, state: RepoSyncState, out: RepoFetch, items: list[dict]) -> None:
    """Older servers omit `pull_request.merged_at` in the issues list: ask the pulls list then."""
    unknown = {
        int(raw["number"])
        for raw in items
        if raw.get("pull_request") and raw.get("state") == "closed" and "merged_at" not in raw["pull_request"]
    }
    if not unknown:
        return
    merged: dict[int, datetime | None] = {}
    params = {"state": "closed", "per_page": 100, "sort": "updated", "direction": "desc"}
    for page in client.pages(f"/repos/{state.repo}/pulls", params):
        for raw in page.data or []:
            merged[int(raw["number"])] = parse_time(raw.get("merged_at"))
        if unknown <= merged.keys():
            break
    for row in out.pulls:
        if row["number"] in merged:
            row["merged_at"] = merged[row["number"]]
            row["merged"] = row["merged_at"] is not None


def fetch_comments(client: GitHubClient, state: RepoSyncState, out: RepoFetch) -> None:
    """Issue and PR comments from the repo-wide list, updated since the watermark, or all."""
    items = fetch_updated(client, state, out, f"/repos/{state.repo}/issues/comments", {})
    if items is not None:
        out.comments_changed = True
        out.comments = list({row["id"]: row for row in (comment_row(state.repo, raw) for raw in items)}.values())


def fetch_events(client: GitHubClient, state: RepoSyncState, out: RepoFetch) -> None:
    """Issue events newer than the last one stored (the list has no `since`).

    GitHub lists them newest first, so reading stops at the first known event; should a
    server list them oldest first, every page is read and known ones are dropped.
    """
    url = f"/repos/{state.repo}/issues/events"
    params = {"per_page": 100}
    key = _cache_key(url, params)
    last = state.last_event_id or 0
    for index, page in enumerate(client.pages(url, params, state.etags.get(key))):
        if page.not_modified:
            out.etags[key] = state.etags[key]  # still the current answer
            return
        if index == 0 and page.etag:
            out.etags[key] = page.etag
        rows = [event_row(state.repo, raw) for raw in page.data or []]
        out.events.extend(row for row in rows if row["id"] > last)
        ids = [row["id"] for row in rows]
        newest_first = len(ids) < 2 or ids[0] > ids[-1]
        if newest_first and ids and min(ids) <= last:
            break


def cached_get(client: GitHubClient, state: RepoSyncState, out: RepoFetch, url: str, params: dict | None = None) -> Any:
    """GET with If-None-Match; a 304 returns the body stored with that ETag."""
    key = _cache_key(url, params)
    etag = state.etags.get(key) if key in state.cached else None
    page = client.get(url, params, etag)
    if page.not_modified:
        out.etags[key], out.cached[key] = state.etags[key], state.cached[key]
        return state.cached[key]
    data = clean_json(page.data)  # stored in http_cache, which cannot hold a lone surrogate
    if page.etag:
        out.etags[key], out.cached[key] = page.etag, data
    return data


def fetch_epic_branches(client: GitHubClient, state: RepoSyncState, out: RepoFetch) -> None:
    """Branches under `epic/`, only for repos that have epics (saves a request per repo)."""
    # Only open epics need their branch; a closed one's is usually deleted.
    if not (
        state.has_epics or any(r["state"] == "open" and EPIC_CHECKLIST.search(r["body"] or "") for r in out.issues)
    ):
        return
    try:
        refs = cached_get(client, state, out, f"/repos/{state.repo}/git/matching-refs/heads/epic/")
    except GitHubError as exc:
        if exc.status not in (404, 409):  # 409: an empty repository has no refs
            raise
        refs = []
    out.epic_branches = []
    for ref in refs or []:
        if not (isinstance(ref, dict) and "ref" in ref):
            continue
        name = ref["ref"].removeprefix("refs/heads/")
        row = {
            "repo": state.repo,
            "name": name,
            "sha": (ref.get("object") or {}).get("sha"),
            "ahead_by": None,
            "behind_by": None,
        }
        if state.default_branch:  # how far the epic branch has drifted (a 304 keeps this free)
            try:
                compare = cached_get(client, state, out, f"/repos/{state.repo}/compare/{state.default_branch}...{name}")
                row["ahead_by"], row["behind_by"] = compare.get("ahead_by"), compare.get("behind_by")
            except GitHubError as exc:
                if exc.status not in (404, 422):
                    raise
        out.epic_branches.append(row)


def fetch_repo(client: GitHubClient, state: RepoSyncState, fetched_at: datetime) -> RepoFetch:
    """One repository's refresh: listing, comments, events, epic branches (open PRs' detail: tasks.github_details)."""
    out = RepoFetch(repo=state.repo, full=state.full)
    fetch_issues_and_pulls(client, state, out)
    items = out.issues + out.pulls
    listed_in_full = state.full and out.listing_changed
    # A full listing carries every item's comment count: no comments anywhere, no request.
    # A new comment moves its issue's `updated_at`, so an unchanged listing (304) of a repo
    # whose comments were never listed means there are still none.
    comments_key = _cache_key(
        f"/repos/{state.repo}/issues/comments", {"sort": "updated", "direction": "desc", "per_page": 100}
    )
    if (listed_in_full and not any(row["comments"] for row in items)) or out.issues_disabled:
        out.comments_changed = True
    elif out.listing_changed or comments_key in state.etags:
        fetch_comments(client, state, out)
    if not (listed_in_full and not items) and not out.issues_disabled:  # an empty repository has no events
        fetch_events(client, state, out)
    fill_closed_pull_heads(client, state.repo, out.pulls)  # outcomes: which agent's branch a PR came from
    fetch_epic_branches(client, state, out)
    return out
