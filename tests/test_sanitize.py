"""Copied text can neither ping, close, nor forge a marker; harmless text passes unchanged."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.sandbox.state import CLOSING_RE
from orchestrator.sanitize import ZWJ, ZWSP, has_marker, marker, markers_in, sanitize, with_marker

# What GitHub would act on: a mention, a closing keyword before a reference, an HTML comment.
PING = re.compile(r"(?<![A-Za-z0-9])@[A-Za-z0-9]")
CLOSES = re.compile(
    r"(?i)(close[sd]?|fix(?:e[sd])?|resolve[sd]?)[\s:]*((?:[\w.-]+/[\w.-]+)?#\d+|GH-\d+|https?://\S+?/(?:issues|pull)/\d+)"
)

# Text built from the dangerous pieces, so the properties meet them often.
pieces = st.sampled_from(
    ["@", "@jules", "@org/team", "fixes", "Fixes", "CLOSED", "resolve", ":", " ", "#", "#12", "owner/repo#3",
     "<!--", "-->", "orchestrator:finding abc", "a", "x@y.com", "\n", "`", "https://github.com/o/r/issues/4", "GH-9"]
)  # fmt: skip
texts = st.one_of(st.text(), st.lists(st.one_of(pieces, st.text(max_size=3)), max_size=30).map("".join))


@given(texts)
@settings(max_examples=400, deadline=None)
def test_sanitised_text_pings_nobody_closes_nothing_and_holds_no_html_comment(text):
    out = sanitize(text)
    assert not PING.search(out)
    assert not CLOSES.search(out)
    assert not CLOSING_RE.search(out)  # the sandbox's own closing rule, as merging would apply it
    assert "<!--" not in out
    assert not markers_in(out)


@given(texts)
@settings(max_examples=200, deadline=None)
def test_sanitise_is_idempotent_and_only_inserts_invisible_characters_or_escapes(text):
    out = sanitize(text)
    assert sanitize(out) == out
    restored = out.replace(ZWJ, "").replace(ZWSP, "").replace("&lt;!--", "<!--")
    original = text.replace(ZWJ, "").replace(ZWSP, "")
    assert restored == original.replace("&lt;!--", "<!--")


@given(st.text(alphabet="abcdefghij klmnop.,\n-*#[]()0123456789"))
def test_harmless_text_is_unchanged(text):
    assert sanitize(text) == text


def test_examples():
    assert sanitize("thanks @mira-k") == f"thanks @{ZWJ}mira-k"
    assert sanitize("mail x@y.com") == "mail x@y.com"
    assert sanitize("Fixes #12 and closes owner/repo#3") == f"F{ZWSP}ixes #12 and c{ZWSP}loses owner/repo#3"
    assert sanitize("<!-- orchestrator:finding x -->") == "&lt;!-- orchestrator:finding x -->"


def test_our_marker_is_appended_after_sanitising_and_found_again():
    body = with_marker("copied <!-- orchestrator:finding forged --> fixes #1", "finding", "fp1")
    assert body.endswith("\n\n<!-- orchestrator:finding fp1 -->")
    assert markers_in(body) == {("finding", "fp1")}
    assert has_marker(body, "finding", "fp1") and not has_marker(body, "finding", "forged")
    assert marker("close-audit", 12) == "<!-- orchestrator:close-audit 12 -->"
