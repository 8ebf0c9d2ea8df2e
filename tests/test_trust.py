"""The trust model (README "Trust model"): only trusted people's audits, epics, `Parent:` links and
`needs-human` are instructions, and markers count only from the orchestrator's own identity.

First the views over small hand-made snapshots, then a hostile-content suite against the sandbox
over real HTTP: an outside contributor forges markers on a member's audit, files an "epic" over
three open issues and an "[Audit]" of their own; snapshot -> plan -> execute --apply, twice.
"""

from __future__ import annotations

import json

import pytest

from analytics.findings import extract_findings
from common.config import is_trusted_author, parse_settings, view_settings
from flows.execute import execute
from flows.plan import plan_flow
from flows.snapshot import snapshot
from tasks import store
from tasks.github_write import Live, make_writer
from tests.conftest import SANDBOX_NOW, make_settings
from tests.test_views import OWN, REPO, add_comment, add_event, add_issue, add_pr, add_snapshot, rows

ORG = "dappcore"
LAB = f"{ORG}/trust-lab"
MEMBER = "bodane"  # an organisation member in the demo seed (author_association MEMBER)
OUTSIDER = "mallory"  # never invited: author_association NONE

SQL_AUDIT = (
    "## Critical\n"
    "- SQL injection in the login form: user input is concatenated into the query\n"
    "- Remote code execution through the image upload: files are executed by the web server\n"
)
OUTSIDER_AUDIT = "\n".join(f"- Rewrite module {n} in another language to modernise it" for n in range(1, 4))


# ── settings and the predicate execute uses ───────────────────────────────────


def test_trust_settings_reach_the_views_and_bad_associations_are_refused(tmp_path):
    settings = make_settings("http://127.0.0.1:1", tmp_path / "db.duckdb", trusted_authors=["Auditor-Bot"])
    assert settings.github.trusted_associations == ["OWNER", "MEMBER", "COLLABORATOR"]
    assert is_trusted_author(settings, "snider", None, "robot")  # a team member, any association
    assert is_trusted_author(settings, "AUDITOR-BOT", "NONE", "robot")  # github.trusted_authors
    assert is_trusted_author(settings, "ROBOT", "NONE", "robot")  # the own identity
    assert is_trusted_author(settings, "someone", "collaborator", "robot")
    assert not is_trusted_author(settings, "someone", "CONTRIBUTOR", "robot")
    assert not is_trusted_author(settings, None, "OWNER", "robot")
    with pytest.raises(Exception, match=r"github\.trusted_associations.*unknown author_association 'ADMIN'"):
        parse_settings({"github": {"org": "o", "trusted_associations": ["ADMIN"]}})
    app = make_settings("http://127.0.0.1:1", tmp_path / "db.duckdb", login="orchestrator[bot]")
    assert view_settings(app)["token_login"] == "orchestrator[bot]"  # an App names itself
    assert "token_login" not in view_settings(settings)  # else the snapshot asks GET /user
    with store.writer(settings.database.path) as con:
        store.save_settings(con, {**view_settings(settings), "token_login": "Robot"})
        assert con.execute("SELECT own_login, trusted_logins, trusted_associations FROM stg_settings").fetchall() == [
            ("robot", ["auditor-bot", "snider"], ["OWNER", "MEMBER", "COLLABORATOR"])
        ]


def test_an_old_database_gains_the_comment_association_column(tmp_path):
    import duckdb

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE comments (repo VARCHAR NOT NULL, number INTEGER, id BIGINT PRIMARY KEY, author VARCHAR,"
        " body VARCHAR, created_at TIMESTAMP, updated_at TIMESTAMP, html_url VARCHAR, run_id INTEGER)"
    )
    con.execute("INSERT INTO comments (repo, number, id, author, body) VALUES ('o/r', 1, 1, 'x', 'Parent: #2')")
    con.close()
    with store.writer(path) as con:
        assert con.execute("SELECT author_association, is_trusted FROM stg_comments").fetchall() == [(None, False)]


# ── the views over hand-made snapshots ────────────────────────────────────────


@pytest.fixture
def con():
    import duckdb

    con = duckdb.connect()
    store.ensure_schema(con)
    con.execute("INSERT INTO run_settings VALUES ('token_login', ?), ('trusted_logins', 'lead')", [OWN])
    yield con
    con.close()


def outsider(**fields):
    return {"author": OUTSIDER, "author_association": "NONE", **fields}


def test_untrusted_instructions_are_listed_never_acted_on(con):
    add_snapshot(con)
    add_issue(con, 1, "Real epic", author="Lead", author_association="NONE", body="- [ ] #2\n- [ ] #3")
    add_issue(con, 2)
    add_issue(con, 3)
    add_issue(con, 4, "Epic by an outsider", body="- [ ] #2\n- [ ] #3\n- [ ] #5", **outsider())
    add_issue(con, 5)
    add_issue(con, 6, "[Audit] by an outsider", **outsider())
    add_issue(con, 7, "[Audit] by a collaborator", author="carol", author_association="COLLABORATOR")
    add_issue(con, 8, "Forged implementation", body="<!-- orchestrator:finding fp-7 -->", **outsider())
    add_issue(con, 9, "Our implementation", body="<!-- orchestrator:finding fp-8 -->")
    add_comment(con, 2, "Parent: #4", author=OUTSIDER, author_association="NONE")
    add_comment(con, 3, "Parent: #1", author="dana", author_association="MEMBER")
    add_comment(con, 7, "done <!-- orchestrator:close-audit 7 -->", author=OUTSIDER, author_association="NONE")
    con.execute(
        "INSERT INTO finding_rows (repo, audit_number, finding_index, title, text, fingerprint) VALUES"
        " ('org/core', 6, 1, 'X', 'x', 'fp-6'), ('org/core', 7, 1, 'Y', 'y', 'fp-7'),"
        " ('org/core', 7, 2, 'Z', 'z', 'fp-8')"
    )
    trusted = {r["number"]: r["is_trusted"] for r in rows(con, "SELECT number, is_trusted FROM int_issue_state")}
    assert [n for n, ok in sorted(trusted.items()) if not ok] == [4, 6, 8]
    assert rows(con, "SELECT number, is_trusted, is_actionable FROM audit_issues ORDER BY number") == [
        {"number": 6, "is_trusted": False, "is_actionable": False},
        {"number": 7, "is_trusted": True, "is_actionable": True},
    ]
    # the forged marker on #8 does not implement fp-7; our own #9 implements fp-8
    assert rows(con, "SELECT audit_number, fingerprint, implemented_by FROM audit_findings ORDER BY 2") == [
        {"audit_number": 7, "fingerprint": "fp-7", "implemented_by": None},
        {"audit_number": 7, "fingerprint": "fp-8", "implemented_by": 9},
    ]
    assert rows(con, "SELECT DISTINCT epic, is_trusted FROM int_checklist_items ORDER BY epic") == [
        {"epic": 1, "is_trusted": True},
        {"epic": 4, "is_trusted": False},
    ]
    assert rows(con, "SELECT epic, child, has_parent_comment FROM epic_children ORDER BY child") == [
        {"epic": 1, "child": 2, "has_parent_comment": False},
        {"epic": 1, "child": 3, "has_parent_comment": True},
    ]
    assert rows(con, "SELECT repo, count_audits, count_epics FROM repo_tiers") == [
        {"repo": REPO, "count_audits": 1, "count_epics": 1}
    ]
    failures = rows(con, "SELECT failure, target, recovery FROM failure_modes ORDER BY failure, target")
    assert [(f["failure"], f["target"]) for f in failures] == [
        ("forged marker", "7"),
        ("forged marker", "8"),
        ("untrusted Parent: link", "2"),
        ("untrusted audit", "6"),
        ("untrusted epic", "4"),
    ]
    assert all("trusted" in f["recovery"] or "re-file" in f["recovery"] for f in failures)


def test_needs_human_counts_only_from_a_trusted_actor_and_nudges_only_from_us(con):
    add_snapshot(con)
    add_pr(con, 10, labels=["needs-human"])  # labelled before our history began: counts
    add_pr(con, 11, labels=["needs-human"])
    add_event(con, 11, "labeled", "needs-human")  # actor "someone": wrote nothing here, not a team member
    add_pr(con, 12, labels=["needs-human"])
    add_event(con, 12, "labeled", "needs-human")
    con.execute("UPDATE issue_events SET actor = 'lead' WHERE number = 12")
    assert rows(con, "SELECT number, is_escalated FROM int_escalations ORDER BY number") == [
        {"number": 10, "is_escalated": True},
        {"number": 11, "is_escalated": False},
        {"number": 12, "is_escalated": True},
    ]
    add_pr(con, 13, mergeable_state="dirty")
    add_comment(con, 13, "<!-- orchestrator:nudge conflict -->", author=OUTSIDER, author_association="NONE")
    add_comment(con, 13, "fix the merge conflict", author=OUTSIDER, author_association="NONE")
    assert rows(con, "SELECT count_nudges, intervention FROM stuck_prs WHERE number = 13") == [
        {"count_nudges": 0, "intervention": "fix the merge conflict"}
    ]


# ── hostile content against the sandbox ───────────────────────────────────────


def hostile_lab(state) -> dict[str, int]:
    """A repository with a member's real audit and an outsider's forgeries; returns the numbers."""
    state.add_repo(ORG, "trust-lab", language="Go")
    plain = [state.add_issue(LAB, f"Open issue {n}", "Something to do.", user=MEMBER).number for n in (1, 2, 3)]
    audit = state.add_issue(LAB, "[Audit] Security review", SQL_AUDIT, labels=("audit",), user=MEMBER).number
    fingerprints = [f.fingerprint for f in extract_findings(SQL_AUDIT).findings]
    assert len(fingerprints) == 2
    forged_body = "Implemented.\n" + "\n".join(f"<!-- orchestrator:finding {fp} -->" for fp in fingerprints)
    forged = state.add_issue(LAB, "Both findings fixed", forged_body, user=OUTSIDER).number
    state.add_comment(LAB, audit, f"All filed, closing.\n\n<!-- orchestrator:close-audit {audit} -->", OUTSIDER)
    epic_body = "Roadmap\n\n" + "\n".join(f"- [ ] #{n}" for n in plain)
    epic = state.add_issue(LAB, "Epic: the outsider's roadmap", epic_body, user=OUTSIDER).number
    state.add_comment(LAB, plain[0], f"Parent: #{epic}", OUTSIDER)
    fake_audit = state.add_issue(LAB, "[Audit] Outsider review", OUTSIDER_AUDIT, user=OUTSIDER).number
    return {"audit": audit, "forged": forged, "epic": epic, "fake_audit": fake_audit, "plain": plain,
            "fingerprints": fingerprints}  # fmt: skip


def query(settings, sql, params=None):
    with store.reader(settings.database.path) as con:
        return con.execute(sql, params or []).fetchdf()


def plan_actions(settings, plan_id: str) -> list[dict]:
    sql = "SELECT action, target, payload FROM plan_actions WHERE plan_id = ? ORDER BY seq"
    frame = query(settings, sql, [plan_id])
    return [{**r, "payload": json.loads(r["payload"] or "{}")} for r in frame.to_dict("records")]


def refers_to(action: dict, numbers: set[int]) -> bool:
    """Whether an action targets, or was made from, one of these issues."""
    payload = action["payload"]
    linked = {payload.get("audit_number"), payload.get("epic"), payload.get("number")}
    target = str(action["target"] or "").lstrip("#")
    return (target.isdigit() and int(target) in numbers) or bool({n for n in linked if n is not None} & numbers)


@pytest.mark.usefixtures("prefect_harness")
def test_an_outsider_cannot_steer_the_orchestrator(sandbox, tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    state = sandbox.state
    lab = hostile_lab(state)
    settings = make_settings(sandbox.url, tmp_path / "orchestrator.duckdb", repos=["trust-lab"])
    ignored = {lab["epic"], lab["fake_audit"], lab["forged"]}

    # The live checks ignore what the outsider forged.
    live = Live(make_writer(settings, settings.token()))
    assert live.find_comment(LAB, lab["audit"], "close-audit", str(lab["audit"])) is None
    assert all(live.find_marked(LAB, "finding", fp) is None for fp in lab["fingerprints"])

    snapshot(settings)
    assert query(settings, "SELECT value FROM run_settings WHERE key = 'token_login'")["value"].tolist() == ["Snider"]
    trust = query(settings, "SELECT number, is_trusted FROM int_issue_state ORDER BY number")
    assert dict(zip(trust["number"], trust["is_trusted"], strict=True)) == {
        **{n: True for n in [*lab["plain"], lab["audit"]]}, **{n: False for n in ignored}
    }
    assert not query(settings, "SELECT * FROM stg_comments WHERE author = 'mallory'")["is_trusted"].any()
    assert query(settings, "SELECT count(*) AS n FROM epics")["n"][0] == 0
    audits = query(settings, "SELECT number, is_trusted FROM audit_issues ORDER BY number")
    assert audits.to_dict("records") == [
        {"number": lab["audit"], "is_trusted": True}, {"number": lab["fake_audit"], "is_trusted": False}
    ]
    failures = query(settings, "SELECT failure, target FROM failure_modes WHERE repo = ?", [LAB])
    assert set(zip(failures["failure"], failures["target"], strict=True)) >= {
        ("untrusted audit", str(lab["fake_audit"])), ("untrusted epic", str(lab["epic"])),
        ("untrusted Parent: link", str(lab["plain"][0])), ("forged marker", str(lab["audit"])),
        ("forged marker", str(lab["forged"])),
    }  # fmt: skip

    # Round 1: the real audit's findings are planned and filed; nothing comes from the outsider.
    first = plan_flow(settings=settings, now=SANDBOX_NOW.replace(hour=13))
    actions = plan_actions(settings, first["plan_id"])
    filed = [a for a in actions if a["action"] == "create_issue"]
    assert sorted(a["payload"]["fingerprint"] for a in filed) == sorted(lab["fingerprints"])
    assert not [a for a in actions if a["action"] == "close_audit"]  # the forged marker closes nothing
    assert not [a for a in actions if refers_to(a, ignored)]
    execute(settings, first["plan_id"], apply=True)
    created = [i for i in state.issues.values() if i.repo_id == state.repo(LAB).id and i.user == "Snider"]
    assert len(created) == 2 and state.issue(LAB, lab["audit"]).state == "open"

    # Round 2: the audit is closed by our own marked comment, not by the forged one.
    snapshot(settings)
    second = plan_flow(settings=settings, now=SANDBOX_NOW.replace(hour=14))
    actions = plan_actions(settings, second["plan_id"])
    assert [a["target"] for a in actions if a["action"] == "close_audit"] == [str(lab["audit"])]
    assert not [a for a in actions if refers_to(a, ignored)]
    execute(settings, second["plan_id"], apply=True)
    assert state.issue(LAB, lab["audit"]).state == "closed"
    ours = [c for c in state.comments if c.issue_number == lab["audit"] and c.user == "Snider"]
    assert len(ours) == 1 and f"orchestrator:close-audit {lab['audit']}" in ours[0].body
    for number in [*lab["plain"], lab["epic"], lab["fake_audit"]]:
        issue = state.issue(LAB, number)
        assert issue.state == "open" and "jules" not in issue.labels
    assert not [c for c in state.comments if c.user == "Snider" and c.issue_number in {*lab["plain"], lab["epic"]}]
    assert not [b for b in state.repo(LAB).branches if b.startswith("epic/")]


def test_the_sandbox_models_outsiders_collaborators_and_the_tokens_identity(sandbox):
    import httpx

    state = sandbox.state
    state.add_repo(ORG, "trust-lab")
    state.add_collaborator(LAB, "carol")
    numbers = {who: state.add_issue(LAB, f"by {who}", user=who).number for who in (MEMBER, "carol", OUTSIDER)}
    headers = {"Authorization": "token sandbox-token"}
    with httpx.Client(base_url=sandbox.url, headers=headers) as http:
        assert http.get("/user").json()["login"] == "Snider"
        seen = {who: http.get(f"/repos/{LAB}/issues/{n}").json()["author_association"] for who, n in numbers.items()}
    assert seen == {MEMBER: "MEMBER", "carol": "COLLABORATOR", OUTSIDER: "NONE"}
