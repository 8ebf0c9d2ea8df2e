"""Tables that Python computes from the current snapshot: markdown is not SQL's job.

`derive_tables` turns the open audit issues into findings, parse warnings and framework
candidates; the `audit_findings`, `parse_warnings` and `framework_candidates` views read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from analytics.classify import labels_for, load_rules, repo_language
from analytics.findings import extract_findings, is_audit_title
from analytics.frameworks import group_framework_candidates

FINDING_COLUMNS = [
    "repo", "audit_number", "finding_index", "title", "text", "severity", "type", "scope", "complexity",
    "fingerprint", "severity_explicit", "type_explicit", "labels",
]  # fmt: skip
WARNING_COLUMNS = ["repo", "number", "warning"]


def derive_tables(
    open_issues: pd.DataFrame,
    languages: Mapping[str, str | None] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, pd.DataFrame]:
    """Findings of every open audit issue (columns repo, number, title, body), and what follows."""
    rules = load_rules(dict(overrides or {}))
    languages = languages or {}
    findings, warnings = [], []
    audits = (
        open_issues[[is_audit_title(title, rules) for title in open_issues["title"]]]
        if len(open_issues)
        else open_issues
    )
    for audit in audits.itertuples(index=False):
        parsed = extract_findings(audit.body, rules)
        lang = languages.get(audit.repo) or repo_language(audit.repo, rules)
        warnings += [(audit.repo, audit.number, warning) for warning in parsed.warnings]
        for f in parsed.findings:
            findings.append(
                (audit.repo, audit.number, f.index, f.title, f.text, f.severity, f.type, f.scope, f.complexity,
                 f.fingerprint, f.severity_explicit, f.type_explicit, labels_for(f, lang))
            )  # fmt: skip
    finding_rows = pd.DataFrame(findings, columns=FINDING_COLUMNS)
    trusted = _trusted_findings(finding_rows, audits)
    candidates = group_framework_candidates(
        trusted[["repo", "audit_number", "finding_index", "title", "text", "type", "fingerprint"]], rules
    )
    return {
        "finding_rows": finding_rows,
        "parse_warning_rows": pd.DataFrame(warnings, columns=WARNING_COLUMNS),
        "framework_candidate_rows": candidates,
    }


def _trusted_findings(finding_rows: pd.DataFrame, audits: pd.DataFrame) -> pd.DataFrame:
    """Findings of audits a trusted person wrote (an `is_trusted` column; without one, all):
    an outsider's "audit" is data, so its findings never join a framework group."""
    if "is_trusted" not in audits.columns or finding_rows.empty:
        return finding_rows
    keys = {(a.repo, int(a.number)) for a in audits.itertuples(index=False) if bool(a.is_trusted)}
    pairs = zip(finding_rows["repo"], finding_rows["audit_number"], strict=True)
    mask = [(repo, int(number)) in keys for repo, number in pairs]
    return finding_rows[mask]
