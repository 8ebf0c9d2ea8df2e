"""Bad text from GitHub never fails a snapshot, and the CLI prints data as data.

The sandbox serves the text the way GitHub would (a lone surrogate as the JSON escape
`\\ud800`), the snapshot runs over real HTTP through Prefect, the CLI runs in its own process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from flows.snapshot import snapshot
from tasks import store

ROOT = Path(__file__).resolve().parents[1]
# A lone surrogate, NUL, a bell, an escape sequence and a C1 control, around ordinary text.
BAD = "Broken \ud800 title\x00 with\x07 bell \x1b[31mred\x9b and\ttab"
CLEANED = "Broken \ufffd title with bell [31mred and\ttab"


def api(sandbox, verb: str, path: str, body: dict) -> requests.Response:
    """`requests` writes JSON with `ensure_ascii`, so the surrogate travels as `\\ud800`, as GitHub's would."""
    answer = requests.request(
        verb, sandbox.url + path, json=body, headers={"Authorization": f"token {sandbox.token}"}, timeout=10
    )
    assert answer.status_code in (200, 201), answer.text
    return answer


def query(settings, sql: str) -> list[tuple]:
    with store.reader(settings.database.path) as con:
        return con.execute(sql).fetchall()


@pytest.mark.usefixtures("prefect_harness")
def test_lone_surrogates_nuls_and_controls_are_cleaned_and_the_item_kept(sandbox, settings):
    repo = "dappcore/core"
    issue = api(sandbox, "POST", f"/repos/{repo}/issues", {"title": BAD, "body": f"body {BAD}"}).json()
    number = issue["number"]
    api(sandbox, "POST", f"/repos/{repo}/labels", {"name": "bad\x1b]8;;http://x\x07label\ud800"})
    api(sandbox, "POST", f"/repos/{repo}/issues/{number}/labels", {"labels": ["bad\x1b]8;;http://x\x07label\ud800"]})
    api(sandbox, "POST", f"/repos/{repo}/issues/{number}/comments", {"body": f"comment {BAD}"})
    sandbox.state.add_comment(repo, number, "from an odd login", user="ev\x00il\ud800")
    api(sandbox, "PATCH", f"/repos/{repo}/pulls/298", {"title": BAD})  # an open PR: its detail is cached too
    served = requests.get(f"{sandbox.url}/repos/{repo}/issues/{number}", timeout=10)
    assert served.status_code == 200 and b'"Broken \\ud800 title\\u0000' in served.content  # as GitHub sends it

    summary = snapshot(settings)

    assert query(settings, "SELECT status, error FROM snapshot_runs") == [("complete", None)]
    assert len(summary["repos"]) == 16
    where = f"repo = '{repo}' AND number = {number}"
    title, body, labels = query(settings, f"SELECT title, body, labels FROM issues WHERE {where}")[0]
    assert (title, body) == (CLEANED, f"body {CLEANED}")
    assert labels == ["bad]8;;http://xlabel\ufffd"]
    comments = query(settings, f"SELECT author, body FROM comments WHERE {where} ORDER BY id")
    assert comments == [("Snider", f"comment {CLEANED}"), ("evil\ufffd", "from an odd login")]
    assert query(settings, f"SELECT title FROM pull_requests WHERE repo = '{repo}' AND number = 298") == [(CLEANED,)]
    # Open PRs' details come over GraphQL (no per-PR REST answer to cache); whatever REST answers
    # are cached hold the text cleaned, never the lone surrogate or the NUL.
    cached = [b for (b,) in query(settings, "SELECT CAST(body AS VARCHAR) FROM http_cache WHERE body IS NOT NULL")]
    assert cached and not [b for b in cached if "\\ud800" in b or "\\u0000" in b or "\x00" in b]
    # The next snapshot reads the same text again and sees no change.
    again = snapshot(settings, full=True)
    assert again["versions_added"] == 0
    assert query(settings, "SELECT count(*) FROM snapshot_runs WHERE status = 'complete'") == [(2,)]


def run_cli(*args: str, cwd: Path, colour: bool = False) -> subprocess.CompletedProcess:
    """The CLI in its own process; `colour` makes Rich style its output as on a terminal."""
    env = {**os.environ, "COLUMNS": "200", "TERM": "xterm-256color"}
    env.pop("FORCE_COLOR", None)
    env.pop("NO_COLOR", None)
    if colour:
        env["FORCE_COLOR"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args], cwd=cwd, env=env, capture_output=True, timeout=120
    )


HOSTILE_SQL = (
    "SELECT '[/oops]' AS a, '[link=http://evil]x[/link]' AS b, chr(27) || '[31mred' AS c, "
    "'bell' || chr(7) || chr(155) || '2J' AS d, ':smile: [bold]' AS \"[/head]\""
)


@pytest.fixture
def db(tmp_path) -> Path:
    """An empty database with the schema, for `orchestrator sql`."""
    path = tmp_path / "empty.duckdb"
    with store.writer(path):
        pass
    return path


def test_sql_prints_markup_literally_and_passes_no_escape_code(tmp_path, db):
    result = run_cli("--db", str(db), "sql", HOSTILE_SQL, cwd=tmp_path)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert "[/oops]" in out and "[link=http://evil]x[/link]" in out and "[/head]" in out and ":smile:" in out
    assert "red" in out and "[31m" not in out and "2J" not in out  # whole sequences go, not just ESC
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    # Styled as on a terminal: Rich's own colours only, no hyperlink (OSC 8), nothing of the data's.
    coloured = run_cli("--db", str(db), "sql", HOSTILE_SQL, cwd=tmp_path, colour=True)
    out = coloured.stdout.decode()
    assert coloured.returncode == 0 and "\x1b[" in out and "[/oops]" in out
    assert "\x1b]8;" not in out and "\x07" not in out and "\x9b" not in out and "[31m" not in out


def test_sql_json_escapes_control_characters_and_csv_drops_them(tmp_path, db):
    as_json = run_cli("--db", str(db), "sql", HOSTILE_SQL, "--json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr.decode()
    assert b"\x1b" not in as_json.stdout and b"\x07" not in as_json.stdout and "\u009b".encode() not in as_json.stdout
    rows = json.loads(as_json.stdout)  # nothing lost: JSON escapes them
    assert rows == [
        {"a": "[/oops]", "b": "[link=http://evil]x[/link]", "c": "\x1b[31mred", "d": "bell\x07\x9b2J",
         "[/head]": ":smile: [bold]"}
    ]  # fmt: skip
    as_csv = run_cli("--db", str(db), "sql", HOSTILE_SQL, "--csv", cwd=tmp_path)
    assert as_csv.returncode == 0, as_csv.stderr.decode()
    assert as_csv.stdout.decode().splitlines() == [
        "a,b,c,d,[/head]",
        "[/oops],[link=http://evil]x[/link],red,bell,:smile: [bold]",
    ]


def test_error_lines_print_markup_and_controls_in_the_message_as_plain_text(tmp_path, db):
    result = run_cli("--db", str(db), "sql", 'SELECT * FROM "[/oops]\x1b[2J"', cwd=tmp_path)
    err = result.stderr.decode()
    assert result.returncode == 1
    assert "Traceback" not in err and "query failed" in err and "[/oops]" in err
    assert "\x1b[2J" not in err and "[2J" not in err
    config = tmp_path / "bad.toml"
    config.write_text('[github]\norg = "x"\n"[/oops]\\u001b[2J" = 1\n', encoding="utf-8")
    result = run_cli("--config", str(config), "snapshot", cwd=tmp_path)
    err = result.stderr.decode()
    assert result.returncode == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "\x1b" not in err
