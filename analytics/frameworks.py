"""Framework candidates: three or more similar findings across the org, proposed as one issue.

Similarity is the Jaccard index |A ∩ B| / |A ∪ B| of two findings' token sets. Tokens are
the lower-cased words of the title plus the first `text_tokens` words of the text, with
stop-words (rules file) and numbers removed and a light plural/verb-ending stem ("queries"
-> "query", "tests" -> "test"). Two findings are similar when they share a type and their
Jaccard index reaches `similarity_threshold` (rules file, default 0.4).

Grouping is star clustering inside each type: the finding with the most similar
neighbours becomes a centre and takes its unassigned neighbours; a group with at least
`min_members` findings (and `min_repos` repos) is a candidate. Centres are tried in a fixed
order, so the result is deterministic; unlike connected components it cannot chain
unrelated findings together through intermediaries.

Pairs are found with an inverted index (token -> finding rows) and `numpy.bincount`, so
each finding is compared only with findings sharing a token: 10,000 findings take well
under a second.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import numpy as np
import pandas as pd

from analytics.classify import Rules, default_rules

OUTPUT_COLUMNS = [
    "candidate_id",
    "type",
    "title",
    "repo",
    "audit_number",
    "finding_index",
    "fingerprint",
    "member_count",
    "repo_count",
]
_WORD = re.compile(r"[a-z][a-z0-9_+#.-]*[a-z0-9+#]|[a-z]")


def _stem(word: str) -> str:
    """A light stem so that plural and -ing/-ed forms meet ("queries" -> "query")."""
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + repl
    return word


def tokens(title: str, text: str = "", rules: Rules | None = None) -> frozenset[str]:
    """The normalised token set a finding is compared by."""
    cfg = (rules or default_rules()).section("frameworks")
    stop = set(cfg.get("stop_words", []))
    words = _WORD.findall((title or "").lower()) + _WORD.findall((text or "").lower())[: cfg.get("text_tokens", 25)]
    return frozenset(_stem(w) for w in words if w not in stop and not w.isdigit())


def similarity(a: str, b: str, rules: Rules | None = None) -> float:
    """Jaccard index of the two texts' normalised token sets (0.0 when both are empty)."""
    ta, tb = tokens(a, "", rules), tokens(b, "", rules)
    union = len(ta | tb)
    return len(ta & tb) / union if union else 0.0


def _neighbours(token_sets: list[frozenset[str]], threshold: float) -> list[np.ndarray]:
    """For each set, the indices of the other sets with Jaccard >= threshold."""
    n = len(token_sets)
    postings: dict[str, list[int]] = {}
    for i, toks in enumerate(token_sets):
        for tok in toks:
            postings.setdefault(tok, []).append(i)
    arrays = {tok: np.asarray(rows, dtype=np.int64) for tok, rows in postings.items()}
    sizes = np.fromiter((len(t) for t in token_sets), dtype=np.int64, count=n)
    result = []
    for i, toks in enumerate(token_sets):
        if not toks:
            result.append(np.empty(0, dtype=np.int64))
            continue
        shared = np.bincount(np.concatenate([arrays[t] for t in toks]), minlength=n)
        candidates = np.nonzero(shared)[0]
        inter = shared[candidates]
        jaccard = inter / (sizes[i] + sizes[candidates] - inter)
        keep = candidates[(jaccard >= threshold) & (candidates != i)]
        result.append(keep)
    return result


def _star_groups(neigh: list[np.ndarray], order_key: list[str], min_members: int) -> list[list[int]]:
    """Star clustering: densest unassigned finding first takes its unassigned neighbours."""
    assigned = np.zeros(len(neigh), dtype=bool)
    order = sorted(range(len(neigh)), key=lambda i: (-len(neigh[i]), order_key[i], i))
    groups = []
    for centre in order:
        if assigned[centre] or len(neigh[centre]) + 1 < min_members:
            continue
        free = [int(j) for j in neigh[centre] if not assigned[j]]
        if len(free) + 1 >= min_members:
            members = [centre, *free]
            assigned[members] = True
            groups.append(members)
    return groups


def group_framework_candidates(findings: pd.DataFrame, rules: Rules | None = None) -> pd.DataFrame:
    """One row per (candidate, member) for groups of >= min_members similar findings of one type."""
    rules = rules or default_rules()
    cfg: dict[str, Any] = rules.section("frameworks")
    if findings is None or findings.empty:
        return pd.DataFrame(columns=OUTPUT_COLUMNS)
    frame = findings.reset_index(drop=True)
    rows = []
    for ftype, bucket in frame.groupby("type", sort=True):
        bucket = bucket.sort_values(["fingerprint", "repo", "audit_number", "finding_index"], kind="stable")
        token_sets = [
            tokens(str(t or ""), str(x or ""), rules) for t, x in zip(bucket["title"], bucket["text"], strict=True)
        ]
        neigh = _neighbours(token_sets, float(cfg["similarity_threshold"]))
        for members in _star_groups(neigh, list(bucket["fingerprint"].astype(str)), int(cfg["min_members"])):
            group = bucket.iloc[members]
            if group["repo"].nunique() < int(cfg.get("min_repos", 1)):
                continue
            rows.append(_candidate_rows(str(ftype), group, cfg))
    if not rows:
        return pd.DataFrame(columns=OUTPUT_COLUMNS)
    return pd.concat(rows, ignore_index=True)[OUTPUT_COLUMNS]


def _candidate_rows(ftype: str, group: pd.DataFrame, cfg: dict[str, Any]) -> pd.DataFrame:
    """The member rows of one candidate; its first row is the star's centre."""
    fingerprints = sorted(group["fingerprint"].astype(str))
    candidate_id = "fw-" + hashlib.sha1("|".join(fingerprints).encode()).hexdigest()[:12]
    repo_count = int(group["repo"].nunique())
    title = cfg["title_template"].format(
        title=str(group["title"].iloc[0]), members=len(group), repos=repo_count, type=ftype
    )
    return pd.DataFrame(
        {
            "candidate_id": candidate_id,
            "type": ftype,
            "title": title,
            "repo": group["repo"].to_numpy(),
            "audit_number": group["audit_number"].to_numpy(),
            "finding_index": group["finding_index"].to_numpy(),
            "fingerprint": group["fingerprint"].to_numpy(),
            "member_count": len(group),
            "repo_count": repo_count,
        }
    )


# ── the framework issue's text ────────────────────────────────────────────────

# `Framework: …`, `[Framework] …`, `framework(php): …` (any case, repeated): the candidate's
# title may already carry one (the rules' title_template does), and so may a finding's.
_FRAMEWORK_PREFIX = re.compile(r"^\s*(?:\[\s*framework\s*\]\s*:?|framework\s*(?:\([^)]*\))?\s*:)\s*", re.IGNORECASE)
# GitHub refuses bodies over 65,536 characters; the listing stops well before that.
_BODY_BUDGET = 60_000
_TITLE_CHARS = 200


def framework_issue_title(candidate_title: str) -> str:
    """`Framework: <title>` with any framework prefix the title already had taken off first."""
    title = str(candidate_title or "").strip()
    while (stripped := _FRAMEWORK_PREFIX.sub("", title, count=1)) != title:
        title = stripped
    return f"Framework: {title or 'shared fix'}"


def framework_issue_body(members: list[dict[str, Any]]) -> str:
    """One line per member finding: its repo, audit, index and its own title (not the candidate's)."""
    head = f"One shared fix for a pattern seen in {len(members)} audit findings:\n"
    lines, size = [], len(head)
    for i, m in enumerate(members):
        title = " ".join(str(m.get("finding_title") or m.get("title") or "").split())[:_TITLE_CHARS]
        line = f"- {m['repo']}#{m['audit_number']} finding {m['finding_index']}: {title}"
        if size + len(line) + 80 > _BODY_BUDGET:
            lines.append(f"- … and {len(members) - i} more findings (see `framework_candidates`)")
            break
        lines.append(line)
        size += len(line) + 1
    return head + "\n" + "\n".join(lines)
