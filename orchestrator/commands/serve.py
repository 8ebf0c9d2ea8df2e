"""`orchestrator serve`: every schedule in one long-running process."""

from __future__ import annotations

from typing import Annotated

import typer

from common.text import data_text
from orchestrator.cli_common import app, console, friendly, state


@app.command()
@friendly
def serve(
    port: Annotated[
        int | None,
        typer.Option(help="port of the local Prefect server (default 4200, or a free one; 0 = any free port)"),
    ] = None,
    host: Annotated[str, typer.Option(help="address of the local Prefect server")] = "127.0.0.1",
    startup_timeout: Annotated[float, typer.Option(help="seconds to wait for the local Prefect server")] = 180.0,
) -> None:
    """Run the snapshot, morning, midday and evening schedules until stopped (Ctrl-C).

    Without PREFECT_API_URL a local Prefect server (SQLite) is started and stopped with it.
    Times come from the optional `schedule` section of the configuration.

    Example: orchestrator --config orchestrator.toml serve --port 4200
    """
    from deployments.serve import ServerStartError, serve_all

    try:
        serve_all(
            config_path=state.config,
            db=state.db,
            host=host,
            port=port,
            startup_timeout=startup_timeout,
            say=lambda text: console.print(data_text(text), soft_wrap=True),  # may quote the server's output
        )
    except ServerStartError as exc:
        from orchestrator.cli_common import fail

        fail(str(exc), 1)
