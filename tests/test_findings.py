"""extract_findings: every markdown style, nesting, fences, tables, explicit severity, bad bodies."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.findings import Finding, ParseResult, extract_findings, fingerprint, is_audit_title


def titles(body: str | None) -> list[str]:
    return [f.title for f in extract_findings(body).findings]


def test_audit_titles_match_bracket_or_colon_in_any_case():
    assert is_audit_title("[Audit] shop-php")
    assert is_audit_title("[AUDIT] x") and is_audit_title("audit: api-go") and is_audit_title("Security AUDIT: web")
    assert not is_audit_title("Auditing the logs") and not is_audit_title(None) and not is_audit_title("")


def test_bullets_numbered_and_plus_items_are_findings_in_body_order():
    body = "- First problem here\n* Second problem here\n+ Third problem here\n1. Fourth problem\n2) Fifth problem"
    result = extract_findings(body)
    assert [f.title for f in result.findings] == [
        "First problem here",
        "Second problem here",
        "Third problem here",
        "Fourth problem",
        "Fifth problem",
    ]
    assert [f.index for f in result.findings] == [1, 2, 3, 4, 5]


def test_checkboxes_open_are_findings_checked_are_done():
    result = extract_findings("- [ ] Add CSRF tokens to forms\n- [x] Remove debug output\n- [ ] Fix typo in README")
    assert [f.title for f in result.findings] == ["Add CSRF tokens to forms", "Fix typo in README"]
    assert any("checked" in w for w in result.warnings)


def test_nested_items_are_details_of_their_finding():
    body = "- SQL injection in search\n  - use prepared statements\n    - and a test\n- Missing README"
    found = extract_findings(body).findings
    assert [f.title for f in found] == ["SQL injection in search", "Missing README"]
    assert "prepared statements" in found[0].text and "and a test" in found[0].text


def test_code_fences_are_never_findings():
    body = (
        "- Real finding about XSS\n```md\n- not a finding\n## Not a heading\n```\n"
        "~~~\n- nor this\n~~~\n- Another real one"
    )
    assert titles(body) == ["Real finding about XSS", "Another real one"]


def test_heading_sections_with_metadata_lines():
    body = (
        "# [Audit] billing-php\n## Overview\nIntro text.\n## Findings\n"
        "### 1. Unserialize on user input\n**Severity**: Critical\n**File**: `a.php`\n\nObject injection.\n"
        "### 2. Missing index on invoices\nSeverity: High\nFull table scan.\n"
        "## Recommendations\n- Adopt PHPStan\n"
    )
    found = extract_findings(body).findings
    assert [(f.title, f.severity, f.severity_explicit) for f in found] == [
        ("Unserialize on user input", "critical", True),
        ("Missing index on invoices", "high", True),
    ]


def test_detail_subheadings_belong_to_the_finding_above():
    body = "## Race condition in ledger\n### Description\nTwo refunds.\n### Recommendation\n- lock the row\n"
    found = extract_findings(body).findings
    assert len(found) == 1 and "lock the row" in found[0].text


def test_tables_give_one_finding_per_row_with_explicit_columns():
    body = (
        "| Severity | Count |\n|---|---|\n| High | 2 |\n\n"
        "| # | Finding | Severity | Category | Location |\n|---|---|---|---|---|\n"
        "| 1 | JWT `none` algorithm accepted | Low | Docs | `verify.go` |\n"
        "| 2 | Login has no rate limiting | High | Security | `login.go` |\n"
    )
    found = extract_findings(body).findings
    assert [(f.title, f.severity, f.type) for f in found] == [
        ("JWT `none` algorithm accepted", "low", "docs"),  # the table's columns win over keywords
        ("Login has no rate limiting", "high", "security"),
    ]
    assert all(f.severity_explicit and f.type_explicit for f in found)


def test_explicit_severity_wins_over_keywords_and_section_default():
    body = (
        "## Low\n- [CRITICAL] Typo in README\n- SQL injection in search\n- Fix spacing in the header\n  Severity: high"
    )
    found = extract_findings(body).findings
    assert [f.severity for f in found] == ["critical", "low", "high"]


def test_severity_tags_in_many_spellings():
    body = (
        "- [HIGH] one thing wrong\n- (low) two thing wrong\n- **P0** three thing wrong\n"
        "- [H-01] four thing wrong\n- 🟢 five thing wrong\n- Medium: six thing wrong\n- seven (Severity: critical)"
    )
    assert [f.severity for f in extract_findings(body).findings] == [
        "high",
        "low",
        "critical",
        "high",
        "low",
        "medium",
        "critical",
    ]


def test_section_heading_sets_default_severity_and_type():
    body = "## High severity\n- Goroutine leak in pool\n## Documentation\n- Setup steps are wrong"
    found = extract_findings(body).findings
    assert (found[0].severity, found[0].severity_explicit) == ("high", True)
    assert (found[1].type, found[1].type_explicit) == ("docs", True)


def test_summary_and_intro_paragraphs_are_not_findings():
    body = "Intro paragraph about the audit.\n\n## Summary\n- 3 high, 2 low\n\n## Issues\n- The one real finding"
    assert titles(body) == ["The one real finding"]


def test_no_issues_found_body_gives_no_findings_and_no_warning():
    for body in ("No issues found.", "# [Audit] cli-go\n\nAll checks passed.", "## Security\n- No issues found\n"):
        result = extract_findings(body)
        assert result.findings == [] and result.warnings == [], body


def test_unrecognised_body_gives_zero_findings_and_a_warning():
    result = extract_findings("Just some prose without any structure at all.")
    assert result.findings == [] and result.warnings


def test_bad_bodies_warn_instead_of_crashing():
    cases = {
        "none": None,
        "empty": "   ",
        "huge": "- finding\n" * 12_000,
        "fence": "```\n- inside an unterminated fence",
        "comment": "<!-- never closed\n- x",
    }
    for name, body in cases.items():
        result = extract_findings(body)
        assert result.findings == [] and result.warnings, name


def test_raw_html_emoji_and_deep_nesting_are_read():
    body = "<details><summary>x</summary>\n\n- 🔥 Emoji finding 🚀 here\n" + "".join(
        "  " * d + "- level\n" for d in range(1, 60)
    )
    result = extract_findings(body)
    assert [f.title for f in result.findings] == ["Emoji finding 🚀 here"]
    assert any("nested" in w for w in result.warnings)


def test_fingerprint_ignores_case_spacing_and_punctuation():
    assert fingerprint("SQL injection in `search.php`!") == fingerprint("sql  Injection in search php")
    assert len(fingerprint("x")) == 16 and fingerprint("a") != fingerprint("b")


def test_reparsing_gives_the_same_fingerprints():
    body = "- [HIGH] SQL injection in search\n- Missing README"
    assert extract_findings(body).findings == extract_findings(body).findings


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.none(), st.text(max_size=3000)))
def test_any_text_returns_a_parse_result(body):
    result = extract_findings(body)
    assert isinstance(result, ParseResult)
    assert all(isinstance(f, Finding) and f.index == i + 1 for i, f in enumerate(result.findings))


_MD = st.sampled_from(
    [
        "- ",
        "* ",
        "1. ",
        "- [ ] ",
        "- [x] ",
        "## ",
        "### ",
        "```",
        "~~~",
        "| a | b |\n|---|---|\n",
        "> ",
        "<details>",
        "**",
        "    ",
        "\t",
        "\n",
        "\n\n",
        "Severity: ",
        "[HIGH] ",
        "(",
        ")",
        "🔥",
        "<!--",
        "-->",
        "|",
        "---\n",
        "===\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_MD, st.text(max_size=20)), max_size=80).map("".join))
def test_markdown_shaped_noise_never_raises(body):
    result = extract_findings(body)
    assert isinstance(result, ParseResult)
    assert not any(w.startswith("could not parse") for w in result.warnings)
