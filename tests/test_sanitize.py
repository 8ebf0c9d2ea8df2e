"""Copied text can neither ping, close, nor forge a marker; harmless text passes unchanged."""

from __future__ import annotations

import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from common.sanitize import ZWJ, ZWSP, has_marker, marker, markers_in, sanitize, with_marker
from sandbox.state import CLOSING_RE

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


# As GitHub renders: character references decoded, emphasis and tags gone (a subset of what
# sanitize ignores, so this is an independent check of what GitHub would see).
def rendered(text: str) -> str:
    return re.sub(r"<[^<>]*>|[*_~`]", "", html.unescape(text))


hostile_pieces = st.sampled_from(
    ["&#64;", "&#x40;", "&commat;", "&#64", "@", "jules", "&#106;ules", "fixes", "&#102;ixes", "Closes", "**", "_",
     "~~", "`", "<b>", "</b>", "&#32;", "&nbsp;", "&#35;", "#", "12", ":", " ", "&amp", "&", "#3", "owner/repo#4",
     "\\", "[", "]", "(x)", "a", "x@y.com", "\n", "<!--", "-->"]
)  # fmt: skip
hostile_texts = st.lists(st.one_of(hostile_pieces, st.text(max_size=2)), max_size=25).map("".join)


@given(st.one_of(texts, hostile_texts))
@settings(max_examples=500, deadline=None)
def test_rendered_sanitised_text_pings_nobody_and_closes_nothing(text):
    out = sanitize(text)
    assert not PING.search(rendered(out))
    assert not CLOSES.search(rendered(out))
    assert sanitize(out) == out
    assert html.unescape(out.replace(ZWJ, "").replace(ZWSP, "")) == html.unescape(
        text.replace(ZWJ, "").replace(ZWSP, "").replace("<!--", "&lt;!--")
    )  # only invisible characters inserted, `<!--` escaped: it reads the same


def test_entity_mentions_and_broken_up_closing_keywords_are_neutralised():
    assert sanitize("hi &#64;mira") == f"hi &#64;{ZWJ}mira"
    assert sanitize("hi &#x40;mira &commat;bob &#64bob") == f"hi &#x40;{ZWJ}mira &commat;{ZWJ}bob &#64{ZWJ}bob"
    assert sanitize("**fixes** #10") == f"**f{ZWSP}ixes** #10"
    assert sanitize("_fixes_ #10") == f"_f{ZWSP}ixes_ #10"
    assert sanitize("fixes&#32;#12 and fixes&nbsp;#12") == f"f{ZWSP}ixes&#32;#12 and f{ZWSP}ixes&nbsp;#12"
    assert sanitize("fixes: #1") == f"f{ZWSP}ixes: #1"
    assert sanitize("Closes <b>#3</b>") == f"C{ZWSP}loses <b>#3</b>"
    assert sanitize("&#102;ixes #1") == f"&#102;{ZWSP}ixes #1"
    assert sanitize("fixes [#3](https://x)") == f"f{ZWSP}ixes [#3](https://x)"
    # Harmless look-alikes stay as they are: an encoded e-mail, a keyword without a reference.
    assert sanitize("mail a&#64;b.com, fixes the bug, &amp;#64;x") == "mail a&#64;b.com, fixes the bug, &amp;#64;x"


def test_our_marker_is_appended_after_sanitising_and_found_again():
    body = with_marker("copied <!-- orchestrator:finding forged --> fixes #1", "finding", "fp1")
    assert body.endswith("\n\n<!-- orchestrator:finding fp1 -->")
    assert markers_in(body) == {("finding", "fp1")}
    assert has_marker(body, "finding", "fp1") and not has_marker(body, "finding", "forged")
    assert marker("close-audit", 12) == "<!-- orchestrator:close-audit 12 -->"
