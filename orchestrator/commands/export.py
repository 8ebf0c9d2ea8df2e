"""`orchestrator export outcomes`: the outcome data set as a Parquet, CSV or JSON Lines file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from common.text import data_text
from orchestrator.cli_common import app, console, db_path, fail, friendly


@app.command()
@friendly
def export(
    what: Annotated[str, typer.Argument(help="what to export: outcomes")],
    out: Annotated[Path, typer.Option("--out", help="the file to write (replaced if it exists)")],
    fmt: Annotated[str, typer.Option("--format", help="parquet, csv or jsonl")] = "parquet",
    since: Annotated[str | None, typer.Option(help="only dispatches on or after this date (YYYY-MM-DD)")] = None,
) -> None:
    """Write a read model to a file: `outcomes` is one row per dispatch, its features and outcome.

    Example: orchestrator export outcomes --format parquet --out outcomes.parquet --since 2026-01-01
    """
    from tasks.export import ExportError, export_view, parse_since

    try:
        count = export_view(db_path(), what, fmt.lower(), out, parse_since(since))
    except ExportError as exc:
        fail(str(exc), 2)
    console.print(data_text(f"{count} rows of {what} written to {out.resolve()}"), soft_wrap=True)
