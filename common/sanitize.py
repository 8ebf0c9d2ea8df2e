"""Text copied from issues into what we write: no pings, no closing keywords, no forged markers.

`sanitize` changes only what is dangerous and keeps everything readable: an invisible
character goes inside a mention or a closing keyword, and `<!--` is escaped. Our own
marker is appended afterwards (`with_marker`), so only we can write one.

Detection looks at the text as GitHub renders it, not as it is typed: HTML character
references are decoded (`&#64;user` is a mention, `fixes&#32;#12` a closing keyword) and, for
closing keywords, markdown emphasis, backslash escapes, link brackets and HTML tags are
ignored (`**fixes** #10`, `Closes <b>#3</b>`). The invisible character is inserted after the
whole character reference or letter, so the source stays as it was apart from it.
"""

from __future__ import annotations

import html
import re

ZWJ = "\u200d"  # zero-width joiner: `@\u200duser` renders as @user but pings nobody
ZWSP = "\u200b"  # zero-width space: `f\u200bixes #1` is no longer a closing keyword

# GitHub links `@login` and `@org/team` when the `@` does not follow a letter or digit (emails).
MENTION = re.compile(r"(?<![A-Za-z0-9])@(?=[A-Za-z0-9])")
# Closing keywords (any tense and case) followed by an issue reference: `#12`, `GH-12`,
# `owner/repo#12` or an issue/PR URL; GitHub allows a colon and spaces between.
REFERENCE = r"(?:[\w.-]+/[\w.-]+)?#\d+|GH-\d+|https?://\S+?/(?:issues|pull)/\d+"
CLOSING = re.compile(rf"(close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?=[\s:]*(?:{REFERENCE}))", re.IGNORECASE)
# HTML character references as html.unescape (and a browser) reads them, with or without `;`.
CHARREF = re.compile(r"&(?:#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")
# What rendering hides between the letters that GitHub reads: tags, emphasis, escapes, link brackets.
RENDER_ONLY = re.compile(r"<[^<>]*>|[*_~`\\\[\]]")
HTML_COMMENT = "<!--"
MARKER = re.compile(r"<!--\s*orchestrator:([\w-]+)\s+(\S+?)\s*-->")


def _units(text: str) -> list[tuple[str, str]]:
    """The text as (source, rendered) pieces: one per character reference, one per other character."""
    units: list[tuple[str, str]] = []
    end = 0
    for match in CHARREF.finditer(text):
        units.extend((c, c) for c in text[end : match.start()])
        units.extend(_reference_units(match.group(0)))
        end = match.end()
    units.extend((c, c) for c in text[end:])
    return units


def _reference_units(ref: str) -> list[tuple[str, str]]:
    """`&#64;` -> [("&#64;", "@")]; `&ampfixes` -> [("&amp", "&"), ("f", "f"), …]; no reference: characters."""
    decoded = html.unescape(ref)
    for cut in range(3, len(ref) + 1):  # the shortest prefix that decodes, as html.unescape reads it
        head = html.unescape(ref[:cut])
        if head != ref[:cut] and head + ref[cut:] == decoded:
            return [(ref[:cut], head), *((c, c) for c in ref[cut:])]
    return [(c, c) for c in ref]


def _views(units: list[tuple[str, str]]) -> list[tuple[str, list[int]]]:
    """The text as typed, as rendered, and as rendered without tags and markdown punctuation, each
    with the unit every character comes from. What is dangerous in any of them is neutralised."""
    typed = [index for index, (source, _) in enumerate(units) for _ in source]
    shown = [index for index, (_, rendered) in enumerate(units) for _ in rendered]
    rendered = "".join(text for _, text in units)
    hidden = {i for m in RENDER_ONLY.finditer(rendered) for i in range(m.start(), m.end())}
    kept = [i for i in range(len(rendered)) if i not in hidden]
    return [
        ("".join(source for source, _ in units), typed),
        (rendered, shown),
        ("".join(rendered[i] for i in kept), [shown[i] for i in kept]),
    ]


def _neutralise(text: str, pattern: re.Pattern[str], group: int, mark: str) -> str:
    """Insert `mark` after the unit holding the first character of `group` of every match."""
    units = _units(text)
    at = {owners[m.start(group)] for view, owners in _views(units) for m in pattern.finditer(view)}
    return "".join(source + (mark if index in at else "") for index, (source, _) in enumerate(units))


def neutralise_mentions(text: str) -> str:
    """`@user` (or `&#64;user`, `&commat;user`) -> `@\u200duser` (still readable, pings nobody)."""
    return _neutralise(text, MENTION, 0, ZWJ)


def neutralise_closing_keywords(text: str) -> str:
    """`fixes #12` -> `f\u200bixes #12` (GitHub no longer sees a keyword, so nothing closes).

    Also `**fixes** #12`, `fixes&#32;#12`, `fixes&nbsp;#12`, `Closes <b>#3</b>`: the keyword is
    looked for in the rendered text too, with tags and markdown punctuation left out.
    """
    return _neutralise(text, CLOSING, 1, ZWSP)


def escape_html_comments(text: str) -> str:
    """`<!--` -> `&lt;!--`, so copied text can never hide content or forge our markers."""
    return text.replace(HTML_COMMENT, "&lt;!--")


def sanitize(text: str | None) -> str:
    """All three, in an order where no step can undo another."""
    return neutralise_mentions(neutralise_closing_keywords(escape_html_comments(text or "")))


def marker(kind: str, key: str | int) -> str:
    """Our hidden marker: `<!-- orchestrator:KIND KEY -->`."""
    key = str(key).strip()
    if not re.fullmatch(r"[\w-]+", kind) or not key or any(c.isspace() for c in key) or "-->" in key:
        raise ValueError(f"bad marker {kind!r} {key!r}")
    return f"<!-- orchestrator:{kind} {key} -->"


def with_marker(text: str | None, kind: str, key: str | int) -> str:
    """Sanitised text, then our marker on a line of its own at the end."""
    body = sanitize(text).rstrip()
    return f"{body}\n\n{marker(kind, key)}" if body else marker(kind, key)


def markers_in(text: str | None) -> set[tuple[str, str]]:
    """The (kind, key) of every marker in a body."""
    return {(kind.lower(), key) for kind, key in MARKER.findall(text or "")}


def has_marker(text: str | None, kind: str, key: str | int) -> bool:
    """Whether the body carries our marker (kind, key)."""
    return (kind.lower(), str(key)) in markers_in(text)
