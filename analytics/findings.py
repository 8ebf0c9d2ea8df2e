"""Split an audit issue's markdown body into findings, whatever style the auditor used.

Styles read: bullets, numbered lists, checkboxes, one heading per finding (with
optional "#### Description"-style sub-headings), markdown tables, and "**Title**"
lines used as headings. Nested list items are details of the item above them; code
fences and HTML comments are never findings; sections such as "Summary" or
"Recommendations" are skipped; a heading such as "## High severity" or "## Security"
gives its items a default severity or type. `extract_findings` never raises: bad input
gives zero findings and a warning.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

from analytics.classify import Rules, classify, default_rules, split_title, stated_levels, tag_levels

AUDIT_TITLE = re.compile(r"\[audit\]|\baudit:", re.IGNORECASE)


def is_audit_title(title: str | None, rules: Rules | None = None) -> bool:
    """True when an issue title marks an audit (`[Audit] ...` or `audit: ...`, any case)."""
    pattern = rules.audit_title if rules else AUDIT_TITLE
    return bool(title) and bool(pattern.search(title))


@dataclass(frozen=True)
class Finding:
    """One problem reported by an audit; becomes one implementation issue."""

    index: int
    title: str
    text: str
    severity: str
    type: str
    scope: str
    complexity: str
    fingerprint: str
    severity_explicit: bool
    type_explicit: bool


@dataclass
class ParseResult:
    """The findings of one body, and what went wrong reading it."""

    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def fingerprint(title: str) -> str:
    """16 hex chars of sha1 over the title, ignoring case, punctuation and spacing."""
    text = unicodedata.normalize("NFKC", title or "").casefold()
    words = re.findall(r"\w+", text)
    return hashlib.sha1(" ".join(words).encode("utf-8")).hexdigest()[:16]


# --- lexing: lines -> tokens ---------------------------------------------------------


@dataclass
class _Tok:
    kind: str  # heading | item | para | table | blank | hr
    text: str = ""
    indent: int = 0
    level: int = 0
    checked: bool = False
    rows: list[list[str]] = field(default_factory=list)


_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})(?:\s+(.*?))?\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_HR = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_ITEM = re.compile(r"^(\s*)([-*+•]|\d{1,9}[.)])(?:\s+(.*))?$")
_CHECKBOX = re.compile(r"^\[([ xX])\]\s*")
_BOLD_LINE = re.compile(r"^\s{0,3}(\*\*|__)([^*_\n]{2,200})\1\s*:?\s*$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_QUOTE = re.compile(r"^\s*(>\s?)+")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HTML_TAG = re.compile(
    r"</?(?:details|summary|br|p|div|span|b|i|em|strong|code|pre|a|img|ul|ol|li|table|tr|td|th|thead|tbody"
    r"|h[1-6]|sup|sub|kbd|hr|blockquote|font|center|small|u|s|del|ins|mark|picture|source|input)\b[^>\n]{0,300}>",
    re.IGNORECASE,
)


def _cells(line: str) -> list[str]:
    """The cells of one table row, honouring escaped pipes."""
    s = line.strip()
    s = s[1:] if s.startswith("|") else s
    s = s[:-1] if s.endswith("|") and not s.endswith("\\|") else s
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", s)]


def _clean_html(body: str, warnings: list[str]) -> str:
    """Drop HTML comments and common tags, keeping their text."""
    body = _COMMENT.sub("", body)
    if "<!--" in body:
        warnings.append("unterminated HTML comment; the rest of the body was ignored")
        body = body[: body.index("<!--")]
    body = re.sub(r"<br\s*/?>", " ", body, flags=re.IGNORECASE)
    return _HTML_TAG.sub("", body)


def _lex(body: str, warnings: list[str]) -> list[_Tok]:
    """Markdown body -> flat tokens; fenced code is dropped."""
    lines = body.split("\n")
    toks: list[_Tok] = []
    fence: tuple[str, int, int] | None = None
    i = 0
    while i < len(lines):
        line = _QUOTE.sub("", lines[i].expandtabs(4))
        i += 1
        if fence:
            m = _FENCE.match(line)
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= fence[1] and not line[m.end() :].strip():
                fence = None
            continue
        m = _FENCE.match(line)
        if m:
            fence = (m.group(1)[0], len(m.group(1)), i)
            continue
        if not line.strip():
            toks.append(_Tok("blank"))
            continue
        indent = len(line) - len(line.lstrip(" "))
        prev = toks[-1] if toks else None
        if _SETEXT.match(line) and prev and prev.kind == "para" and prev.indent < 4:
            toks[-1] = _Tok("heading", prev.text, level=1 if "=" in line else 2)
            continue
        if _HR.match(line):
            toks.append(_Tok("hr"))
            continue
        m = _HEADING.match(line)
        if m:
            toks.append(_Tok("heading", (m.group(2) or "").strip(), level=len(m.group(1))))
            continue
        if "|" in line and i < len(lines) and _TABLE_SEP.match(lines[i]) and "|" in lines[i] + line.strip()[:1]:
            rows = [_cells(line)]
            i += 1
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                rows.append(_cells(_QUOTE.sub("", lines[i])))
                i += 1
            toks.append(_Tok("table", indent=indent, rows=rows))
            continue
        m = _ITEM.match(line)
        if m:
            content = (m.group(3) or "").strip()
            box = _CHECKBOX.match(content)
            checked = bool(box) and box.group(1) in "xX"
            text = content[box.end() :] if box else content
            toks.append(_Tok("item", text, indent=len(m.group(1)), checked=checked))
            continue
        m = _BOLD_LINE.match(line)
        if m and (not prev or prev.kind in ("blank", "heading", "hr")):
            toks.append(_Tok("heading", m.group(2).strip(), level=7))
            continue
        toks.append(_Tok("para", line.strip(), indent=indent))
    if fence:
        warnings.append(f"unterminated code fence opened at line {fence[2]}; the rest of the body was read as code")
    return toks


# --- sections: tokens -> heading tree ------------------------------------------------


@dataclass
class _Section:
    level: int
    title: str
    toks: list[_Tok] = field(default_factory=list)
    children: list[_Section] = field(default_factory=list)


def _sections(toks: list[_Tok]) -> _Section:
    """Nest tokens under their headings."""
    root = _Section(0, "")
    stack = [root]
    for tok in toks:
        if tok.kind == "heading":
            while stack[-1].level >= tok.level:
                stack.pop()
            sec = _Section(tok.level, tok.text)
            stack[-1].children.append(sec)
            stack.append(sec)
        else:
            stack[-1].toks.append(tok)
    return root


# --- interpretation ------------------------------------------------------------------


@dataclass
class _Raw:
    """A finding before classification."""

    title: str
    text: str
    severity: str | None
    type: str | None


@dataclass
class _Ctx:
    rules: Rules
    warnings: list[str]
    raws: list[_Raw] = field(default_factory=list)
    checked: int = 0
    deep: bool = False


def _words(title: str) -> list[str]:
    """Lower-case words of a heading, without numbering, emoji or punctuation."""
    s = re.sub(r"^\s*(?:\d{1,3}|[ivx]{1,4})[.)]\s+", "", title.lower())
    return re.sub(r"[^\w\s;'&]", " ", s).split()


def _category(words: list[str], rules: Rules) -> tuple[str | None, str | None] | None:
    """(severity, type) named by a container heading such as "High severity issues", or None."""
    filler = set(rules.section("parse")["heading_filler"])
    rest = [w for w in words if w not in filler]
    sevs: set[str] = set()
    types: set[str] = set()
    i = 0
    while i < len(rest):
        for n in (3, 2, 1):
            phrase = " ".join(rest[i : i + n])
            if len(rest) - i >= n and (phrase in rules.severity_alias or phrase in rules.type_alias):
                if phrase in rules.severity_alias:
                    sevs.add(rules.severity_alias[phrase])
                else:
                    types.add(rules.type_alias[phrase])
                i += n
                break
        else:
            return None
    if not words:
        return None
    return (sevs.pop() if len(sevs) == 1 else None, types.pop() if len(types) == 1 else None)


def _in_list(words: list[str], names: list[str], rules: Rules) -> bool:
    """Whether a heading is one of `names`, with or without filler words."""
    filler = set(rules.section("parse")["heading_filler"])
    full = " ".join(words)
    bare = " ".join(w for w in words if w not in filler)
    return full in names or (bare != "" and bare in names)


def _flatten(sec: _Section) -> list[_Tok]:
    """A detail sub-section as tokens: its title as a `Title:` line, then its body."""
    toks = [_Tok("para", f"{sec.title}:")] + sec.toks
    for child in sec.children:
        toks += _flatten(child)
    return toks


_MARKER = re.compile(r"^\s*(?:\d{1,4}[.):]|#\d+|finding\b|issue\s*#?\d|[A-Za-z]{1,2}-\d{1,4}\b|\[[^\]]{1,40}\])", re.I)


def _metadata_line(text: str, rules: Rules) -> bool:
    """Whether a line is `Key: value` metadata (`**Severity**: High`, `File: a.php`)."""
    p = rules.section("parse")
    keys = [*p["severity_keys"], *p["type_keys"], *p["complexity_keys"], *p["scope_keys"], *p["location_keys"]]
    plain = re.sub(r"[*_`]", "", text).strip().lower()
    return any(re.match(rf"{re.escape(k)}\s*[:=]", plain) for k in keys)


def _walk(sec: _Section, sev: str | None, typ: str | None, ctx: _Ctx, root: bool = False) -> None:
    """Turn one section (and its sub-sections) into raw findings."""
    rules = ctx.rules
    parse = rules.section("parse")
    words = _words(sec.title)
    category = None
    if not root:
        if _in_list(words, parse["skip_headings"], rules):
            return
        category = _category(words, rules)
    toks, children, had_details = list(sec.toks), list(sec.children), False
    # Sub-headings such as "Description"/"Fix" belong to the finding above, if all are such.
    if (
        not root
        and category is None
        and children
        and all(_in_list(_words(c.title), parse["detail_headings"], rules) for c in children)
    ):
        for child in children:
            toks += _flatten(child)
        children, had_details = [], True
    if category:
        sev, typ = category[0] or sev, category[1] or typ
    if not root and _is_finding_heading(sec, words, category, children, toks, had_details, rules):
        text = _render(toks)
        if not _is_non_finding(text.split("\n", 1)[0], rules) and not _says_nothing_found(text, rules):
            ctx.raws.append(_Raw(sec.title, text, sev, typ))
        return
    sev, typ = _container(toks, sev, typ, ctx)
    for child in children:
        _walk(child, sev, typ, ctx)


def _is_finding_heading(
    sec: _Section,
    words: list[str],
    category: tuple[str | None, str | None] | None,
    children: list[_Section],
    toks: list[_Tok],
    had_details: bool,
    rules: Rules,
) -> bool:
    """Whether a heading is itself one finding (rather than a container of findings)."""
    has_list = any(t.kind in ("item", "table") for t in toks)
    has_text = any(t.kind == "para" and not _metadata_line(t.text, rules) for t in toks)
    if children:
        return False
    if category is not None:
        return not has_list and has_text
    stated = split_title(sec.title, rules)[1]
    numbered = re.match(r"^\s*(\d{1,4}[.):]|#\d+)", sec.title)
    if sec.level <= 2 and set(words) & set(rules.section("parse")["title_words"]) and not (stated or numbered):
        return False
    if had_details or _MARKER.match(sec.title):
        return True
    if any(t.kind in ("para", "item") and t.indent < 4 and _metadata_line(t.text, rules) for t in toks):
        return True
    return not has_list


def _render(toks: list[_Tok]) -> str:
    """A section body as plain text lines."""
    out = []
    for t in toks:
        if t.kind == "para":
            out.append(t.text)
        elif t.kind == "item":
            out.append(" " * min(t.indent, 12) + "- " + t.text)
        elif t.kind == "table":
            out += [" | ".join(r) for r in t.rows if not _TABLE_SEP.match("|".join(r))]
    return "\n".join(out).strip()


def _is_non_finding(text: str, rules: Rules) -> bool:
    """Whether an item says nothing is wrong ("No issues found", "✅ HTTPS enforced")."""
    plain = re.sub(r"[*_`]", "", text).strip().lower()
    return any(re.search(p, plain) for p in rules.section("parse")["non_findings"])


def _container(toks: list[_Tok], sev: str | None, typ: str | None, ctx: _Ctx) -> tuple[str | None, str | None]:
    """Findings from the list items and tables of a section; returns its (possibly updated) defaults."""
    rules = ctx.rules
    item: list[str] | None = None
    top = 0
    stack: list[int] = []
    skip = False
    blank = False
    for tok in toks + [_Tok("hr")]:
        if tok.kind == "item" and (item is None or tok.indent <= top):
            _emit(item, skip, sev, typ, ctx)
            item, top, stack, skip = [tok.text], tok.indent, [tok.indent], tok.checked
            if tok.checked and rules.section("parse").get("skip_checked", True):
                ctx.checked += 1
            else:
                skip = False
        elif item is not None and tok.kind in ("item", "para", "table") and (tok.indent > top or not blank):
            if tok.kind == "item":
                while stack and stack[-1] >= tok.indent:
                    stack.pop()
                stack.append(tok.indent)
                ctx.deep |= len(stack) > rules.section("parse")["max_list_depth"]
                item.append("- " + tok.text)
            elif tok.kind == "para":
                item.append(tok.text)
            else:
                item += [" | ".join(r) for r in tok.rows]
        elif tok.kind == "blank":
            blank = True
            continue
        else:
            _emit(item, skip, sev, typ, ctx)
            item = None
            if tok.kind == "table":
                _table(tok.rows, sev, typ, ctx)
            elif tok.kind == "para":
                sev, typ = _section_defaults(tok.text, sev, typ, rules)
        blank = False
    return sev, typ


def _section_defaults(text: str, sev: str | None, typ: str | None, rules: Rules) -> tuple[str | None, str | None]:
    """A prose line such as "Severity: High" in a container sets the default for items below it."""
    if not _metadata_line(text, rules):
        return sev, typ
    stated = stated_levels("", text, rules)
    return stated.get("severity", sev), stated.get("type", typ)


_SEPARATORS = re.compile(r":\s+|\s+[—–]\s+|\s+-\s+")
_SENTENCE = re.compile(r"[.!?](\s+)(?=[A-Z`\"'])")
_BOLD_LEAD = re.compile(r"^((?:\[[^\]\n]{0,40}\]\s*|\([^)\n]{0,40}\)\s*)*)(\*\*|__)(.+?)\2\s*[:.\-–—]?\s*(.*)$", re.S)


def _split_item(content: str, rules: Rules, depth: int = 0) -> tuple[str, str]:
    """(raw title, rest) of a list item's first line."""
    s = content.strip()
    m = _BOLD_LEAD.match(s)
    if m and depth < 3:
        lead, bold, rest = m.group(1), m.group(3), m.group(4)
        if tag_levels(bold, rules) is None:
            return lead + bold, rest
        title, rest = _split_item(rest, rules, depth + 1)
        return f"{lead}[{bold}] {title}", rest
    for sep in _SEPARATORS.finditer(s):
        if sep.start() > 120:
            break
        head = s[: sep.start()]
        if head.count("(") > head.count(")") or head.count("[") > head.count("]"):
            continue
        clean, _ = split_title(s[: sep.start()], rules)
        if 2 <= len(clean.split()) <= 14:
            return s[: sep.start()], s[sep.end() :]
    m = _SENTENCE.search(s)
    if m and 10 <= m.start() <= 160:
        return s[: m.start()], s[m.end() :]
    return s, ""


def _emit(item: list[str] | None, skip: bool, sev: str | None, typ: str | None, ctx: _Ctx) -> None:
    """Record a finished list item as a raw finding."""
    if not item or skip or _is_non_finding(item[0], ctx.rules):
        return
    title, rest = _split_item(item[0], ctx.rules)
    text = "\n".join(x for x in [rest, *item[1:]] if x).strip()
    ctx.raws.append(_Raw(title, text, sev, typ))


def _table(rows: list[list[str]], sev: str | None, typ: str | None, ctx: _Ctx) -> None:
    """Findings from a markdown table: one per row, columns mapped by their header."""
    p = ctx.rules.section("parse")
    header = [re.sub(r"[^\w\s]", " ", h.lower()).strip() for h in rows[0]]
    body = [r for r in rows[1:] if not _TABLE_SEP.match("|".join(r)) and any(c.strip("- ") for c in r)]
    known = {k for name in ("severity", "type", "complexity", "scope", "location") for k in p[f"{name}_keys"]}
    index_cols = {i for i, h in enumerate(header) if h in ("", "#", "id", "no", "nr", "n", "ref", "number")}
    title_col = next((i for k in p["title_keys"] for i, h in enumerate(header) if h == k), None)
    if title_col is None:
        title_col = next(
            (
                i
                for i, h in enumerate(header)
                if i not in index_cols
                and h not in known
                and body
                and sum(bool(re.fullmatch(r"[\d.,%\s]*", r[i] if i < len(r) else "")) for r in body) < len(body) / 2
            ),
            None,
        )
    if title_col is None:
        return
    for row in body:
        cells = row + [""] * (len(header) - len(row))
        title = cells[title_col].strip()
        if not title or _is_non_finding(title, ctx.rules):
            continue
        extra = [
            f"{rows[0][i].strip() or 'Note'}: {c.strip()}"
            for i, c in enumerate(cells[: len(header)])
            if i != title_col and i not in index_cols and c.strip()
        ]
        ctx.raws.append(_Raw(title, "\n".join(extra), sev, typ))


# --- entry point ---------------------------------------------------------------------


def extract_findings(body: str | None, rules: Rules | None = None) -> ParseResult:
    """The findings of an audit body, in body order; never raises."""
    warnings: list[str] = []
    try:
        rules = rules or default_rules()
        if body is None or not str(body).strip():
            return ParseResult([], ["empty body: no findings"])
        body = str(body).replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
        limit = rules.section("parse")["max_body_chars"]
        if len(body) > limit:
            return ParseResult([], [f"body has {len(body)} characters, over the {limit} limit: not parsed"])
        ctx = _Ctx(rules, warnings)
        _walk(_sections(_lex(_clean_html(body, warnings), warnings)), None, None, ctx, root=True)
        findings = _classified(ctx)
        if ctx.checked:
            warnings.append(f"skipped {ctx.checked} checked item(s): already done")
        if ctx.deep:
            depth = rules.section("parse")["max_list_depth"]
            warnings.append(f"list nested deeper than {depth} levels; read as details")
        if not findings and not _says_nothing_found(body, rules):
            warnings.append("no findings recognised in the body")
        return ParseResult(findings, warnings)
    except Exception as exc:  # the contract: a bad body is a warning, never a crash
        return ParseResult([], warnings + [f"could not parse body: {type(exc).__name__}: {exc}"])


def _says_nothing_found(body: str, rules: Rules) -> bool:
    """Whether the body states there is nothing to do ("No issues found")."""
    return any(re.search(p, body, re.IGNORECASE) for p in rules.section("parse")["no_findings_phrases"])


def _classified(ctx: _Ctx) -> list[Finding]:
    """Classify the raw findings and number them."""
    out: list[Finding] = []
    max_title = ctx.rules.section("parse")["max_title_chars"]
    for raw in ctx.raws:
        title, _ = split_title(raw.title, ctx.rules)
        if not title:
            title = " ".join(raw.text.split()[:12])
        if not title or _is_non_finding(title, ctx.rules):
            continue
        if len(title) > max_title:
            title = title[: max_title - 1].rstrip() + "…"
        sev, typ, scope, cx, sev_x, typ_x = classify(
            raw.title, raw.text, ctx.rules, default_severity=raw.severity, default_type=raw.type
        )
        out.append(Finding(len(out) + 1, title, raw.text, sev, typ, scope, cx, fingerprint(title), sev_x, typ_x))
    return out
