"""Rows are built from GitHub's own list payloads, recorded from api.github.com."""

from datetime import datetime

from tasks.github_client import parse_link_header
from tasks.github_read import (
    ci_state,
    comment_row,
    content_hash,
    event_row,
    issue_row,
    pull_row,
    repository_row,
    review_summary,
)
from tests.recorded import recorded


def test_issues_list_splits_prs_from_issues_and_keeps_every_item():
    pages = [i for i in recorded("Repository_issues_state_all") if isinstance(i["json"], list)]
    items = [raw for page in pages for raw in page["json"]]
    pulls = [pull_row("betamaxpy/betamax", raw) for raw in items if raw.get("pull_request")]
    issues = [issue_row("betamaxpy/betamax", raw) for raw in items if not raw.get("pull_request")]
    assert len(items) == 150
    assert len(pulls) == 67 and len(issues) == 83
    assert sum(row["state"] == "closed" for row in pulls + issues) == 134
    # These recorded PRs predate `pull_request.merged_at`: merged is unknown from the list alone.
    assert all(row["merged"] is False and row["merged_at"] is None for row in pulls)


def test_issue_row_keeps_labels_nulls_and_times():
    items = [raw for i in recorded("Repository_issues_state_all") if isinstance(i["json"], list) for raw in i["json"]]
    rows = [issue_row("o/r", raw) for raw in items]
    labelled = next(row for row in rows if row["labels"])
    assert all(isinstance(name, str) for name in labelled["labels"])
    assert sum(row["body"] is None for row in rows) == 2  # null bodies stay NULL, not ""
    assert all(isinstance(row["created_at"], datetime) and row["created_at"].tzinfo is None for row in rows)
    assert {row["number"]: row["milestone"] for row in rows if row["milestone"]}[106] == "0.7.0"
    assert sum(row["milestone"] is not None for row in rows) == 19
    assert sum(any(ord(c) > 127 for c in (row["body"] or "") + row["title"]) for row in rows) == 4


def test_link_header_of_recorded_page_gives_next_and_last():
    first = next(i for i in recorded("Repository_issues_state_all") if isinstance(i["json"], list))
    links = parse_link_header(first["headers"]["Link"])
    assert links["next"].endswith("page=2") and "last" in links


def test_comment_row_takes_issue_number_from_issue_url():
    comments = next(i["json"] for i in recorded("Issue_comments") if isinstance(i["json"], list))
    row = comment_row("o/r", comments[0])
    assert row["number"] == int(comments[0]["issue_url"].rsplit("/", 1)[1])
    assert row["id"] == comments[0]["id"] and row["author"] == comments[0]["user"]["login"]


def test_ci_state_from_recorded_check_runs_and_statuses():
    runs = next(
        i["json"]
        for i in recorded("CheckRun_check_runs_for_ref")
        if isinstance(i["json"], dict) and "check_runs" in i["json"]
    )
    statuses = next(i["json"] for i in recorded("Repository_statuses") if isinstance(i["json"], list))
    state, total, failing = ci_state(runs, {"statuses": statuses})
    assert total == len(runs["check_runs"]) + len(statuses)
    assert state in {"success", "failure", "pending"}
    assert (state == "failure") == (failing > 0)


def test_ci_state_rules():
    ok = {"check_runs": [{"status": "completed", "conclusion": "success"}]}
    bad = {"check_runs": [{"status": "completed", "conclusion": "failure"}]}
    running = {"check_runs": [{"status": "in_progress", "conclusion": None}]}
    assert ci_state(ok, None) == ("success", 1, 0)
    assert ci_state(ok, {"statuses": [{"state": "error"}]}) == ("failure", 2, 1)
    assert ci_state(bad, None)[0] == "failure"
    assert ci_state(running, None)[0] == "pending"
    assert ci_state(None, {"statuses": []}) == ("none", 0, 0)


def test_latest_review_per_reviewer_decides():
    reviews = [
        {"id": 1, "user": {"login": "a"}, "state": "CHANGES_REQUESTED", "submitted_at": "2024-01-01T00:00:00Z"},
        {"id": 2, "user": {"login": "a"}, "state": "COMMENTED", "submitted_at": "2024-01-02T00:00:00Z"},
        {"id": 3, "user": {"login": "b"}, "state": "APPROVED", "submitted_at": "2024-01-03T00:00:00Z"},
    ]
    assert review_summary(reviews) == ("CHANGES_REQUESTED", 1, ["a"])
    reviews.append({"id": 4, "user": {"login": "a"}, "state": "APPROVED", "submitted_at": "2024-01-04T00:00:00Z"})
    assert review_summary(reviews) == ("APPROVED", 2, [])
    assert review_summary([{"id": 5, "user": None, "state": "APPROVED"}]) == (None, 0, [])


def test_bad_text_in_every_string_field_is_cleaned_and_the_row_kept():
    """Lone surrogates become U+FFFD, NULs and control characters go; tabs and newlines stay."""
    bad, cleaned = "a\ud800b\x00c\x1b[1md\te\r\nf\x9b", "a\ufffdbc[1md\te\r\nf"
    raw = next(raw for i in recorded("Repository_issues_state_all") if isinstance(i["json"], list) for raw in i["json"])
    raw = {**raw, "title": bad, "body": bad, "user": {"login": bad}, "labels": [{"name": bad}, bad]}
    row = issue_row("o/r", raw)
    assert (row["title"], row["body"], row["author"], row["labels"]) == (cleaned, cleaned, cleaned, [cleaned] * 2)
    assert row["number"] == raw["number"] and row["created_at"] is not None
    comment = next(i["json"] for i in recorded("Issue_comments") if isinstance(i["json"], list))[0]
    assert comment_row("o/r", {**comment, "body": bad})["body"] == cleaned
    event = event_row("o/r", {"id": 1, "event": "labeled", "label": {"name": bad}, "actor": {"login": bad}})
    assert (event["label"], event["actor"]) == (cleaned, cleaned)
    repo = repository_row({"full_name": "o/r", "name": "r", "language": bad, "default_branch": bad})
    assert (repo["language"], repo["default_branch"]) == (cleaned, cleaned)
    content_hash(row)  # what failed every snapshot: hashing a title that cannot be encoded


def test_clean_rows_of_ordinary_recorded_payloads_are_unchanged():
    items = [raw for i in recorded("Repository_issues_state_all") if isinstance(i["json"], list) for raw in i["json"]]
    for raw in items:
        row = issue_row("o/r", raw)
        assert row["title"] == raw["title"] and row["body"] == raw["body"]
