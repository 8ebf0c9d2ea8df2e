"""The DuckDB file: raw tables keep history, views give the current picture.

`ensure_schema` is safe to run again; `save_*` functions write inside the caller's
transaction. All timestamps are UTC (naive `TIMESTAMP`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from tasks.github_read import PR_DETAIL_COLUMNS, RepoFetch, RepoSyncState, content_hash
from tasks.store_links import save_graphql_facts

ISSUE_COLUMNS = """
    repo VARCHAR NOT NULL, number INTEGER NOT NULL, id BIGINT,
    title VARCHAR, body VARCHAR, state VARCHAR, state_reason VARCHAR,
    author VARCHAR, author_association VARCHAR,
    labels VARCHAR[], assignees VARCHAR[], milestone VARCHAR,
    comments INTEGER, locked BOOLEAN,
    created_at TIMESTAMP, updated_at TIMESTAMP, closed_at TIMESTAMP, html_url VARCHAR
"""

PULL_EXTRA_COLUMNS = """
    merged BOOLEAN, merged_at TIMESTAMP, draft BOOLEAN,
    head_ref VARCHAR, head_sha VARCHAR, base_ref VARCHAR,
    mergeable BOOLEAN, mergeable_state VARCHAR,
    ci_state VARCHAR, checks_total INTEGER, checks_failing INTEGER,
    review_decision VARCHAR, approvals INTEGER, changes_requested_by VARCHAR[],
    unresolved_threads INTEGER, review_comments INTEGER,
    commits INTEGER, additions INTEGER, deletions INTEGER, changed_files INTEGER,
    detail_at TIMESTAMP
"""

VERSION_COLUMNS = """
    content_hash VARCHAR NOT NULL, run_id INTEGER NOT NULL,
    valid_from TIMESTAMP NOT NULL, valid_to TIMESTAMP
"""

TABLES: dict[str, str] = {
    # started_at / finished_at: the host's clock; github_started_at: GitHub's clock (its `Date`
    # header) when listing began, the base of the next `since` watermark and of the views' "now".
    "snapshot_runs": """
        run_id INTEGER PRIMARY KEY, started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP,
        status VARCHAR NOT NULL, repos VARCHAR[], full_repos VARCHAR[],
        requests INTEGER, requests_not_modified INTEGER,
        rate_limit_remaining INTEGER, rate_limit_limit INTEGER,
        versions_added INTEGER, error VARCHAR, github_started_at TIMESTAMP,
        graphql_points INTEGER, read_path VARCHAR
    """,
    "repositories": """
        repo VARCHAR PRIMARY KEY, id BIGINT, name VARCHAR, default_branch VARCHAR,
        archived BOOLEAN, private BOOLEAN, language VARCHAR, open_issues_count INTEGER,
        pushed_at TIMESTAMP, html_url VARCHAR, run_id INTEGER
    """,
    "issue_history": ISSUE_COLUMNS + "," + VERSION_COLUMNS,
    "pull_request_history": ISSUE_COLUMNS + "," + PULL_EXTRA_COLUMNS + "," + VERSION_COLUMNS,
    # Review threads of open PRs (GraphQL only; REST cannot see them), one version per change.
    "review_thread_history": """
        repo VARCHAR NOT NULL, number INTEGER NOT NULL, thread_id VARCHAR NOT NULL,
        is_resolved BOOLEAN, is_outdated BOOLEAN, path VARCHAR, first_author VARCHAR,
    """ + VERSION_COLUMNS,
    # Native sub-issues and "blocked by" dependencies: a link is current while valid_to IS NULL.
    "sub_issue_history": """
        repo VARCHAR NOT NULL, parent INTEGER NOT NULL, child_repo VARCHAR NOT NULL, child INTEGER NOT NULL,
        run_id INTEGER NOT NULL, valid_from TIMESTAMP NOT NULL, valid_to TIMESTAMP
    """,
    "issue_dependency_history": """
        repo VARCHAR NOT NULL, number INTEGER NOT NULL, blocked_by_repo VARCHAR NOT NULL, blocked_by INTEGER NOT NULL,
        run_id INTEGER NOT NULL, valid_from TIMESTAMP NOT NULL, valid_to TIMESTAMP
    """,
    "comments": """
        repo VARCHAR NOT NULL, number INTEGER, id BIGINT PRIMARY KEY, author VARCHAR, body VARCHAR,
        created_at TIMESTAMP, updated_at TIMESTAMP, html_url VARCHAR, run_id INTEGER, author_association VARCHAR
    """,
    "issue_events": """
        repo VARCHAR NOT NULL, number INTEGER, id BIGINT PRIMARY KEY, event VARCHAR, actor VARCHAR,
        label VARCHAR, assignee VARCHAR, commit_id VARCHAR, created_at TIMESTAMP,
        is_pull_request BOOLEAN, run_id INTEGER
    """,
    "branches": """
        repo VARCHAR NOT NULL, name VARCHAR NOT NULL, sha VARCHAR, ahead_by INTEGER, behind_by INTEGER,
        run_id INTEGER, PRIMARY KEY (repo, name)
    """,
    # Conditional requests: the ETag of each URL's last 200 answer (and, for detail
    # answers, its body, which a later 304 stands for).
    "http_cache": "url VARCHAR PRIMARY KEY, etag VARCHAR, body JSON, run_id INTEGER",
    # Settings the views need (agent label, thresholds), written by every flow run, so that
    # plain SQL clients see the same picture as the CLI.
    "run_settings": "key VARCHAR PRIMARY KEY, value VARCHAR",
    # Materialised by Python after each snapshot (markdown parsing is not SQL's job);
    # the `audit_findings`, `parse_warnings` and `framework_candidates` views read them.
    "finding_rows": """
        repo VARCHAR, audit_number INTEGER, finding_index INTEGER, title VARCHAR, text VARCHAR,
        severity VARCHAR, type VARCHAR, scope VARCHAR, complexity VARCHAR, fingerprint VARCHAR,
        severity_explicit BOOLEAN, type_explicit BOOLEAN, labels VARCHAR[]
    """,
    "parse_warning_rows": "repo VARCHAR, number INTEGER, warning VARCHAR",
    "framework_candidate_rows": """
        candidate_id VARCHAR, type VARCHAR, title VARCHAR, repo VARCHAR, audit_number INTEGER,
        finding_index INTEGER, fingerprint VARCHAR, member_count INTEGER, repo_count INTEGER
    """,
    "dispatch_plans": """
        plan_id VARCHAR PRIMARY KEY, created_at TIMESTAMP NOT NULL, snapshot_run_id INTEGER,
        strategy VARCHAR, pool INTEGER, used INTEGER, remaining INTEGER, planned_cost INTEGER, summary JSON
    """,
    "plan_actions": """
        plan_id VARCHAR NOT NULL, seq INTEGER NOT NULL, action VARCHAR NOT NULL, repo VARCHAR NOT NULL,
        target VARCHAR, payload JSON, reason VARCHAR, priority INTEGER, cost INTEGER NOT NULL,
        precondition JSON, member VARCHAR, PRIMARY KEY (plan_id, seq)
    """,
    # The budget ledger: one row per executed action; "used today" is counted here.
    "action_log": """
        plan_id VARCHAR NOT NULL, seq INTEGER NOT NULL, action VARCHAR NOT NULL, repo VARCHAR NOT NULL,
        target VARCHAR, status VARCHAR NOT NULL, reason VARCHAR, github_url VARCHAR, cost INTEGER NOT NULL,
        member VARCHAR, executed_at TIMESTAMP NOT NULL,
        actor VARCHAR,  -- the login that acted on GitHub: the token's user, or an App's `slug[bot]`
        PRIMARY KEY (plan_id, seq)
    """,
    # GitHub's content-creation limits: one row per content-creating request execute sent (sent_at:
    # GitHub's clock), so a run counts the writes of earlier runs in the same minute and hour.
    "write_log": """
        sent_at TIMESTAMP NOT NULL, method VARCHAR NOT NULL, path VARCHAR, plan_id VARCHAR, seq INTEGER,
        login VARCHAR
    """,
    "sync_state": """
        repo VARCHAR PRIMARY KEY, since TIMESTAMP, last_event_id BIGINT,
        snapshots_since_full INTEGER, last_full_at TIMESTAMP
    """,
}

# Columns added after a table was first released. Kept for the record: an upgrade finds every
# column of `TABLES` a database lacks by itself (tasks/schema_upgrade.py), so a new column needs only
# its line in `TABLES` (with a DEFAULT when it is NOT NULL).
ADDED_COLUMNS: dict[str, list[str]] = {
    "snapshot_runs": ["github_started_at TIMESTAMP", "graphql_points INTEGER", "read_path VARCHAR"],
    "comments": ["author_association VARCHAR"],  # the trust model needs who wrote each comment
}

VIEWS: dict[str, str] = {
    "issues": "SELECT * EXCLUDE (content_hash, valid_to) FROM issue_history WHERE valid_to IS NULL",
    "pull_requests": "SELECT * EXCLUDE (content_hash, valid_to) FROM pull_request_history WHERE valid_to IS NULL",
    "review_threads": "SELECT * EXCLUDE (content_hash, valid_to) FROM review_thread_history WHERE valid_to IS NULL",
    "latest_snapshot": "SELECT * FROM snapshot_runs WHERE status = 'complete' ORDER BY run_id DESC LIMIT 1",
}

ISSUE_FIELDS = [
    "repo", "number", "id", "title", "body", "state", "state_reason", "author", "author_association",
    "labels", "assignees", "milestone", "comments", "locked", "created_at", "updated_at", "closed_at", "html_url",
]  # fmt: skip
PULL_FIELDS = ISSUE_FIELDS + ["merged", "merged_at", "draft", *PR_DETAIL_COLUMNS]


def connect(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the database file (creating its folder).

    DuckDB refuses a writer while another process holds the file, even read-only: a writer
    waits (up to a minute) for such a reader to finish instead of failing a scheduled run.
    """
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if read_only or "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Bring the tables, columns and views to this release's schema (safe to re-run; an older
    database is upgraded in one transaction, a newer one refused: `tasks/schema_upgrade.py`)."""
    from tasks.schema_upgrade import apply_schema

    apply_schema(con)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: a failed snapshot leaves the previous one current."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


# ── snapshot runs ─────────────────────────────────────────────────────────────


def start_snapshot_run(con: duckdb.DuckDBPyConnection, started_at: datetime) -> int:
    run_id = con.execute("SELECT nextval('snapshot_run_id')").fetchone()[0]
    con.execute("INSERT INTO snapshot_runs (run_id, started_at, status) VALUES (?, ?, 'running')", [run_id, started_at])
    return int(run_id)


def finish_snapshot_run(con: duckdb.DuckDBPyConnection, run_id: int, status: str, **figures: Any) -> None:
    columns = ", ".join(f"{key} = ?" for key in figures)
    sets = f", {columns}" if columns else ""
    con.execute(
        f"UPDATE snapshot_runs SET status = ?, finished_at = now()::TIMESTAMP{sets} WHERE run_id = ?",
        [status, *figures.values(), run_id],
    )


def last_complete_run(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    # `*`: a database made before github_started_at existed, opened read-only, still answers
    cursor = con.execute("SELECT * FROM snapshot_runs WHERE status = 'complete' ORDER BY run_id DESC LIMIT 1")
    row = cursor.fetchone()
    if row is None:
        return None
    run = dict(zip([column[0] for column in cursor.description], row, strict=True))
    return {key: run.get(key) for key in ("run_id", "started_at", "github_started_at")}


def github_clock(run: dict[str, Any] | None, host_now: datetime) -> datetime:
    """GitHub's clock at `host_now` (a host time): the host's time moved by how far GitHub's clock
    stood from the host's at the run's start. For comparisons with GitHub's timestamps (cooldowns)."""
    if not run or run.get("github_started_at") is None:
        return host_now
    return host_now + (run["github_started_at"] - run["started_at"])


# ── reading what we know, for the next refresh ────────────────────────────────


def load_sync_state(
    con: duckdb.DuckDBPyConnection,
    repo: str,
    full_every: int,
    force_full: bool,
    margin_minutes: int,
    default_branch: str | None = None,
) -> RepoSyncState:
    """What a repo's next refresh needs: watermark, last event, open PRs, ETags."""
    sync = con.execute(
        "SELECT since, last_event_id, snapshots_since_full FROM sync_state WHERE repo = ?", [repo]
    ).fetchone()
    full = force_full or sync is None or (sync[2] or 0) + 1 >= full_every
    known = con.execute(
        "SELECT number FROM issues WHERE repo = ? UNION ALL SELECT number FROM pull_requests WHERE repo = ?",
        [repo, repo],
    ).fetchall()
    open_pulls = con.execute(
        f"SELECT {', '.join(PULL_FIELDS)} FROM pull_requests WHERE repo = ? AND state = 'open'", [repo]
    ).fetchdf()
    cache = con.execute(
        "SELECT url, etag, body FROM http_cache WHERE starts_with(url, ?)", [f"/repos/{repo}/"]
    ).fetchall()
    has_epics = con.execute(
        "SELECT count(*) > 0 FROM issues WHERE repo = ? AND state = 'open' "
        "AND regexp_matches(body, '(?m)^\\s*[-*]\\s+\\[[ xX]\\]\\s+')",
        [repo],
    ).fetchone()[0]
    return RepoSyncState(
        repo=repo,
        full=full,
        since=sync[0] if sync else None,
        known_numbers=[number for (number,) in known],
        last_event_id=sync[1] if sync else None,
        open_pulls={int(r["number"]): _clean(r) for r in open_pulls.to_dict("records")},
        etags={url: etag for url, etag, _ in cache if etag},
        cached={url: json.loads(body) for url, _, body in cache if body is not None},
        has_epics=bool(has_epics),
        default_branch=default_branch,
    )


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """pandas -> plain Python (NaT/NaN -> None, numpy arrays -> lists)."""
    out = {}
    for key, value in row.items():
        if hasattr(value, "tolist") and not isinstance(value, str):
            value = value.tolist()
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        elif value is pd.NaT or (isinstance(value, float) and value != value):
            value = None
        out[key] = value
    return out


# ── writing a refresh ─────────────────────────────────────────────────────────


def _frame(rows: list[dict[str, Any]], fields: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=fields)
    frame["content_hash"] = [content_hash(row, ignore=("detail_at",)) for row in rows]
    return frame


def save_versions(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: list[dict[str, Any]],
    fields: list[str],
    run_id: int,
    at: datetime,
    gone: list[tuple[str, int]],
    carry: tuple[str, ...] = (),
) -> int:
    """Type-2 merge: a changed item ends its current version and adds one; unchanged adds none.

    `carry` columns come from the current version when the new one has none (`detail_at` is
    NULL): a closed PR keeps the head/base refs and CI its last detail fetch saw. Items GitHub
    says are gone (deleted, or transferred) have their version ended. Returns versions added.
    """
    con.register("incoming", _frame(rows, fields))
    try:
        _stage_changed(con, table, fields, carry)
        added = con.execute("SELECT count(*) FROM changed").fetchone()[0]
        _end_current(con, table, at)
        cols = ", ".join(fields)
        con.execute(
            f"INSERT INTO {table} ({cols}, content_hash, run_id, valid_from) "
            f"SELECT {cols}, content_hash, ?, ? FROM changed",
            [run_id, at],
        )
        for repo, number in gone:
            con.execute(
                f"UPDATE {table} SET valid_to = ? WHERE repo = ? AND number = ? AND valid_to IS NULL",
                [at, repo, number],
            )
        con.execute("DROP TABLE changed")
    finally:
        con.unregister("incoming")
    return int(added)


def _stage_changed(con: duckdb.DuckDBPyConnection, table: str, fields: list[str], carry: tuple[str, ...]) -> None:
    """Temp table `changed`: the `incoming` rows that are new or differ from their current version,
    with `carry` columns filled from that version when the new row has no detail."""
    cols = ", ".join(fields)
    # typed like the table, so carried values and incoming ones agree
    con.execute(f"CREATE OR REPLACE TEMP TABLE changed AS SELECT {cols}, content_hash FROM {table} LIMIT 0")
    con.execute(
        f"""
        INSERT INTO changed
        SELECT {", ".join(f"i.{c}" for c in fields)}, i.content_hash FROM incoming i
        LEFT JOIN {table} h ON h.repo = i.repo AND h.number = i.number AND h.valid_to IS NULL
        WHERE h.number IS NULL OR h.content_hash <> i.content_hash
        """
    )
    if carry:
        con.execute(
            f"""
            UPDATE changed c SET {", ".join(f"{col} = h.{col}" for col in carry)}
            FROM {table} h
            WHERE h.repo = c.repo AND h.number = c.number AND h.valid_to IS NULL AND c.detail_at IS NULL
            """
        )


def _end_current(con: duckdb.DuckDBPyConnection, table: str, at: datetime) -> None:
    """End the current version of every item in `changed` (its new version follows)."""
    con.execute(
        f"""
        UPDATE {table} h SET valid_to = ?
        FROM changed c WHERE h.repo = c.repo AND h.number = c.number AND h.valid_to IS NULL
        """,
        [at],
    )


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, replace: bool = False) -> None:
    """Insert a frame's rows by column name; `replace` overwrites rows with the same primary key."""
    if frame.empty:
        return
    con.register("frame_rows", frame)
    try:
        cols = ", ".join(frame.columns)
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        con.execute(f"{verb} INTO {table} ({cols}) SELECT {cols} FROM frame_rows")
    finally:
        con.unregister("frame_rows")


def save_repositories(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]], run_id: int) -> None:
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["run_id"] = run_id
    insert_frame(con, "repositories", frame, replace=True)


def save_repo_fetch(
    con: duckdb.DuckDBPyConnection, fetch: RepoFetch, run_id: int, at: datetime, margin_minutes: int
) -> None:
    """Comments, events, branches, HTTP cache and sync state of one repo's refresh."""
    if fetch.comments:
        frame = pd.DataFrame(fetch.comments)
        frame["run_id"] = run_id
        insert_frame(con, "comments", frame, replace=True)
    if fetch.full and fetch.comments_changed:
        # A full listing is the whole truth: comments it lacks were deleted.
        ids = [row["id"] for row in fetch.comments]
        con.execute("DELETE FROM comments WHERE repo = ? AND NOT list_contains(?, id)", [fetch.repo, ids])
    if fetch.events:
        frame = pd.DataFrame(fetch.events).drop_duplicates("id")
        frame["run_id"] = run_id
        insert_frame(con, "issue_events", frame, replace=True)
    if fetch.epic_branches is not None:
        con.execute("DELETE FROM branches WHERE repo = ? AND name LIKE 'epic/%'", [fetch.repo])
        frame = pd.DataFrame(fetch.epic_branches, columns=["repo", "name", "sha", "ahead_by", "behind_by"])
        frame["run_id"] = run_id
        insert_frame(con, "branches", frame, replace=True)
    if fetch.etags:
        frame = pd.DataFrame(
            [
                {"url": url, "etag": etag, "body": json.dumps(fetch.cached[url]) if url in fetch.cached else None}
                for url, etag in fetch.etags.items()
            ]
        )
        frame["run_id"] = run_id
        insert_frame(con, "http_cache", frame, replace=True)
    # Answers this refresh no longer asked for (old head SHAs, closed PRs) are dropped.
    con.execute(
        "DELETE FROM http_cache WHERE starts_with(url, ?) AND NOT list_contains(?, url)",
        [f"/repos/{fetch.repo}/", list(fetch.etags)],
    )
    _save_sync_state(con, fetch, at, margin_minutes)


def _save_sync_state(con: duckdb.DuckDBPyConnection, fetch: RepoFetch, at: datetime, margin_minutes: int) -> None:
    """The next refresh asks for what changed since this one started (`at`: GitHub's clock, from its
    `Date` header, so the host's clock cannot skew it), less a margin for GitHub's own lag (an
    update may reach its listings a little late)."""
    previous = con.execute(
        "SELECT last_event_id, snapshots_since_full, last_full_at FROM sync_state WHERE repo = ?", [fetch.repo]
    ).fetchone() or (None, 0, None)
    last_event = max([row["id"] for row in fetch.events] + [previous[0] or 0]) or None
    con.execute(
        "INSERT OR REPLACE INTO sync_state VALUES (?, ?, ?, ?, ?)",
        [
            fetch.repo,
            at - pd.Timedelta(minutes=margin_minutes),
            last_event,
            0 if fetch.full else (previous[1] or 0) + 1,
            at if fetch.full else previous[2],
        ],
    )


def save_snapshot(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    at: datetime,
    repositories: list[dict[str, Any]],
    fetches: list[RepoFetch],
    margin_minutes: int,
    derive: Callable[[pd.DataFrame, dict[str, str | None]], dict[str, pd.DataFrame]] | None = None,
    settings: dict[str, Any] | None = None,
    figures: dict[str, Any] | None = None,
) -> int:
    """Write a whole snapshot, and the tables derived from it, in one transaction.

    Returns the number of history versions added.
    """
    gone = [(f.repo, number) for f in fetches for number in f.gone]
    with transaction(con):
        save_repositories(con, repositories, run_id)
        added = save_versions(
            con, "issue_history", [r for f in fetches for r in f.issues], ISSUE_FIELDS, run_id, at, gone
        )
        added += save_versions(
            con,
            "pull_request_history",
            [r for f in fetches for r in f.pulls],
            PULL_FIELDS,
            run_id,
            at,
            gone,
            carry=PR_DETAIL_COLUMNS,
        )
        added += save_graphql_facts(con, fetches, run_id, at)  # review threads, sub-issues, dependencies
        for fetch in fetches:
            save_repo_fetch(con, fetch, run_id, at, margin_minutes)
        save_settings(con, settings or {})  # before deriving: who is trusted decides framework groups
        if derive is not None:
            replace_tables(con, derive(current_open_issues(con), repo_languages(con)))
        # Marked complete in the same transaction as its data: no reader ever sees one without the other.
        columns = {k: v for k, v in (figures or {}).items() if k != "run_id"}
        finish_snapshot_run(con, run_id, "complete", versions_added=added, **columns)
    return added


# ── one writer at a time ──────────────────────────────────────────────────────


@contextmanager
def writer(path: str | Path, timeout: float = 600) -> Iterator[duckdb.DuckDBPyConnection]:
    """The only way to write: a file lock (overlapping flow runs wait, never fail), then the schema."""
    from filelock import FileLock

    from tasks.preflight import check_database_path

    path = Path(path)
    check_database_path(path)  # one line at once, not a lock timeout or a DuckDB traceback
    with FileLock(f"{path}.lock", timeout=timeout):
        from tasks.schema_upgrade import open_current

        con = open_current(path)  # an older database is copied aside and upgraded, a newer one refused
        try:
            yield con
        finally:
            con.close()


@contextmanager
def reader(path: str | Path, attempts: int = 50) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection; waits briefly while a writer holds the file."""
    import time

    from tasks.schema_upgrade import ensure_current

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no database at {path} (run `orchestrator snapshot` first)")
    ensure_current(path)  # an older database is upgraded first (with its copy), a newer one refused
    for attempt in range(attempts):
        try:
            con = connect(path, read_only=True)
            break
        except duckdb.IOException:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2)
    try:
        yield con
    finally:
        con.close()


def replace_tables(con: duckdb.DuckDBPyConnection, frames: dict[str, pd.DataFrame]) -> None:
    """Swap the rows of derived tables (inside the caller's transaction)."""
    for table, frame in frames.items():
        con.execute(f"DELETE FROM {table}")
        if frame is not None:
            insert_frame(con, table, frame)


def current_open_issues(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        "SELECT repo, number, title, body, is_trusted FROM stg_issues WHERE is_open ORDER BY repo, number"
    ).fetchdf()


def repo_languages(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    return {
        repo: (lang or "").lower() or None
        for repo, lang in con.execute("SELECT repo, language FROM repositories").fetchall()
    }


def save_settings(con: duckdb.DuckDBPyConnection, values: dict[str, Any]) -> None:
    for key, value in values.items():
        con.execute("INSERT OR REPLACE INTO run_settings VALUES (?, ?)", [key, str(value)])
