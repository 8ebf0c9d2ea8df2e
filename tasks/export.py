"""Export a read model to a file: `orchestrator export outcomes` (the training data set).

DuckDB writes the file itself (`COPY (...) TO`): Parquet, CSV with a header, or JSON Lines. The
rows are the view's, in its key order; `since` keeps dispatches on or after that date. The file
is written next to its destination and renamed into place, so a failed export never leaves half a
file where a good one was.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from tasks import store

FORMATS = {"parquet": "FORMAT parquet", "csv": "FORMAT csv, HEADER true", "jsonl": "FORMAT json"}
EXPORTS = {"outcomes": ("dispatched_at", "repo, number, attempt")}  # view -> (date column, key order)


class ExportError(ValueError):
    """A bad export request, phrased for the user in one line."""


def parse_since(value: str | None) -> date | None:
    """`--since` as a date (YYYY-MM-DD), or an ExportError naming the problem."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ExportError(f"--since: {value!r} is not a date (YYYY-MM-DD)") from None


def export_view(db: str | Path, view: str, fmt: str, out: Path, since: date | None = None) -> int:
    """Write `view` (one of EXPORTS) to `out` in `fmt` (one of FORMATS); the number of rows written."""
    if view not in EXPORTS:
        raise ExportError(f"nothing called {view!r} to export (one of {', '.join(EXPORTS)})")
    if fmt not in FORMATS:
        raise ExportError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    date_column, order = EXPORTS[view]
    where = f"WHERE {date_column} >= DATE '{since.isoformat()}'" if since else ""
    query = f"SELECT * FROM {view} {where} ORDER BY {order}"
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    literal = str(partial).replace("'", "''")
    try:
        with store.reader(db) as con:
            count = con.execute(f"SELECT count(*) FROM ({query})").fetchone()[0]
            con.execute(f"COPY ({query}) TO '{literal}' ({FORMATS[fmt]})")
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return int(count)
