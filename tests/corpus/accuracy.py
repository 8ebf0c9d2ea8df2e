"""Accuracy of analytics.findings/classify on the labelled audit corpus (run: python -m tests.corpus.accuracy)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from analytics.classify import Rules, load_rules
from analytics.findings import extract_findings

CORPUS = Path(__file__).parent
FIELDS = ("severity", "type", "scope", "complexity")


@dataclass
class Report:
    """Per-field accuracy over the labelled findings, plus the mismatches."""

    findings: int = 0
    audits: int = 0
    count_errors: list[str] = field(default_factory=list)
    correct: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    misses: list[str] = field(default_factory=list)

    def accuracy(self, name: str) -> float:
        """Share of labelled findings whose `name` matches."""
        return self.correct[name] / self.findings if self.findings else 0.0

    def summary(self) -> str:
        """One line per field, for quoting."""
        parts = [f"{n} {self.accuracy(n):.1%}" for n in FIELDS]
        return f"{self.findings} findings in {self.audits} audits: " + ", ".join(parts)


def load_labels() -> list[dict]:
    """The corpus labels."""
    with (CORPUS / "labels.toml").open("rb") as fh:
        return tomllib.load(fh)["audit"]


def accuracy_report(rules: Rules | None = None) -> Report:
    """Parse every corpus audit and compare with the labels."""
    rules = rules or load_rules()
    report = Report()
    for audit in load_labels():
        body = (CORPUS / "audits" / audit["file"]).read_text(encoding="utf-8")
        got = extract_findings(body, rules).findings
        want = audit["findings"]
        report.audits += 1
        report.findings += len(want)
        if len(got) != len(want):
            report.count_errors.append(f"{audit['file']}: {len(got)} findings, expected {len(want)}")
        for i, label in enumerate(want):
            match = next((f for f in got if label[0].lower() in f.title.lower()), None)
            if match is None:
                report.misses.append(f"{audit['file']}#{i + 1}: no finding titled like {label[0]!r}")
                continue
            for name, expected in zip(FIELDS, label[1:], strict=True):
                actual = getattr(match, name)
                if actual == expected:
                    report.correct[name] += 1
                else:
                    report.misses.append(f"{audit['file']}#{i + 1} {name}: {actual} != {expected} ({match.title})")
    return report


if __name__ == "__main__":
    result = accuracy_report()
    print(result.summary())
    print("\n".join(result.count_errors + result.misses))
