"""When each deployment runs: the optional `[schedule]` table of `orchestrator.toml`.

```toml
[schedule]
timezone = "Europe/London"        # cron times are wall-clock times in this zone
snapshot = "*/30 * * * *"         # a cron string ...
morning  = "0 8 * * *"
midday   = "0 13 * * *"
evening  = "0 18 * * *"

[schedule.snapshot]               # ... or a table: an interval in seconds, or switched off
interval = 900
# enabled = false
```

Each entry is a cron string, or a table with `cron` or `interval` (seconds) and `enabled`.
`prefect.yaml` holds the same defaults for `prefect deploy --all` (a test keeps them equal).
The models live in `common.config` (`Settings.schedule`); this module reads them for serve.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from common.config import DEFAULT_CRONS, DEPLOYMENTS, Cadence, ScheduleSettings  # noqa: F401 - re-exported


def parse_schedule(data: dict[str, Any] | None, source: str = "orchestrator.toml") -> ScheduleSettings:
    """Validate a `[schedule]` table; a bad key is a one-line ConfigError naming it."""
    from common.config import ConfigError

    try:
        return ScheduleSettings.model_validate(data or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(["schedule", *(str(part) for part in first["loc"])])
        problem = "unknown key" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{source}: {key}: {problem}") from None


def read_config_table(path: str | os.PathLike[str] | None) -> tuple[Path, dict[str, Any]]:
    """The configuration file's path (as load_settings resolves it) and its parsed TOML."""
    from common.config import DEFAULT_CONFIG, ConfigError

    resolved = Path(path or os.environ.get("ORCHESTRATOR_CONFIG") or DEFAULT_CONFIG)
    try:
        return resolved, tomllib.loads(resolved.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{resolved}: configuration file not found (copy orchestrator.example.toml)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{resolved}: not valid TOML: {exc}") from None


def load_schedule(path: str | os.PathLike[str] | None = None, settings: Any = None) -> ScheduleSettings:
    """The `[schedule]` of the given settings, or of the configuration file."""
    from common.config import load_settings

    return (settings or load_settings(path)).schedule
