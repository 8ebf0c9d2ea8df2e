"""Text copied from issues into what we write: no pings, no closing keywords, no forged markers.

`sanitize` changes only what is dangerous and keeps everything readable: an invisible
character goes inside a mention or a closing keyword, and `<!--` is escaped. Our own
marker is appended afterwards (`with_marker`), so only we can write one.
"""

from __future__ import annotations

import re

ZWJ = "\u200d"  # zero-width joiner: `@\u200duser` renders as @user but pings nobody
ZWSP = "\u200b"  # zero-width space: `f\u200bixes #1` is no longer a closing keyword

# GitHub links `@login` and `@org/team` when the `@` does not follow a letter or digit (emails).
MENTION = re.compile(r"(?<![A-Za-z0-9])@(?=[A-Za-z0-9])")
# Closing keywords (any tense and case) followed by an issue reference: `#12`, `GH-12`,
# `owner/repo#12` or an issue/PR URL; GitHub allows a colon and spaces between.
REFERENCE = r"(?:[\w.-]+/[\w.-]+)?#\d+|GH-\d+|https?://\S+?/(?:issues|pull)/\d+"
CLOSING = re.compile(rf"(close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?=[\s:]*(?:{REFERENCE}))", re.IGNORECASE)
HTML_COMMENT = "<!--"
MARKER = re.compile(r"<!--\s*orchestrator:([\w-]+)\s+(\S+?)\s*-->")


def neutralise_mentions(text: str) -> str:
    """`@user` -> `@\u200duser` (still readable, pings nobody)."""
    return MENTION.sub("@" + ZWJ, text)


def neutralise_closing_keywords(text: str) -> str:
    """`fixes #12` -> `f\u200bixes #12` (GitHub no longer sees a keyword, so nothing closes)."""
    return CLOSING.sub(lambda m: m.group(1)[0] + ZWSP + m.group(1)[1:], text)


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
