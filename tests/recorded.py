"""Real GitHub answers recorded by github3.py's tests, read in place from shared/ (never copied)."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

RECORDED = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "recorded-github"


def recorded(name: str) -> list[dict[str, Any]]:
    """The interactions of one cassette, with decoded bodies; skips when shared/ is absent."""
    path = RECORDED / f"{name}.json"
    if not path.exists():
        pytest.skip(f"recorded GitHub fixtures not present at {RECORDED}")
    out = []
    for interaction in json.loads(path.read_text())["http_interactions"]:
        body = interaction["response"]["body"]
        text = body.get("string") or ""
        if body.get("base64_string"):
            text = gzip.decompress(base64.b64decode(body["base64_string"])).decode()
        out.append(
            {
                "uri": interaction["request"]["uri"],
                "status": interaction["response"]["status"]["code"],
                "headers": interaction["response"]["headers"],
                "json": json.loads(text) if text.strip() else None,
            }
        )
    return out
