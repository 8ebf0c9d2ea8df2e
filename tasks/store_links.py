"""Writing what only GraphQL (and the newer REST endpoints) know: review threads, sub-issues, dependencies.

All three keep history like issues: a row is current while `valid_to` is NULL; a change ends the
current row and adds one. Only what this refresh looked at is settled: the threads of the PRs whose
detail came over GraphQL, the links of the issues this refresh listed. Runs inside the caller's
transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from tasks.github_read import RepoFetch, content_hash

THREAD_FIELDS = ["repo", "number", "thread_id", "is_resolved", "is_outdated", "path", "first_author"]
LINKS = {
    "sub_issue_history": (["repo", "parent", "child_repo", "child"], "parent"),
    "issue_dependency_history": (["repo", "number", "blocked_by_repo", "blocked_by"], "number"),
}


def save_graphql_facts(con: duckdb.DuckDBPyConnection, fetches: list[RepoFetch], run_id: int, at: datetime) -> int:
    """Review threads and links of every fetch; returns the versions added."""
    added = 0
    for fetch in fetches:
        if fetch.review_threads is not None:
            numbers = sorted({row["number"] for row in fetch.pulls if row.get("detail_at") is not None})
            added += _save_threads(con, fetch.repo, numbers, fetch.review_threads, run_id, at)
        added += _save_links(con, "sub_issue_history", fetch.repo, fetch.links_checked, fetch.sub_issues, run_id, at)
        added += _save_links(
            con, "issue_dependency_history", fetch.repo, fetch.links_checked, fetch.dependencies, run_id, at
        )
    return added


def _save_threads(
    con: duckdb.DuckDBPyConnection, repo: str, numbers: list[int], rows: list[dict[str, Any]], run_id: int, at: datetime
) -> int:
    """Threads of the PRs in `numbers`: changed ones get a new version, vanished ones are ended."""
    frame = pd.DataFrame(rows, columns=THREAD_FIELDS)
    frame["content_hash"] = [content_hash(row) for row in frame.to_dict("records")]
    con.register("incoming_threads", frame)
    try:
        con.execute(  # end the threads that changed or vanished
            "UPDATE review_thread_history h SET valid_to = ? "
            "WHERE h.repo = ? AND list_contains(?, h.number) AND h.valid_to IS NULL AND NOT EXISTS ("
            " SELECT 1 FROM incoming_threads i"
            " WHERE i.thread_id = h.thread_id AND i.number = h.number AND i.content_hash = h.content_hash)",
            [at, repo, numbers],
        )
        cols = ", ".join(THREAD_FIELDS)
        picked = ", ".join(f"i.{c}" for c in THREAD_FIELDS)
        return con.execute(  # new threads and new versions of the changed ones
            f"INSERT INTO review_thread_history ({cols}, content_hash, run_id, valid_from) "
            f"SELECT {picked}, i.content_hash, ?, ? FROM incoming_threads i WHERE NOT EXISTS ("
            " SELECT 1 FROM review_thread_history h WHERE h.repo = i.repo AND h.number = i.number"
            " AND h.thread_id = i.thread_id AND h.valid_to IS NULL)",
            [run_id, at],
        ).fetchone()[0]
    finally:
        con.unregister("incoming_threads")


def _save_links(
    con: duckdb.DuckDBPyConnection,
    table: str,
    repo: str,
    checked: list[int],
    rows: list[dict[str, Any]],
    run_id: int,
    at: datetime,
) -> int:
    """The links of the issues in `checked`: new ones start, missing ones end."""
    if not checked:
        return 0
    fields, key = LINKS[table]
    frame = pd.DataFrame(rows, columns=fields).drop_duplicates()
    con.register("incoming_links", frame)
    try:
        same = " AND ".join(f"i.{c} = h.{c}" for c in fields)
        con.execute(  # end the links that are gone
            f"UPDATE {table} h SET valid_to = ? WHERE h.repo = ? AND list_contains(?, h.{key}) "
            f"AND h.valid_to IS NULL AND NOT EXISTS (SELECT 1 FROM incoming_links i WHERE {same})",
            [at, repo, checked],
        )
        cols = ", ".join(fields)
        picked = ", ".join(f"i.{c}" for c in fields)
        return con.execute(  # the new links
            f"INSERT INTO {table} ({cols}, run_id, valid_from) SELECT {picked}, ?, ? FROM incoming_links i "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} h WHERE {same} AND h.valid_to IS NULL)",
            [run_id, at],
        ).fetchone()[0]
    finally:
        con.unregister("incoming_links")
