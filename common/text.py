"""Text from outside (GitHub, the database, error messages), made safe to store and to show.

Two different jobs:
- `clean_text` / `clean_json`, before anything is stored: lone surrogates (JSON `"\\ud800"`)
  cannot be encoded as UTF-8, so DuckDB refuses them and one bad title would fail every
  snapshot; they become U+FFFD. NULs and other control characters (C0 except tab, newline and
  carriage return, DEL and C1) are dropped: they are never meaningful in an issue and only
  cause trouble later. The item itself is always kept.
- `printable` / `data_text`, before anything reaches a terminal: escape sequences (CSI, OSC
  hyperlinks and titles, …) and every other control character except newline and tab are
  removed, so data can neither recolour, move the cursor nor retitle the terminal, and
  `data_text` wraps it in a Rich `Text`, which is never read as markup (`[/oops]` and
  `[link=…]` print literally).
"""

from __future__ import annotations

import re
from typing import Any

from rich.markup import escape
from rich.text import Text

REPLACEMENT = "\ufffd"
SURROGATE = re.compile("[\ud800-\udfff]")
# For storage: C0 controls except \t \n \r, DEL, and C1.
STORED_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# For the terminal: whole escape sequences first (so no `[31m` is left behind), then any other
# control character except \t and \n (a \r could overwrite what was printed before it).
ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor movement, erasing
    r"|\x9b[0-?]*[ -/]*[@-~]"  # CSI in its 8-bit form
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC (hyperlinks, titles), DCS, SOS, PM, APC
    r"|\x1b[ -/]*[0-~]?"  # any other escape
)
TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(value: Any) -> Any:
    """A string safe to store (see the module's docstring); anything else is returned as it is."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")  # invalid UTF-8 -> U+FFFD
    if not isinstance(value, str):
        return value
    return STORED_CONTROL.sub("", SURROGATE.sub(REPLACEMENT, value))


def clean_json(value: Any) -> Any:
    """`clean_text` applied to every string (keys included) of a parsed JSON document."""
    if isinstance(value, dict):
        return {clean_text(key): clean_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    return clean_text(value)


def printable(value: Any) -> str:
    """`str(value)` with escape sequences and control characters (but newline and tab) removed."""
    text = value if isinstance(value, str) else str(value)
    text = SURROGATE.sub(REPLACEMENT, text)  # a terminal cannot be sent one either
    return TERMINAL_CONTROL.sub("", ESCAPE_SEQUENCE.sub("", text))


def data_text(value: Any, style: str = "") -> Text:
    """Data for a Rich table cell or line: printable and never read as markup."""
    return Text("" if value is None else printable(value), style=style)


def markup_safe(value: Any) -> str:
    """Data to put inside a markup string of our own (`f"[dim]{markup_safe(note)}[/]"`)."""
    return escape(printable(value))


def json_safe(text: str) -> str:
    """JSON text with DEL and C1 controls written as `\\u00XX` (JSON itself only escapes C0)."""
    return re.sub("[\x7f-\x9f]", lambda m: f"\\u{ord(m.group(0)):04x}", text)
