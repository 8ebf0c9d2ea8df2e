"""What every command shares: the app, one-line errors, settings, tables."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import requests
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from common.config import ConfigError, Settings, load_settings
from common.text import data_text, printable
from tasks.preflight import no_new_database_left_on_failure

app = typer.Typer(
    help="Run an organisation's AI coding agents across its GitHub repositories, on the record.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Data is printed as `Text` (see common/text.py), never as markup; no `:emoji:` codes either.
console = Console(emoji=False)
err = Console(stderr=True, emoji=False)


class State:
    config: str | None = None
    db: str | None = None
    verbose: bool = False


state = State()


@app.callback()
def main(
    config: Annotated[
        str | None, typer.Option("--config", envvar="ORCHESTRATOR_CONFIG", help="configuration file")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="DuckDB file (overrides database.path)")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="show Prefect's run logs")] = False,
) -> None:
    """Issue Orchestrator: snapshot GitHub into DuckDB, plan, dispatch, forecast."""
    if not verbose:  # urllib3 announces every retry; the command's one-line error says what matters
        logging.getLogger("urllib3").setLevel(logging.ERROR)
    state.config, state.db, state.verbose = config, db, verbose


def fail(message: str, code: int = 1) -> None:
    """One line on stderr and exit; the message is plain text, whatever it holds."""
    try:
        line = Text.assemble(("error:", "bold red"), " ", printable(message))
        err.print(line, highlight=False, soft_wrap=True)
    except Exception:  # noqa: BLE001 - the error line itself must never become a traceback
        typer.echo(f"error: {printable(message).encode('ascii', 'replace').decode()}", err=True)
    raise typer.Exit(code)


def friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors a user can act on into one line and an exit code."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from tasks.github_client import GitHubError

        try:
            with no_new_database_left_on_failure(_database_if_known()):
                return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except ConfigError as exc:
            fail(str(exc), 2)
        except GitHubError as exc:
            fail(str(exc), 1)
        except FileNotFoundError as exc:
            fail(str(exc), 1)
        except BrokenPipeError:  # `... --csv | head`: the reader has gone; nothing more to say
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # and no second error when stdout is flushed at exit
            raise typer.Exit(0) from None
        except (ConnectionError, requests.exceptions.ConnectionError) as exc:
            reason = re.search(r"\[Errno -?\d+\] [^'\")]+|timed out|Connection aborted", str(exc))
            fail(f"cannot reach the GitHub API: {reason.group(0) if reason else exc.__class__.__name__}", 1)
        except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
            if os.environ.get("ORCHESTRATOR_DEBUG"):
                raise
            text = str(exc).splitlines()[0] if str(exc) else ""
            fail(f"{exc.__class__.__name__}: {text} (set ORCHESTRATOR_DEBUG=1 for details)", 1)

    return wrapper


def _database_if_known() -> str | None:
    """The database a command may create, when known (a bad configuration is the command's to report)."""
    try:
        return state.db or settings().database.path
    except ConfigError:
        return None


def settings() -> Settings:
    loaded = load_settings(state.config)
    if state.db:
        loaded.database.path = state.db
    return loaded


def db_path() -> str:
    """The database to read: --db, else the configured one, else the default."""
    if state.db:
        return state.db
    try:
        return settings().database.path
    except ConfigError:
        if state.config or Path("orchestrator.toml").exists():
            raise
        return "orchestrator.duckdb"


def print_frame(frame: Any, title: str | None = None) -> None:
    """A pandas frame as a table that fits the terminal (see `fitted_table`)."""
    print_table(frame, title=title)


def print_json(data: Any) -> None:
    """JSON for scripts: plain, on stdout, no colour."""
    import json
    import sys

    sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")


# ── tables that fit the terminal ──────────────────────────────────────────────


@dataclass(frozen=True)
class Col:
    """One column of a printed table and how it gives way when the terminal is narrow.

    `wide` columns (titles, reasons, URLs) wrap to at most two lines, then end in "…"; the others
    are never wrapped and never narrower than their header. `drop` > 0 marks a column that may go
    when even the narrowest layout does not fit: the highest `drop` goes first.
    """

    key: str
    header: str | None = None
    wide: bool = False
    drop: int = 0
    justify: str = "left"
    least: int = 0  # a wide column's narrowest (default WIDE_MIN)

    @property
    def title(self) -> str:
        return self.key if self.header is None else self.header


WIDE_AFTER = 24  # an unspecified column whose longest cell is longer than this wraps
WIDE_MIN = 12  # the narrowest a wrapping column gets (or its header, if longer)


def in_org(repo: Any, org: str, target: Any = None) -> str:
    """`repo` without its owner when it is the configured organisation (say the org in the title),
    with `#N` for a number target or `:name` for another (a branch)."""
    owner, _, name = str(repo).partition("/")
    short = name if name and owner.lower() == org.lower() else str(repo)
    if is_empty(target) or target == "":
        return short
    return f"{short}#{target}" if str(target).isdigit() else f"{short}:{target}"


def is_empty(value: Any) -> bool:
    """None, NaN, NaT and pandas' NA: printed as an empty cell (null in JSON)."""
    if value is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value)) if not isinstance(value, list | tuple | dict | set) else False
    except (TypeError, ValueError):
        return False


def cell(value: Any) -> Text:
    """A table cell: data as printable Text, empty for a missing value; a `Text` keeps its style."""
    if isinstance(value, Text):
        return Text(printable(value.plain), style=value.style)
    return data_text("" if is_empty(value) else value)


def table_rows(data: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """(column names, rows as dicts) from a pandas frame or a list of dicts."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        return [str(c) for c in data.columns], data.to_dict("records")
    rows = list(data)
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return list(names), rows


def _widest(texts: list[Text]) -> int:
    return max((max(map(len, t.plain.split("\n")), default=0) for t in texts), default=0)


def _layout(cols: list[Col], cells: dict[str, list[Text]], width: int) -> dict[str, int] | None:
    """Each kept column's width, or None when even every droppable column gone is too wide.

    Droppable columns go (highest `drop` first) while the table is too wide, or while a wide
    column would still have to cut its text short (more than two lines).
    """
    natural = {c.key: max(len(c.title), _widest(cells[c.key])) for c in cols}
    kept = list(cols)
    while True:
        widths = _widths(kept, natural, width)
        cut = widths is not None and any(c.wide and natural[c.key] > 2 * widths[c.key] for c in kept)
        droppable = [c for c in kept if c.drop]
        if (widths is not None and not cut) or not droppable:
            return widths
        kept.remove(max(droppable, key=lambda c: c.drop))


def _widths(kept: list[Col], natural: dict[str, int], width: int) -> dict[str, int] | None:
    """Unwrapped columns at their widest, wrapping ones sharing the rest; None if it does not fit."""
    widths = {
        c.key: max(len(c.title), min(natural[c.key], c.least or WIDE_MIN)) if c.wide else natural[c.key] for c in kept
    }
    spare = width - 3 * len(kept) - 1 - sum(widths.values())
    if spare < 0:
        return None
    growing = [c.key for c in kept if c.wide]
    while spare > 0 and any(widths[k] < natural[k] for k in growing):
        key = max(growing, key=lambda k: natural[k] - widths[k])
        widths[key] += 1
        spare -= 1
    return widths


def _two_lines(text: Text, width: int) -> Text:
    """A wide cell wrapped to `width`, at most two lines, the second ending in "…" when cut."""
    import textwrap

    lines = textwrap.wrap(" ".join(text.plain.split()), width, break_on_hyphens=False) or [""]
    if len(lines) > 2:
        lines = [lines[0], lines[1][: width - 1].rstrip() + "…"]
    return Text("\n".join(lines), style=text.style)


def fitted_table(data: Any, columns: list[Col] | None = None, title: str | None = None, width: int | None = None):
    """A Rich table of a frame or rows whose headers stay whole at the console's width.

    Columns are laid out as `Col` says (by default every column, wide when its cells are long);
    when even the narrowest layout is too wide, the lowest-priority columns go, and when that
    is not enough either, each row is printed as a record (one `header  value` line per column).
    """
    names, rows = table_rows(data)
    if columns is None:
        columns = [_inferred(n, [r.get(n) for r in rows]) for n in names]
    cells = {c.key: [cell(r.get(c.key)) for r in rows] for c in columns}
    width = width or console.width
    widths = _layout(columns, cells, width)
    if widths is None:
        return _records(columns, cells, len(rows), title)
    table = Table(title=data_text(title) if title else None)
    kept = [c for c in columns if c.key in widths]
    for c in kept:
        table.add_column(data_text(c.title), justify=c.justify, width=widths[c.key], min_width=len(c.title),
                         no_wrap=not c.wide, overflow="ellipsis")  # fmt: skip
    for i in range(len(rows)):
        table.add_row(*(_two_lines(cells[c.key][i], widths[c.key]) if c.wide else cells[c.key][i] for c in kept))
    return table


def _inferred(name: str, values: list[Any]) -> Col:
    """A column nobody described: numbers to the right, long text wrapping."""
    import numbers

    present = [v for v in values if not is_empty(v)]
    numeric = bool(present) and all(isinstance(v, numbers.Number) and not isinstance(v, bool) for v in present)
    return Col(name, wide=_widest([cell(v) for v in values]) > WIDE_AFTER, justify="right" if numeric else "left")


def _records(columns: list[Col], cells: dict[str, list[Text]], count: int, title: str | None):
    """Rows too wide for the terminal, one record each: `header  value` lines, a blank line between."""
    from rich.console import Group

    parts: list[Any] = [data_text(title, "bold")] if title else []
    for i in range(count):
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        for c in columns:
            grid.add_row(data_text(c.title), cells[c.key][i])
        parts += [grid, Text("")]
    return Group(*parts)


def print_table(data: Any, columns: list[Col] | None = None, title: str | None = None, out: Console | None = None):
    """`fitted_table` on the console (or `out`), at its width."""
    out = out or console
    out.print(fitted_table(data, columns, title, width=out.width))


def print_rows(data: Any, as_json: bool, as_csv: bool, columns: list[Col] | None = None, title: str | None = None):
    """A table's rows as JSON (missing values null), CSV (missing values empty) or a fitted table."""
    if as_json:
        print_json([{k: None if is_empty(v) else v for k, v in row.items()} for row in table_rows(data)[1]])
    elif as_csv:
        print_csv(data)
    else:
        print_table(data, columns, title)


def print_csv(data: Any, names: list[str] | None = None) -> None:
    """CSV on stdout: a header line (`names` when there may be no rows), missing values empty,
    control characters and escapes dropped."""
    import csv
    import sys

    found, rows = table_rows(data)
    names = found or names or []
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([printable(n) for n in names])
    for row in rows:
        writer.writerow(["" if is_empty(row.get(n)) else printable(row.get(n)) for n in names])
