"""Classify an audit finding: severity, type, scope, complexity, from data-file rules.

The rules live in `analytics/rules/classification.toml`; the user's config can merge a
plain dict over them (`load_rules(overrides)`). Precedence for severity and type:
an explicit statement by the auditor (a tag, a `Severity:` line, a table column) wins,
then the section's default (a heading such as "## High severity"), then keywords.
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

RULES_FILE = Path(__file__).parent / "rules" / "classification.toml"

Classification = tuple[str, str, str, str, bool, bool]


@dataclass(frozen=True, eq=False)
class Rules:
    """The classification rules, merged and compiled once."""

    data: dict[str, Any]
    audit_title: re.Pattern[str]
    severity_levels: tuple[str, ...]
    severity_alias: dict[str, str]
    severity_keywords: list[tuple[str, re.Pattern[str]]]
    type_alias: dict[str, str]
    type_keywords: dict[str, re.Pattern[str]]
    type_order: tuple[str, ...]
    scope_alias: dict[str, str]
    scope_patterns: list[tuple[str, re.Pattern[str]]]
    complexity_alias: dict[str, str]
    complexity_keywords: list[tuple[str, re.Pattern[str]]]
    key_value: re.Pattern[str]
    key_field: dict[str, str]
    languages: list[tuple[str, re.Pattern[str]]]
    extra: dict[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        """One top-level table of the merged rules."""
        return self.data.get(name, {})


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `override` over `base`: tables merge key by key, lists and scalars replace."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@lru_cache(maxsize=1)
def _default_data() -> dict[str, Any]:
    """The shipped rules file, read once."""
    with RULES_FILE.open("rb") as fh:
        return tomllib.load(fh)


def _any(patterns: list[str]) -> re.Pattern[str]:
    """One case-insensitive regex matching any of `patterns` (never matching when empty)."""
    body = "|".join(f"(?:{p})" for p in patterns) or r"(?!x)x"
    return re.compile(body, re.IGNORECASE)


def _alias_map(table: Mapping[str, list[str]]) -> dict[str, str]:
    """Invert {level: [alias, ...]} into {alias: level}, aliases lower-cased."""
    return {alias.lower(): level for level, aliases in table.items() for alias in aliases}


def load_rules(overrides: Mapping[str, Any] | None = None) -> Rules:
    """The shipped rules with `overrides` (the config's `classification` table) merged over them."""
    base = _default_data()
    unknown = set(overrides or {}) - set(base)
    if unknown:
        raise ValueError(f"classification: unknown section(s) {sorted(unknown)}; known: {sorted(base)}")
    data = deep_merge(base, overrides or {})
    try:
        return _compile(data)
    except (KeyError, TypeError, AttributeError, re.error) as exc:
        raise ValueError(f"classification: bad rules ({exc!r})") from exc


def _compile(data: dict[str, Any]) -> Rules:
    """Compile the merged rules dict."""
    sev, typ, scope, cx, parse = data["severity"], data["type"], data["scope"], data["complexity"], data["parse"]
    key_field = {}
    for name in ("severity", "type", "complexity", "scope"):
        key_field.update({k.lower(): name for k in parse[f"{name}_keys"]})
    keys = sorted(key_field, key=len, reverse=True)
    key_value = re.compile(
        r"(?<![\w-])(" + "|".join(re.escape(k) for k in keys) + r")[ \t]*[:=][ \t]*\n?[ \t>*_`-]*([^\n,;|)\]]{1,60})",
        re.IGNORECASE,
    )
    return Rules(
        data=data,
        audit_title=re.compile(data["audit"]["title_pattern"], re.IGNORECASE),
        severity_levels=tuple(sev["levels"]),
        severity_alias=_alias_map(sev["aliases"]),
        severity_keywords=[(lvl, _any(sev["keywords"].get(lvl, []))) for lvl in sev["levels"]],
        type_alias=_alias_map(typ["aliases"]),
        type_keywords={t: _any(p) for t, p in typ["keywords"].items()},
        type_order=tuple(typ["order"]) + tuple(t for t in typ["keywords"] if t not in typ["order"]),
        scope_alias=_alias_map(scope["aliases"]),
        scope_patterns=[(lvl, _any(scope["patterns"].get(lvl, []))) for lvl in scope["order"]],
        complexity_alias=_alias_map(cx["aliases"]),
        complexity_keywords=[(lvl, _any(cx["keywords"].get(lvl, []))) for lvl in cx["order"]],
        key_value=key_value,
        key_field=key_field,
        languages=[(lang, _any(p)) for lang, p in data.get("languages", {}).items()],
    )


def default_rules() -> Rules:
    """The shipped rules without overrides (cached)."""
    return _cached_default()


@lru_cache(maxsize=1)
def _cached_default() -> Rules:
    return load_rules()


# --- explicit statements -------------------------------------------------------------

_TAG = re.compile(r"[\[(]([^\[\]()\n]{1,40})[\])]")
_PREFIX = re.compile(r"^\s*(?:\*\*|__)?([A-Za-z0-9][\w -]{0,20}?)(?:\*\*|__)?\s*(?:[:|–—]|\s-)\s+")
_ID = re.compile(r"^([A-Za-z]{1,2})-?(\d{1,4})$")
_LEADING_ID = re.compile(r"^\s*([A-Za-z]{1,2})-(\d{1,4})\b[\s:.)-]*")
_NUMBERING = re.compile(r"^\s*(?:(?:finding|issue|item)\s*#?\d+\s*[:.)-]?|#?\d{1,4}\s*[.):-](?=\s))\s*", re.I)
_EMPHASIS = re.compile(r"(\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w))")
_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)")
_SPLIT = re.compile(r"\s*[/,|+·]\s*|\s+-\s+")


def _resolve(value: str, alias: Mapping[str, str]) -> str | None:
    """The level named by `value` ("High", "🔴 high risk", "P1"), or None."""
    words = re.sub(r"[^\w\s-]", " ", value.lower()).split()
    for n in (3, 2, 1):
        for i in range(len(words) - n + 1):
            hit = alias.get(" ".join(words[i : i + n]))
            if hit:
                return hit
    return None


def _strip_emphasis(text: str) -> str:
    """Remove bold/italic markers, leaving `code spans` alone."""
    parts = re.split(r"(`[^`\n]*`)", text)
    return "".join(p if i % 2 else _EMPHASIS.sub("", p) for i, p in enumerate(parts))


def tag_levels(tag: str, rules: Rules) -> dict[str, str] | None:
    """What a bracket tag states ({'severity': 'high', 'type': 'security'}), or None if not a tag."""
    found: dict[str, str] = {}
    id_match = _ID.match(tag.strip())
    if id_match and id_match.group(1).upper() in rules.section("severity").get("id_prefixes", {}):
        return {"severity": rules.section("severity")["id_prefixes"][id_match.group(1).upper()]}
    kv = rules.key_value.search(tag)
    if kv:
        name = rules.key_field[kv.group(1).lower()]
        level = _resolve(kv.group(2), _field_alias(name, rules))
        return {name: level} if level else None
    for part in _SPLIT.split(tag.strip()):
        part = part.strip().lower()
        if not part:
            continue
        if part in rules.severity_alias and "severity" not in found:
            found["severity"] = rules.severity_alias[part]
        elif part in rules.type_alias and "type" not in found:
            found["type"] = rules.type_alias[part]
        else:
            return None
    return found or None


def _field_alias(name: str, rules: Rules) -> Mapping[str, str]:
    """The alias map for one field."""
    return {
        "severity": rules.severity_alias,
        "type": rules.type_alias,
        "scope": rules.scope_alias,
        "complexity": rules.complexity_alias,
    }[name]


def split_title(raw: str, rules: Rules) -> tuple[str, dict[str, str]]:
    """Strip numbering, ids, tags and markup from a title; return it with what the tags stated."""
    stated: dict[str, str] = {}
    title = _LINK.sub(r"\1", raw)
    title = _strip_emphasis(title).strip()
    for _ in range(4):  # a few rounds: "1. [HIGH] [Security] H-01: ..."
        before = title
        title = _NUMBERING.sub("", title, count=1).strip()
        lead = _LEADING_ID.match(title)
        ids = rules.section("severity").get("id_prefixes", {})
        if lead and lead.group(1).upper() in ids:
            stated.setdefault("severity", ids[lead.group(1).upper()])
            title = title[lead.end() :]
        title = _strip_tags(title, rules, stated)
        prefix = _PREFIX.match(title)
        if prefix:
            said = tag_levels(prefix.group(1), rules)
            if said:
                for k, v in said.items():
                    stated.setdefault(k, v)
                title = title[prefix.end() :]
        title = title.strip(" \t:-–—|")
        if title == before:
            break
    emoji = rules.section("severity").get("emoji", {})
    for mark, level in emoji.items():
        if mark in title:
            stated.setdefault("severity", level)
    title = re.sub(r"^[^\w`\"'(\[]+", "", title).strip()
    return title, stated


def _strip_tags(title: str, rules: Rules, stated: dict[str, str]) -> str:
    """Remove recognised [TAG]/(tag) groups from `title`, recording what they state."""

    def replace(match: re.Match[str]) -> str:
        said = tag_levels(match.group(1), rules)
        if not said:
            return match.group(0)
        for k, v in said.items():
            stated.setdefault(k, v)
        return " "

    return re.sub(r"\s{2,}", " ", _TAG.sub(replace, title)).strip()


def stated_levels(title: str, text: str, rules: Rules) -> dict[str, str]:
    """What the auditor stated explicitly, from title tags first, then `Key: value` lines."""
    _, stated = split_title(title, rules)
    plain = _strip_emphasis(text or "")
    for match in rules.key_value.finditer(plain):
        name = rules.key_field[match.group(1).lower()]
        if name in stated:
            continue
        level = _resolve(match.group(2), _field_alias(name, rules))
        if level is None and name == "complexity":
            level = _effort_level(match.group(2))
        if level:
            stated[name] = level
    return stated


def _effort_level(value: str) -> str | None:
    """Complexity from an estimate such as "2h", "3 days", "1 week"."""
    m = re.search(r"(\d+(?:\.\d+)?)\s*(h|hours?|d|days?|w|weeks?|pts?|points?)\b", value.lower())
    if not m:
        return None
    amount, unit = float(m.group(1)), m.group(2)[0]
    hours = amount * {"h": 1, "d": 8, "w": 40, "p": 4}[unit]
    return "small" if hours <= 4 else "medium" if hours <= 24 else "large"


# --- classification ------------------------------------------------------------------


def classify(
    title: str,
    text: str,
    rules: Rules | None = None,
    *,
    default_severity: str | None = None,
    default_type: str | None = None,
) -> Classification:
    """(severity, type, scope, complexity, severity_explicit, type_explicit) for one finding."""
    rules = rules or default_rules()
    title, text = title or "", text or ""
    stated = stated_levels(title, text, rules)
    clean, _ = split_title(title, rules)
    both = f"{clean}\n{text}"

    type_explicit = "type" in stated or default_type is not None
    ftype = stated.get("type") or default_type or _keyword_type(clean, text, rules)
    severity_explicit = "severity" in stated or default_severity is not None
    severity = stated.get("severity") or default_severity or _keyword_severity(clean, text, ftype, rules)
    scope = stated.get("scope") or _first_match(rules.scope_patterns, both) or rules.section("scope")["default"]
    complexity = (
        stated.get("complexity")
        or _first_match(rules.complexity_keywords, both)
        or rules.section("complexity").get("scope_defaults", {}).get(scope)
        or rules.section("complexity")["default"]
    )
    return severity, ftype, scope, complexity, severity_explicit, type_explicit


def _keyword_type(title: str, text: str, rules: Rules) -> str:
    """The type whose keywords fire most (title counts double); the default when none fire."""
    best, best_score = rules.section("type")["default"], 0
    for ftype in rules.type_order:
        pattern = rules.type_keywords.get(ftype)
        if pattern is None:
            continue
        score = 2 * len(set(m.group(0).lower() for m in pattern.finditer(title)))
        score += len(set(m.group(0).lower() for m in pattern.finditer(text)))
        if score > best_score:
            best, best_score = ftype, score
    return best


def _keyword_severity(title: str, text: str, ftype: str, rules: Rules) -> str:
    """Severity from keywords in the title, then the text, then the type's default."""
    for where in (title, text):
        level = _first_match(rules.severity_keywords, where)
        if level:
            return level
    sev = rules.section("severity")
    return sev.get("type_defaults", {}).get(ftype, sev["default"])


def _first_match(levels: list[tuple[str, re.Pattern[str]]], text: str) -> str | None:
    """The first level (in rules order) whose pattern matches `text`."""
    for level, pattern in levels:
        if pattern.search(text):
            return level
    return None


def repo_language(repo: str | None, rules: Rules | None = None) -> str | None:
    """The `lang:` of a repository guessed from its name (`shop-php` -> php), or None."""
    rules = rules or default_rules()
    name = (repo or "").split("/")[-1]
    for lang, pattern in rules.languages:
        if pattern.search(name):
            return lang
    return None


def labels_for(finding: Any, lang: str | None = None) -> list[str]:
    """GitHub labels for a finding (a Finding or a mapping with severity/type/complexity)."""
    get = finding.get if isinstance(finding, Mapping) else lambda k: getattr(finding, k, None)
    labels = ["audit"]
    for name in ("severity", "type", "complexity"):
        value = get(name)
        if value:
            labels.append(f"{name}:{value}")
    if lang:
        labels.append(f"lang:{lang}")
    return labels
