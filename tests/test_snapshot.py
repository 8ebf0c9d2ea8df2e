"""The snapshot flow against the sandbox, over real HTTP, through PyGithub and Prefect."""

from __future__ import annotations

import re

import duckdb
import pytest
from github import Auth, Github

from flows.snapshot import snapshot
from tasks import store
from tasks.github_client import GitHubError
from tests.conftest import make_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")


def query(settings, sql, params=None):
    with store.reader(settings.database.path) as con:
        return con.execute(sql, params or []).fetchall()


def server_counts(state, org="dappcore"):
    """(repo, issues, pulls) as the sandbox itself holds them."""
    counts = {}
    for (repo_id, _), issue in state.issues.items():
        repo = state.repos[repo_id].full_name
        if not repo.startswith(f"{org}/") or issue.deleted or issue.moved_to:
            continue
        issues, pulls = counts.get(repo, (0, 0))
        counts[repo] = (issues, pulls + 1) if issue.is_pull else (issues + 1, pulls)
    return counts


def db_counts(settings):
    rows = query(
        settings,
        """SELECT repo, (SELECT count(*) FROM issues i WHERE i.repo = r.repo),
                  (SELECT count(*) FROM pull_requests p WHERE p.repo = r.repo) FROM repositories r""",
    )
    return {repo: (issues, pulls) for repo, issues, pulls in rows if issues or pulls}


def writer_client(sandbox):
    return Github(base_url=sandbox.url, auth=Auth.Token(sandbox.token), seconds_between_writes=None)


def test_first_snapshot_holds_every_issue_and_pr_of_the_server(sandbox, settings):
    summary = snapshot(settings)
    assert db_counts(settings) == server_counts(sandbox.state)
    assert len(summary["repos"]) == 16
    status, requests = query(settings, "SELECT status, requests FROM snapshot_runs")[0]
    assert status == "complete" and requests == summary["requests"] > 16


def test_labels_states_merged_flags_and_comment_counts_match_the_server(sandbox, settings):
    snapshot(settings)
    gh = writer_client(sandbox)
    repo = gh.get_repo("dappcore/core-php")
    stored = {
        number: (state, sorted(labels), comments)
        for number, state, labels, comments in query(
            settings, "SELECT number, state, labels, comments FROM issues WHERE repo = 'dappcore/core-php'"
        )
    }
    live = {
        i.number: (i.state, sorted(label.name for label in i.labels), i.comments)
        for i in repo.get_issues(state="all")
        if i.pull_request is None
    }
    assert stored == live
    merged = dict(query(settings, "SELECT number, merged FROM pull_requests WHERE repo = 'dappcore/core-php'"))
    live_merged = {p.number: p.merged for p in repo.get_pulls(state="all")}
    assert merged == live_merged


def test_second_snapshot_with_nothing_changed_adds_no_history_rows(sandbox, settings):
    first = snapshot(settings)
    rows_before = query(
        settings, "SELECT (SELECT count(*) FROM issue_history) + (SELECT count(*) FROM pull_request_history)"
    )
    second = snapshot(settings)
    rows_after = query(
        settings, "SELECT (SELECT count(*) FROM issue_history) + (SELECT count(*) FROM pull_request_history)"
    )
    assert second["versions_added"] == 0 and rows_after == rows_before
    # Conditional requests: nearly everything answers 304, which costs no rate limit.
    assert second["requests_not_modified"] >= 0.9 * second["requests"]
    assert second["requests"] - second["requests_not_modified"] < 0.1 * first["requests"]
    third = snapshot(settings)  # and the ETags it kept still answer 304 the time after
    assert third["versions_added"] == 0 and third["requests_not_modified"] >= second["requests_not_modified"]


def test_closing_three_and_relabelling_two_adds_exactly_five_versions(sandbox, settings):
    snapshot(settings)
    repo = writer_client(sandbox).get_repo("dappcore/core-api")
    open_issues = [i for i in repo.get_issues(state="open") if i.pull_request is None][:5]
    for issue in open_issues[:3]:
        issue.edit(state="closed")
    for issue in open_issues[3:]:
        issue.add_to_labels("needs-triage")
    summary = snapshot(settings)
    assert summary["versions_added"] == 5
    closed = query(
        settings,
        "SELECT count(*) FROM issues WHERE repo = 'dappcore/core-api' AND state = 'closed' "
        f"AND number IN ({', '.join(str(i.number) for i in open_issues[:3])})",
    )
    assert closed == [(3,)]
    history = query(
        settings,
        f"SELECT count(*) FROM issue_history WHERE repo = 'dappcore/core-api' AND number = {open_issues[3].number}",
    )
    assert history == [(2,)]


def test_pagination_over_three_pages_and_an_empty_repo(sandbox, tmp_path, monkeypatch):
    state = sandbox.state
    state.add_repo("bigorg", "big", default_branch="main")
    state.add_repo("bigorg", "empty", default_branch="main")
    for n in range(250):
        state.add_issue(
            "bigorg/big",
            f"Issue {n} ✓ ünïcode",
            body=None if n % 7 == 0 else f"body {n}",
            labels=("odd label: ✨", "bug") if n % 3 == 0 else (),
            state="closed" if n % 4 == 0 else "open",
        )
    settings = make_settings(sandbox.url, tmp_path / "big.duckdb", org="bigorg")
    summary = snapshot(settings)
    assert db_counts(settings) == {"bigorg/big": (250, 0)}
    assert query(settings, "SELECT count(*) FROM repositories") == [(2,)]
    assert query(settings, "SELECT count(*) FROM issues WHERE list_contains(labels, 'odd label: ✨')") == [(84,)]
    issue_pages = [r for r in state.request_log if r["path"] == "/repos/bigorg/big/issues"]
    assert len(issue_pages) == 3
    assert summary["requests"] == len([r for r in state.request_log if r["path"] != "/_sandbox/faults"])


def test_a_server_that_dies_mid_snapshot_leaves_the_previous_snapshot_current(sandbox, settings):
    snapshot(settings)
    before = db_counts(settings)
    versions = query(settings, "SELECT count(*) FROM issue_history")
    repo = writer_client(sandbox).get_repo("dappcore/core")
    for issue in list(repo.get_issues(state="open"))[:4]:
        issue.edit(state="closed")
    sandbox.state.set_faults(stop_after=25)
    with pytest.raises(Exception):  # noqa: B017 - connection errors surface as several types
        snapshot(settings)
    runs = query(settings, "SELECT status, error FROM snapshot_runs ORDER BY run_id")
    assert [status for status, _ in runs] == ["complete", "failed"]
    assert runs[1][1]
    assert db_counts(settings) == before
    assert query(settings, "SELECT count(*) FROM issue_history") == versions


def test_bad_token_is_a_clear_401_and_a_failed_run(sandbox, settings, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_not_a_real_token")
    with pytest.raises(GitHubError, match="401"):
        snapshot(settings)
    assert query(settings, "SELECT status FROM snapshot_runs") == [("failed",)]
    dump = query(settings, "SELECT string_agg(CAST(columns(*) AS VARCHAR), ' ') FROM snapshot_runs")
    assert "ghp_not_a_real_token" not in str(dump)


def test_flaky_server_with_5xx_and_secondary_limits_still_completes(sandbox, settings):
    sandbox.state.set_faults(error_rate=0.08, secondary_rate_limit_rate=0.04, retry_after=1, seed=3)
    snapshot(settings)
    sandbox.state.set_faults()
    assert db_counts(settings) == server_counts(sandbox.state)


def test_full_refresh_ends_deleted_and_transferred_issues(sandbox, settings):
    snapshot(settings)
    numbers = [n for (n,) in query(settings, "SELECT number FROM issues WHERE repo = 'dappcore/build' ORDER BY number")]
    sandbox.state.delete_issue("dappcore/build", numbers[0])
    sandbox.state.transfer_issue("dappcore/build", numbers[1], "dappcore/core-devops")
    snapshot(settings, full=True)
    assert db_counts(settings) == server_counts(sandbox.state)
    ended = query(
        settings,
        f"SELECT count(*) FROM issue_history WHERE repo = 'dappcore/build' "
        f"AND number IN ({numbers[0]}, {numbers[1]}) AND valid_to IS NOT NULL",
    )
    assert ended == [(2,)]


def test_events_record_who_handed_an_issue_to_the_agent(sandbox, settings):
    snapshot(settings)
    repo = writer_client(sandbox).get_repo("dappcore/core-mcp")
    issue = next(
        i for i in repo.get_issues(state="open") if i.pull_request is None and "jules" not in [x.name for x in i.labels]
    )
    issue.add_to_labels("jules")
    snapshot(settings)
    rows = query(
        settings,
        "SELECT event, label, actor FROM issue_events WHERE repo = 'dappcore/core-mcp' "
        f"AND number = {issue.number} AND event = 'labeled' AND label = 'jules'",
    )
    assert len(rows) == 1 and rows[0][2]


@pytest.mark.parametrize("credentials", ["token", "app"])
def test_token_never_reaches_the_database(sandbox, settings, monkeypatch, tmp_path, credentials):
    """Neither a personal token nor an App's private key, JWT or installation tokens (tokens living 2 s,
    so the snapshot renews them) reach any table."""
    secrets = ["ghp_secret_value_123"]
    sandbox.state.accepted_tokens.add("ghp_secret_value_123")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret_value_123")
    if credentials == "app":
        from tests.test_github_app import PEM_BODY, add_app, app_settings

        app, _, key, private = add_app(sandbox, tmp_path, lifetime=2)
        settings = app_settings(sandbox, tmp_path, app, key)
        secrets += PEM_BODY.search(private).group(1).splitlines()[1:-1]
    snapshot(settings)
    secrets += list(sandbox.state.installation_tokens)
    assert credentials == "token" or len(sandbox.state.installation_tokens) >= 1
    con = duckdb.connect(settings.database.path, read_only=True)
    try:
        for (table,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        ).fetchall():
            text = con.execute(
                f"SELECT coalesce(string_agg(CAST(columns(*) AS VARCHAR), ' '), '') FROM {table}"
            ).fetchall()
            assert not [secret for secret in secrets if secret in str(text)], table
            assert not re.search(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+", str(text)), f"a JWT in {table}"
    finally:
        con.close()


def test_mergeability_still_being_computed_is_waited_for_not_stored_as_a_change(sandbox, settings):
    repo = writer_client(sandbox).get_repo("dappcore/core-admin")
    head = repo.get_branch(repo.default_branch).commit.sha
    repo.create_git_ref("refs/heads/feature/new-thing", head)
    sandbox.state.add_commit("dappcore/core-admin", "feature/new-thing", "Add the new thing")
    pull = repo.create_pull(title="A new thing", body="", head="feature/new-thing", base=repo.default_branch)
    # GitHub answers `mergeable: null` until its background job is done: the first GET sees it
    sandbox.state.issue("dappcore/core-admin", pull.number).pull.mergeable_known = False
    snapshot(settings)
    stored = query(settings, f"SELECT mergeable, mergeable_state FROM pull_requests WHERE repo = 'dappcore/core-admin' "
                   f"AND number = {pull.number}")  # fmt: skip
    assert stored[0][0] is not None and stored[0][1] != "unknown"
    assert snapshot(settings)["versions_added"] == 0
