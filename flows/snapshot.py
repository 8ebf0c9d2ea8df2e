"""Snapshot flow: list repos, fetch each concurrently, write the versions, mark the run complete."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from analytics.derived import derive_tables
from common.config import ConfigError, Settings, load_settings, view_settings
from common.text import clean_text
from tasks import store
from tasks.github_client import (
    GitHubClient,
    GitHubError,
    RequestCounter,
    make_github,
    own_login,
    worth_retrying,
)
from tasks.github_details import apply_graphql_pulls, fetch_open_pull_details
from tasks.github_graphql import GraphQLUnavailable, Points, RepoRequest
from tasks.github_graphql_pulls import read_open_pulls
from tasks.github_links import read_links
from tasks.github_read import RepoFetch, RepoSyncState, fetch_repo, fetch_repositories

# Called after each repository is fetched: (repo, repositories done, repositories in all).
Progress = Callable[[str, int, int], None]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _client(settings: Settings) -> GitHubClient:
    return GitHubClient(make_github(settings), token_source=settings.token_source)


@task(
    name="list-repositories",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=worth_retrying,  # a 401 or a missing repository is reported at once
    cache_policy=NO_CACHE,
)
def list_repositories(settings: Settings) -> tuple[list[dict[str, Any]], RequestCounter]:
    """The configured repositories, resolved to their canonical names."""
    client = _client(settings)
    repos = fetch_repositories(client, settings.github.org, settings.github.repos)
    return repos, client.counter


@task(name="read-sync-state", cache_policy=NO_CACHE)
def read_sync_states(settings: Settings, repos: list[dict[str, Any]], full: bool) -> list[RepoSyncState]:
    """What the database knows of each repo: watermarks, open PRs, ETags."""
    g = settings.github
    with store.writer(settings.database.path) as con:
        return [
            store.load_sync_state(
                con, r["repo"], g.full_refresh_every, full, g.since_margin_minutes, r.get("default_branch")
            )
            for r in repos
        ]


@task(
    name="fetch-repository",
    task_run_name="fetch {state.repo}",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=worth_retrying,
    cache_policy=NO_CACHE,
)
def fetch_repository(
    settings: Settings, state: RepoSyncState, fetched_at: datetime
) -> tuple[RepoFetch, RequestCounter]:
    """One repository's issues, PRs, comments and events (open PRs' detail: GraphQL, or `rest-details`)."""
    client = _client(settings)
    return fetch_repo(client, state, fetched_at), client.counter


@task(name="graphql-open-pulls", cache_policy=NO_CACHE)
def graphql_open_pulls(
    settings: Settings, states: list[RepoSyncState], expected: dict[str, int]
) -> tuple[dict[str, list[dict]] | None, RequestCounter, Points, str | None]:
    """Every open PR of every repository over GraphQL, many per query; None when GraphQL is unusable."""
    client, points = _client(settings), Points()
    requests = [RepoRequest(s.repo, expected.get(s.repo, 0) or 1) for s in states]
    try:
        # who a token is, in the same query (no GET /user); an App's bot comes from GET /app instead
        viewer = not settings.github.login and not settings.github.uses_app
        return read_open_pulls(client, requests, points, viewer), client.counter, points, None
    except GraphQLUnavailable as exc:
        return None, client.counter, points, str(exc)


@task(
    name="rest-details",
    task_run_name="rest details {state.repo}",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=worth_retrying,
    cache_policy=NO_CACHE,
)
def rest_details(
    settings: Settings, state: RepoSyncState, fetch: RepoFetch, fetched_at: datetime
) -> tuple[RepoFetch, RequestCounter]:
    """Open PRs' detail over REST (4 requests a PR): the path when GraphQL is unusable."""
    client = _client(settings)
    # a copy: a retried attempt starts from the listing again
    fetch = replace(fetch, pulls=[dict(row) for row in fetch.pulls], etags=dict(fetch.etags), cached=dict(fetch.cached))
    fetch_open_pull_details(client, state, fetch, fetched_at, settings.github.concurrency)
    return fetch, client.counter


@task(name="read-links", cache_policy=NO_CACHE)
def links(
    settings: Settings, fetches: list[RepoFetch], graphql: bool
) -> tuple[list[RepoFetch], RequestCounter, Points]:
    """Native sub-issues and dependencies of the issues whose summaries say they have some."""
    client, points = _client(settings), Points()
    read_links(client, fetches, graphql, points, settings.github.concurrency)
    return fetches, client.counter, points


@task(name="write-snapshot", cache_policy=NO_CACHE)
def write_snapshot(
    settings: Settings,
    run_id: int,
    at: datetime,
    repos: list[dict[str, Any]],
    fetches: list[RepoFetch],
    figures: dict[str, Any],
    identity: dict[str, str] | None = None,
) -> int:
    """All versions of this snapshot, the findings derived from it and its `complete` mark, in one transaction."""
    derive = partial(derive_tables, overrides=settings.classification)
    values = {**view_settings(settings), **(identity or {})}
    with store.writer(settings.database.path) as con:
        return store.save_snapshot(
            con, run_id, at, repos, fetches, settings.github.since_margin_minutes, derive, values, figures,
        )  # fmt: skip


# No task retries: PyGithub's retry covers 5xx and rate limits, and a token GitHub will not name
# (an App's) must fail at once with the fix, not after a retry.
@task(name="who-am-i", cache_policy=NO_CACHE)
def own_identity(settings: Settings) -> tuple[dict[str, str], RequestCounter]:
    """The orchestrator's own login (`token_login`): only its issues and comments carry markers that
    count (README "Trust model"). `github.login` when set (view_settings has it), else who the
    credentials are: an App's `slug[bot]` (GET /app), a token's user (GET /user)."""
    client = _client(settings)
    if settings.github.login:
        return {}, client.counter
    try:
        return {"token_login": own_login(settings, client)}, client.counter
    except GitHubError as exc:
        if exc.status in (403, 404):  # an App's installation token cannot read /user
            raise ConfigError(
                "github.login: GitHub does not say who this token is (GET /user answered "
                f"{exc.status}); set github.login to the orchestrator's login, e.g. an App's name[bot]"
            ) from None
        raise


@flow(name="snapshot", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=4))
def snapshot_flow(
    config_path: str | None = None,
    full: bool = False,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Snapshot every configured repository into DuckDB; a failure leaves the previous snapshot current."""
    return run_snapshot(settings or load_settings(config_path), full=full, progress=progress)


def run_snapshot(settings: Settings, full: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """The flow's steps; tasks run concurrently under the flow's task runner."""
    logger = get_run_logger()
    started = utcnow()
    settings.app_private_key() if settings.github.uses_app else settings.token()  # missing: said before any write
    with store.writer(settings.database.path) as con:
        run_id = store.start_snapshot_run(con, started)
    counter = RequestCounter()
    github_started: datetime | None = None
    try:
        repos, listed = list_repositories(settings)
        counter.add(listed)
        github_started = github_start(listed, logger)
        names = [repo["repo"] for repo in repos]
        states = read_sync_states(settings, repos, full)
        fetches, points, path = fetch_all(settings, repos, states, github_started, counter, progress)
        identity = {"token_login": points.viewer} if points.viewer and not settings.github.login else None
        if identity is None:  # trust: whose markers count (GraphQL's `viewer` did not say)
            identity, asked = own_identity(settings)
            counter.add(asked)
        summary = {
            "run_id": run_id,
            "repos": names,
            "full_repos": [f.repo for f in fetches if f.full],
            "requests": counter.requests,
            "requests_not_modified": counter.not_modified,
            "rate_limit_remaining": counter.rate_remaining,
            "rate_limit_limit": counter.rate_limit,
            "graphql_points": points.spent,
            "read_path": path,
        }
        figures = {**summary, "github_started_at": github_started}
        added = write_snapshot(settings, run_id, github_started, repos, fetches, figures, identity)
    except BaseException as exc:
        with store.writer(settings.database.path) as con:
            store.finish_snapshot_run(
                con, run_id, "failed", requests=counter.requests, requests_not_modified=counter.not_modified,
                rate_limit_remaining=counter.rate_remaining, error=_short(exc), github_started_at=github_started,
            )  # fmt: skip
        raise
    summary["versions_added"] = added
    logger.info(
        "snapshot %s: %d repos, %d requests (%d not modified), %d versions added",
        run_id, len(names), counter.requests, counter.not_modified, added,
    )  # fmt: skip
    return summary


def fetch_all(
    settings: Settings,
    repos: list[dict[str, Any]],
    states: list[RepoSyncState],
    fetched_at: datetime,
    counter: RequestCounter,
    progress: Progress | None = None,
) -> tuple[list[RepoFetch], Points, str]:
    """Every repository's lists (REST, concurrently) while GraphQL reads all open PRs; REST details
    for every repository when GraphQL is unusable; then sub-issues and dependencies."""
    logger = get_run_logger()
    expected = {r["repo"]: r.get("open_issues_count") or 0 for r in repos}  # first snapshot: an upper bound
    expected.update({s.repo: len(s.open_pulls) + 1 for s in states if s.since is not None})
    graphql = graphql_open_pulls.submit(settings, states, expected)
    futures = fetch_repository.map(unmapped(settings), states, fetched_at=unmapped(fetched_at))
    fetches = []
    for done, future in enumerate(as_completed(futures), 1):
        fetch, used = future.result()
        counter.add(used)
        fetches.append(fetch)
        if progress:
            progress(fetch.repo, done, len(states))
    fetches.sort(key=lambda f: f.repo)
    by_repo = {state.repo: state for state in states}
    pulls, used, points, unusable = graphql.result()
    counter.add(used)
    if pulls is not None:
        for fetch in fetches:
            apply_graphql_pulls(by_repo[fetch.repo], fetch, pulls.get(fetch.repo) or [], fetched_at)
    else:
        logger.warning("GraphQL unusable (%s): open PRs' detail over REST", unusable)
        done = rest_details.map(unmapped(settings), [by_repo[f.repo] for f in fetches], fetches, unmapped(fetched_at))
        fetches = []
        for fetch, used in (future.result() for future in done):
            counter.add(used)
            fetches.append(fetch)
    fetches, used, link_points = links(settings, fetches, pulls is not None)
    counter.add(used)
    points.spent += link_points.spent
    if pulls is None:
        points.viewer = None  # GraphQL unusable: who the token is comes from GET /user
    return fetches, points, "graphql" if pulls is not None else "rest"


def github_start(listed: RequestCounter, logger: Any) -> datetime:
    """GitHub's clock when listing began: the `Date` of the repository listing, answered before any
    repository's items are listed. It is the next `since` watermark's base, so it must never come from
    the host, whose clock may disagree with GitHub's by more than `since_margin_minutes`."""
    if listed.github_date is not None:
        return listed.github_date
    # No `Date` header: the newest `updated_at` seen is still GitHub's clock (earlier, so safe);
    # the host's clock only when the server said nothing at all.
    logger.warning("GitHub sent no Date header: the snapshot's start comes from the %s", listed.clock_source)
    return listed.github_now()


def _short(exc: BaseException) -> str:
    """One line for the run's error column (never holds the token: nothing we raise carries it)."""
    text = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    return clean_text(f"{exc.__class__.__name__}: {text}"[:500])  # a server's message may hold anything


def snapshot(settings: Settings, full: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """Run the snapshot flow with the configured number of repositories fetched at once."""
    runner = ThreadPoolTaskRunner(max_workers=settings.github.concurrency)
    return snapshot_flow.with_options(task_runner=runner)(settings=settings, full=full, progress=progress)
