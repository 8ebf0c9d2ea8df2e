"""GitHub's clock: the `Date` header, not the host's clock, sets a snapshot's start, the next
`since` watermark and the views' "now"; a listing cut short is never a complete snapshot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from github import Auth, Github

from flows.snapshot import snapshot
from tasks import store
from tasks.github_client import GitHubClient, GitHubError, ListingCutShort, RequestCounter, parse_http_date
from tests.conftest import make_settings

ELEVEN_DAYS = 11 * 86400


def host_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def query(settings, sql, params=None):
    with store.reader(settings.database.path) as con:
        return con.execute(sql, params or []).fetchall()


# ── Date parsing and github_now, no server ───────────────────────────────────


def test_http_dates_parse_to_naive_utc_and_garbage_to_none():
    assert parse_http_date("Tue, 01 Dec 2026 15:48:24 GMT") == datetime(2026, 12, 1, 15, 48, 24)
    assert parse_http_date("Tue, 01 Dec 2026 16:48:24 +0100") == datetime(2026, 12, 1, 15, 48, 24)
    for bad in (None, "", "yesterday", "Tue, 99 Foo 2026 25:61:00 GMT"):
        assert parse_http_date(bad) is None


def test_github_now_is_the_latest_date_plus_the_monotonic_time_since(monkeypatch):
    ticks = iter([100.0, 100.0, 190.4])
    monkeypatch.setattr("tasks.github_client.time.monotonic", lambda: next(ticks))
    counter = RequestCounter()
    counter.record(200, {"date": "Fri, 20 Nov 2026 10:00:00 GMT"})
    counter.record(304, {"Date": "Fri, 20 Nov 2026 10:00:05 GMT"})  # a 304 counts, whatever the case
    assert counter.github_date == datetime(2026, 11, 20, 10, 0, 5)
    assert counter.github_now() == datetime(2026, 11, 20, 10, 1, 35)  # 90 s later on the monotonic clock
    assert counter.clock_source == "date"


def test_without_a_date_github_now_falls_back_to_the_newest_updated_at_then_the_host():
    counter = RequestCounter()
    before = host_now()
    assert counter.clock_source == "host" and before <= counter.github_now() <= host_now()
    counter.record(200, {}, [{"updated_at": "2026-11-19T08:00:00Z"}, {"updated_at": "2026-11-20T09:30:00Z"}])
    counter.record(200, {}, {"updated_at": "2026-11-01T00:00:00Z"})
    assert counter.clock_source == "updated_at"
    assert counter.github_now() == datetime(2026, 11, 20, 9, 30)


def test_merged_counters_keep_the_date_that_arrived_last(monkeypatch):
    ticks = iter([10.0, 20.0, 25.0])
    monkeypatch.setattr("tasks.github_client.time.monotonic", lambda: next(ticks))
    earlier, later, total = RequestCounter(), RequestCounter(), RequestCounter()
    earlier.record(200, {"date": "Fri, 20 Nov 2026 10:00:00 GMT"})
    later.record(200, {"date": "Fri, 20 Nov 2026 10:00:10 GMT"})
    total.add(later)
    total.add(earlier)  # merged last, but it arrived first: it does not win
    assert total.github_date == datetime(2026, 11, 20, 10, 0, 10)
    assert total.github_now() == datetime(2026, 11, 20, 10, 0, 15)


class _Pages:
    """A requester answering page N of a listing; the chain of `next` links stops after `served`."""

    def __init__(self, served: int, promised: int):
        self.served, self.promised, self.calls = served, promised, 0

    def requestJsonAndCheck(self, verb, url, parameters=None, headers=None, input=None):  # noqa: N802, A002
        self.calls += 1
        page = self.calls
        links = [f'<http://gh/items?page={self.promised}>; rel="last"']
        if page < self.served:
            links.append(f'<http://gh/items?page={page + 1}>; rel="next"')
        answer = {"date": "Fri, 20 Nov 2026 10:00:00 GMT", "link": ", ".join(links)}
        return answer, [{"id": page}]


class _FakeGithub:
    def __init__(self, requester):
        self.requester = requester


def test_a_listing_that_ends_before_its_announced_last_page_is_an_error():
    client = GitHubClient(_FakeGithub(_Pages(served=2, promised=3)))
    with pytest.raises(ListingCutShort, match="2 of the 3 pages"):
        list(client.pages("/items"))
    whole = GitHubClient(_FakeGithub(_Pages(served=3, promised=3)))
    assert [page.data[0]["id"] for page in whole.pages("/items")] == [1, 2, 3]
    early = GitHubClient(_FakeGithub(_Pages(served=2, promised=3)))
    pages = early.pages("/items")
    assert next(pages).data == [{"id": 1}]
    pages.close()  # a reader that stops on its own (watermark reached) is no error
    assert isinstance(ListingCutShort(1, 2, "/x"), GitHubError)


# ── against the sandbox, over HTTP ────────────────────────────────────────────


def test_the_client_reads_the_servers_clock_from_every_answer_even_errors(sandbox):
    sandbox.state.set_faults(clock_offset_seconds=-ELEVEN_DAYS)
    client = GitHubClient(Github(base_url=sandbox.url, auth=Auth.Token(sandbox.token)))
    with pytest.raises(GitHubError):
        client.get("/repos/dappcore/no-such-repo")
    behind = host_now() - client.github_now()
    assert timedelta(days=11) - timedelta(seconds=5) <= behind <= timedelta(days=11) + timedelta(seconds=5)
    assert client.counter.clock_source == "date"


def _big_repo(state, issues: int) -> None:
    """One repository whose issues were all last updated two days ago (on the sandbox's clock)."""
    state.add_repo("clockorg", "big", default_branch="main")
    two_days_ago = state.clock() - timedelta(days=2)
    for n in range(issues):
        state.add_issue("clockorg/big", f"Old issue {n}", body=f"body {n}", created_at=two_days_ago)


@pytest.mark.usefixtures("prefect_harness")
def test_with_the_server_11_days_behind_an_incremental_snapshot_still_holds_every_new_issue(sandbox, tmp_path):
    state = sandbox.state
    state.set_faults(clock_offset_seconds=-ELEVEN_DAYS)
    _big_repo(state, 250)
    settings = make_settings(sandbox.url, tmp_path / "clock.duckdb", org="clockorg")
    snapshot(settings)
    for n in range(150):
        state.add_issue("clockorg/big", f"New issue {n}", body="added after the first snapshot")
    state.request_log.clear()
    second = snapshot(settings)

    assert second["full_repos"] == []  # incremental: read newest first, stopped at the watermark
    assert query(settings, "SELECT count(*) FROM issues WHERE title LIKE 'New issue %'") == [(150,)]
    assert query(settings, "SELECT count(*) FROM issues") == [(400,)]
    assert len([r for r in state.request_log if r["path"] == "/repos/clockorg/big/issues"]) == 2
    runs = query(settings, "SELECT status, started_at, github_started_at FROM snapshot_runs ORDER BY run_id")
    assert [status for status, _, _ in runs] == ["complete", "complete"]
    for _, started, github_started in runs:
        assert abs((started - github_started) - timedelta(days=11)) < timedelta(minutes=1)
    since = query(settings, "SELECT since FROM sync_state WHERE repo = 'clockorg/big'")[0][0]
    assert since == runs[1][2] - timedelta(minutes=settings.github.since_margin_minutes)
    # the views' "now" is GitHub's clock too
    assert query(settings, "SELECT max(snapshot_clock) FROM stg_snapshot_runs") == [(runs[1][2],)]


@pytest.mark.usefixtures("prefect_harness")
def test_a_snapshot_cut_off_mid_listing_fails_and_the_previous_one_stays_current(sandbox, tmp_path, monkeypatch):
    state = sandbox.state
    _big_repo(state, 250)
    settings = make_settings(sandbox.url, tmp_path / "cut.duckdb", org="clockorg")
    snapshot(settings)
    for n in range(150):
        state.add_issue("clockorg/big", f"New issue {n}")
    _die_after_the_first_page_of(state, "/repos/clockorg/big/issues", monkeypatch)
    with pytest.raises(Exception):  # noqa: B017 - a dropped connection surfaces as several types
        snapshot(settings)
    runs = query(settings, "SELECT run_id, status, error FROM snapshot_runs ORDER BY run_id")
    assert [status for _, status, _ in runs] == ["complete", "failed"] and runs[1][2]
    assert query(settings, "SELECT run_id FROM latest_snapshot") == [(runs[0][0],)]
    assert query(settings, "SELECT count(*) FROM issues") == [(250,)]
    assert query(settings, "SELECT count(*) FROM issue_history") == [(250,)]
    # it died mid-listing: page 1 of the issues was answered, page 2 never was
    pages = [r["query"] for r in state.request_log if r["path"] == "/repos/clockorg/big/issues"]
    assert state.stopped and len(pages) == 1 and not _paged(pages[0])


def _die_after_the_first_page_of(state, path: str, monkeypatch) -> None:
    """The server stops answering right after it answered the first page of `path`."""
    state.request_log.clear()
    log_request = state.log_request

    def log_then_die(method, logged_path, query, status, login, body=None):
        log_request(method, logged_path, query, status, login, body)
        if logged_path == path and not _paged(query):
            with state.lock:
                state.faults.stop_after = state.fault_counter  # the next request is dropped

    monkeypatch.setattr(state, "log_request", log_then_die)


def _paged(query: str) -> bool:
    """A query string asking for page 2 or later (`page=`, not `per_page=`)."""
    return any(part.startswith("page=") for part in query.split("&"))


def test_a_database_made_before_github_started_at_gains_the_column_and_keeps_working(tmp_path):
    import duckdb

    path = tmp_path / "old.duckdb"
    old_columns = store.TABLES["snapshot_runs"].replace(", github_started_at TIMESTAMP", "")
    assert "github_started_at" not in old_columns
    with duckdb.connect(str(path)) as con:
        con.execute(f"CREATE TABLE snapshot_runs ({old_columns})")
        con.execute("INSERT INTO snapshot_runs (run_id, started_at, status) VALUES (1, '2026-11-30 08:00', 'complete')")
    with store.reader(path) as con:  # read-only, not migrated yet: still answers
        run = store.last_complete_run(con)
    assert run == {"run_id": 1, "started_at": datetime(2026, 11, 30, 8), "github_started_at": None}
    assert store.github_clock(run, datetime(2026, 12, 1, 9)) == datetime(2026, 12, 1, 9)  # host time, no skew known
    with store.writer(path) as con:
        assert con.execute("SELECT snapshot_clock FROM stg_snapshot_runs").fetchall() == [(datetime(2026, 11, 30, 8),)]
        con.execute("UPDATE snapshot_runs SET github_started_at = TIMESTAMP '2026-11-19 08:00:05'")
        run = store.last_complete_run(con)
    # GitHub's clock 11 days (less 5 s) behind: the host's now moved by that skew
    assert store.github_clock(run, datetime(2026, 12, 1, 9)) == datetime(2026, 11, 20, 9, 0, 5)


def test_execute_judges_a_stale_pr_by_githubs_clock_not_the_hosts(sandbox, settings):
    from tasks.github_write import Live, _still_stuck

    sandbox.state.set_faults(clock_offset_seconds=-ELEVEN_DAYS)
    gh = Github(base_url=sandbox.url, auth=Auth.Token(sandbox.token), seconds_between_writes=None)
    pull = next(iter(gh.get_repo("dappcore/core-php").get_pulls(state="open")))
    pull.edit(body="touched just now, on the server's clock")  # updated_at: 11 days before the host's now
    live = Live(GitHubClient(Github(base_url=sandbox.url, auth=Auth.Token(sandbox.token))))
    # On the host's clock it would look 11 days idle (stale after 3); on GitHub's it was just touched.
    assert _still_stuck(live, "dappcore/core-php", pull.number, "stale", settings) == (
        f"PR #{pull.number} is no longer stale"
    )
