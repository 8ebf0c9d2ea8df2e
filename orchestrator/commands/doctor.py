"""`orchestrator doctor`: one table of checks (credentials, limits, repositories, permissions, labels,
database, Prefect, schedule) with the fix for each failing one; exit 1 when something blocks a run."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from common.text import data_text
from orchestrator.cli_common import Col, app, console, friendly, print_json, print_table, settings


@app.command()
@friendly
def doctor(as_json: Annotated[bool, typer.Option("--json", help="print the checks as JSON")] = False) -> None:
    """Check everything a run needs, read-only (no write to GitHub, the database not upgraded).

    Example: orchestrator --config orchestrator.toml doctor
    """
    from prefect.settings import PREFECT_API_URL

    from orchestrator.cli_common import state
    from orchestrator.sandbox_link import SandboxNotRunning, connect_sandbox
    from tasks.doctor import Check, run_checks

    configured = settings()
    try:
        connect_sandbox(configured, state.config)  # the demo's configuration: its sandbox's token
        checks = run_checks(configured, PREFECT_API_URL.value())
    except SandboxNotRunning as exc:
        checks = [Check("credentials", False, "nothing answers at github.api_url", str(exc))]
    ok = all(check.ok for check in checks)
    if as_json:
        print_json({"ok": ok, "checks": [check.as_dict() for check in checks]})
    else:
        rows = [{"": Text("✓", "green") if c.ok else Text("✗", "bold red"), "check": c.check, "result": c.detail,
                 "fix": c.fix} for c in checks]  # fmt: skip
        columns = [Col(""), Col("check"), Col("result", wide=True), Col("fix", wide=True)]
        print_table(rows, columns, title=f"doctor: {configured.github.org}")
        console.print(data_text("nothing blocks a run" if ok else "to fix (in full):"))
        for c in (c for c in checks if not c.ok and c.fix):
            console.print(data_text(f"✗ {c.check}: {c.fix}"), soft_wrap=True)
    raise typer.Exit(0 if ok else 1)
