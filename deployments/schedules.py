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
Until `Settings` has a `schedule` field, `load_schedule` reads the table straight from the file.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEPLOYMENTS = ("snapshot", "morning", "midday", "evening")

DEFAULT_CRONS: dict[str, str] = {
    "snapshot": "*/30 * * * *",  # every 30 minutes
    "morning": "0 8 * * *",  # tick checklists, unstick, dispatch the current phases
    "midday": "0 13 * * *",  # conflicts and nudges, more dispatch if budget is left
    "evening": "0 18 * * *",  # the day's throughput, tomorrow's plan, ready-queue refill
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Cadence(_Section):
    """One deployment's schedule: a cron string or an interval in seconds."""

    cron: str | None = Field(None, description="cron expression, in [schedule].timezone")
    interval: float | None = Field(None, gt=0, description="seconds between runs (instead of cron)")
    enabled: bool = Field(True, description="false: the deployment is served without a schedule")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from prefect.schedules import validate_cron_string

        try:
            validate_cron_string(value)
        except (ValueError, TypeError):
            raise ValueError(f"not a valid cron expression: {value!r}") from None
        return value

    @model_validator(mode="after")
    def _one_of(self) -> Cadence:
        if self.cron and self.interval:
            raise ValueError("give either cron or interval, not both")
        return self

    def schedule_kwargs(self, default_cron: str, timezone: str) -> dict[str, Any]:
        """Keyword arguments for `flow.to_deployment(...)`."""
        if not self.enabled:
            return {}
        from prefect.schedules import Cron, Interval

        if self.interval:
            return {"schedule": Interval(self.interval, timezone=timezone)}
        return {"schedule": Cron(self.cron or default_cron, timezone=timezone)}


def _cadence(value: Any) -> Any:
    return {"cron": value} if isinstance(value, str) else value


class ScheduleSettings(_Section):
    """The `[schedule]` table: when serve (and the docs' prefect.yaml) runs each flow."""

    timezone: str = Field("UTC", description="time zone of the cron times")
    snapshot: Cadence = Field(default_factory=Cadence)
    morning: Cadence = Field(default_factory=Cadence)
    midday: Cadence = Field(default_factory=Cadence)
    evening: Cadence = Field(default_factory=Cadence)

    _as_table = field_validator("snapshot", "morning", "midday", "evening", mode="before")(
        lambda cls, value: _cadence(value)
    )

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    def for_deployment(self, name: str) -> dict[str, Any]:
        """`to_deployment` schedule keywords of one deployment (empty when disabled)."""
        cadence: Cadence = getattr(self, name)
        return cadence.schedule_kwargs(DEFAULT_CRONS[name], self.timezone)

    def describe(self, name: str) -> str:
        cadence: Cadence = getattr(self, name)
        if not cadence.enabled:
            return "no schedule (run it by hand)"
        if cadence.interval:
            return f"every {cadence.interval:g} s"
        return f"cron {cadence.cron or DEFAULT_CRONS[name]!r} ({self.timezone})"


def parse_schedule(data: dict[str, Any] | None, source: str = "orchestrator.toml") -> ScheduleSettings:
    """Validate a `[schedule]` table; a bad key is a one-line ConfigError naming it."""
    from orchestrator.config import ConfigError

    try:
        return ScheduleSettings.model_validate(data or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(["schedule", *(str(part) for part in first["loc"])])
        problem = "unknown key" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{source}: {key}: {problem}") from None


def read_config_table(path: str | os.PathLike[str] | None) -> tuple[Path, dict[str, Any]]:
    """The configuration file's path (as load_settings resolves it) and its parsed TOML."""
    from orchestrator.config import DEFAULT_CONFIG, ConfigError

    resolved = Path(path or os.environ.get("ORCHESTRATOR_CONFIG") or DEFAULT_CONFIG)
    try:
        return resolved, tomllib.loads(resolved.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{resolved}: configuration file not found (copy orchestrator.example.toml)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{resolved}: not valid TOML: {exc}") from None


def load_schedule(path: str | os.PathLike[str] | None = None, settings: Any = None) -> ScheduleSettings:
    """`settings.schedule` once Settings has it; until then the file's `[schedule]` table."""
    if settings is not None and isinstance(getattr(settings, "schedule", None), ScheduleSettings):
        return settings.schedule
    resolved, data = read_config_table(path)
    return parse_schedule(data.get("schedule"), str(resolved))


def settings_know_schedule() -> bool:
    """Whether `orchestrator.config.Settings` accepts a `[schedule]` table (the lead adds the field)."""
    from orchestrator.config import Settings

    return "schedule" in Settings.model_fields
