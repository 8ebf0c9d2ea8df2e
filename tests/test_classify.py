"""Classification rules, config overrides, labels, corpus accuracy, framework candidates."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.classify import classify, labels_for, load_rules, repo_language
from analytics.findings import extract_findings, fingerprint
from analytics.frameworks import group_framework_candidates, similarity
from tests.corpus.accuracy import accuracy_report


def test_corpus_accuracy_is_at_least_ninety_percent_on_type_and_severity():
    report = accuracy_report()
    print("\ncorpus accuracy:", report.summary())
    assert report.findings >= 60
    assert report.count_errors == []
    assert report.accuracy("type") >= 0.9
    assert report.accuracy("severity") >= 0.9


def test_explicit_statements_are_flagged():
    sev, typ, _, _, sev_x, typ_x = classify("[HIGH][Docs] Something", "", load_rules())
    assert (sev, typ, sev_x, typ_x) == ("high", "docs", True, True)
    sev, typ, _, _, sev_x, typ_x = classify("SQL injection in login.php", "", load_rules())
    assert (sev, typ, sev_x, typ_x) == ("critical", "security", False, False)


def test_scope_and_complexity_from_text_and_effort():
    assert classify("Typo in src/a.php", "", load_rules())[2:4] == ("file", "small")
    assert classify("Extract logging into a shared library used by all repos", "")[2:4] == ("cross-repo", "large")
    assert classify("Refactor billing", "Effort: 2 weeks")[3] == "large"
    assert classify("Rename a variable", "Estimate: 2h")[3] == "small"


def test_config_overrides_merge_dicts_and_replace_lists():
    rules = load_rules({"type": {"keywords": {"security": ["frobnicate"]}}, "severity": {"default": "low"}})
    assert classify("We frobnicate the widget", "", rules)[1] == "security"
    assert classify("SQL injection in search", "", rules)[1] != "security"  # the list was replaced
    assert rules.section("type")["keywords"]["docs"]  # other keys kept
    assert classify("Something vague", "", load_rules({"severity": {"type_defaults": {"quality": "low"}}}))[0] == "low"


def test_overrides_can_add_a_type_and_change_the_audit_title():
    rules = load_rules(
        {
            "type": {"keywords": {"accessibility": ["alt text", "screen reader"]}},
            "audit": {"title_pattern": r"^review:"},
        }
    )
    assert classify("Images lack alt text", "", rules)[1] == "accessibility"
    from analytics.findings import is_audit_title

    assert is_audit_title("review: x", rules) and not is_audit_title("[Audit] x", rules)


def test_unknown_override_section_is_an_error():
    with pytest.raises(ValueError, match="unknown section"):
        load_rules({"severty": {}})


def test_labels_and_repo_languages():
    finding = extract_findings("- [HIGH] SQL injection in search.php").findings[0]
    assert labels_for(finding, repo_language("shop-php")) == [
        "audit",
        "severity:high",
        "type:security",
        "complexity:small",
        "lang:php",
    ]
    assert labels_for({"severity": "low", "type": "docs", "complexity": "small"}, None) == [
        "audit",
        "severity:low",
        "type:docs",
        "complexity:small",
    ]
    assert [repo_language(r) for r in ("api-go", "web-js", "acme/laravel-shop", "tooling")] == ["go", "js", "php", None]


def test_similarity_is_jaccard_over_normalised_tokens():
    assert similarity("SQL injection in search", "sql injections in the search!") == 1.0
    assert similarity("SQL injection in search", "Missing README") == 0.0
    assert 0 < similarity("SQL injection in user search", "SQL injection in login query") < 1


def _frame(rows):
    return pd.DataFrame(
        [
            dict(repo=r, audit_number=n, finding_index=i, title=t, text="", type=ty, fingerprint=fingerprint(t))
            for r, n, i, t, ty in rows
        ]
    )


def test_three_similar_findings_across_repos_become_one_candidate():
    findings = _frame(
        [
            ("shop-php", 1, 1, "Hard-coded database password in config", "security"),
            ("billing-php", 2, 3, "Hardcoded database password in config file", "security"),
            ("cms-php", 5, 2, "Database password hard-coded in config", "security"),
            ("api-go", 7, 1, "Database password hard-coded in config", "quality"),  # other type
            ("web-js", 9, 4, "Missing README", "security"),
        ]
    )
    out = group_framework_candidates(findings, load_rules())
    assert set(out["repo"]) == {"shop-php", "billing-php", "cms-php"}
    assert out["candidate_id"].nunique() == 1 and set(out["member_count"]) == {3} and set(out["repo_count"]) == {3}
    assert out["title"].iloc[0].startswith("Framework: ")
    again = group_framework_candidates(findings.iloc[::-1], load_rules())
    assert again["candidate_id"].iloc[0] == out["candidate_id"].iloc[0]  # stable across input order


def test_two_similar_findings_are_not_enough_and_threshold_is_configurable():
    findings = _frame(
        [
            ("a", 1, 1, "No unit tests for parser", "testing"),
            ("b", 1, 1, "No unit tests for the parser module", "testing"),
            ("c", 1, 1, "Parser lacks tests", "testing"),
        ]
    )
    assert len(group_framework_candidates(findings.iloc[:2], load_rules())) == 0
    assert len(group_framework_candidates(findings, load_rules({"frameworks": {"similarity_threshold": 0.2}}))) == 3
    assert len(group_framework_candidates(findings, load_rules({"frameworks": {"min_members": 4}}))) == 0


def test_ten_thousand_findings_group_into_candidates():
    """Scale without a clock (its speed is in `make bench`): every finding lands in at most one candidate."""
    words = "sql injection password cache readme tests coverage lodash upgrade leak timeout index query".split()
    rows = []
    for i in range(10_000):
        title = f"{words[i % 13]} {words[(i * 7) % 13]} {words[(i * 3) % 11]} in module{i % 40}"
        rows.append((f"repo{i % 60}", i % 9, i, title, ["security", "quality", "testing", "docs"][i % 4]))
    frame = _frame(rows)
    out = group_framework_candidates(frame, load_rules())
    assert len(out) > 0 and out["candidate_id"].nunique() > 1
    assert not out.duplicated(subset=["repo", "audit_number", "finding_index"]).any()
