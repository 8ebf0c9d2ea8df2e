"""Analytics views: one SQL file per view, layered like dbt models (staging -> core -> marts).

Each `analytics/<layer>/<name>.sql` holds one SELECT; the view is named after the file.
`view_definitions()` returns them in dependency order (layer by layer, then by the view
names each file mentions) and `create_views(con)` applies them, safe to run again.

Settings the views need (agent label, thresholds) come from the `run_settings` table; the
`stg_settings` view falls back to `SETTINGS_DEFAULTS` for keys the table lacks. The defaults
are rendered into `stg_settings.sql` where it says `{{ default:<key> }}`, so the literals live
here only. Pure: no network, no Prefect, no other project package.
"""

from __future__ import annotations

import re
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

from common.stuck import sql_values as stuck_reason_values

VIEW_DIRS = ("staging", "core", "marts")
SQL_ROOT = Path(__file__).parent

SETTINGS_DEFAULTS: dict[str, str] = {
    "agent_label": "jules",  # the label that dispatches an issue to the agent
    "agent_assignee": "",  # the agent's account, when dispatch is by assignee (Copilot coding agent)
    "stale_pr_days": "3",  # an open PR idle this many days is stale
    "abandoned_after_days": "14",  # a dispatch with no PR this many days later is abandoned (`outcomes`)
    "escalate_after_nudges": "2",  # nudges without effect before a stuck PR goes to a person
    "epic_branch_max_behind": "20",  # commits an epic branch may lag the default branch before a sync
    "direct_dispatch_below": "3",  # fewer implementation issues than this in a repo: dispatch directly, no epic
    "themed_epics_from": "10",  # this many or more: themed epics instead of one epic per repo
    "epic_min_children": "3",  # a theme smaller than this merges into the catch-all epic
    "epic_max_children": "10",  # a theme larger than this is split into several epics
    "tier1_min_open": "20",  # repo tiers (runbook "Priority Order"): open issues for tier 1
    "tier2_min_open": "10",  # ... for tier 2 (audit repos)
    "tier3_min_open": "10",  # ... for tier 3 (feature repos without audits)
    # Trust (README "Trust model"): comma-separated; logins lower-cased, associations upper-cased.
    "token_login": "",  # the orchestrator's own login: only its issues and comments carry markers
    "trusted_logins": "",  # the team and github.trusted_authors
    "trusted_associations": "OWNER,MEMBER,COLLABORATOR",  # author_association values that are trusted
    "timezone": "UTC",  # the team's day boundary: usage (`daily_usage`) is counted per calendar day there
}

# Code tables kept in Python (one home) and rendered into the SQL where it says `{{ values:<name> }}`.
VALUE_TABLES = {"stuck_reasons": stuck_reason_values}

_DEFAULT = re.compile(r"\{\{\s*default:(\w+)\s*\}\}")
_VALUES = re.compile(r"\{\{\s*values:(\w+)\s*\}\}")
_COMMENT = re.compile(r"--[^\n]*")


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def render(sql: str, defaults: dict[str, str] | None = None) -> str:
    """Replace `{{ default:key }}` with the quoted default of that setting, and `{{ values:name }}`
    with that code table (`VALUE_TABLES`) as a SQL `values` list."""
    values = SETTINGS_DEFAULTS if defaults is None else defaults

    def substitute(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"stg_settings refers to unknown setting {key!r}; add it to SETTINGS_DEFAULTS")
        return _sql_literal(values[key])

    return _VALUES.sub(lambda match: VALUE_TABLES[match.group(1)](), _DEFAULT.sub(substitute, sql))


def _layer_order(sources: dict[str, str]) -> list[str]:
    """Views of one layer, each after the views of that layer it mentions (ties by name)."""
    names = sorted(sources)
    graph: dict[str, set[str]] = {}
    for name in names:
        code = _COMMENT.sub("", sources[name])
        graph[name] = {other for other in names if other != name and re.search(rf"\b{other}\b", code)}
    sorter = TopologicalSorter(graph)
    sorter.prepare()
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return order


def view_definitions(root: Path | None = None) -> list[tuple[str, str]]:
    """(name, select) for every SQL file, in dependency order: staging, core, marts."""
    root = SQL_ROOT if root is None else root
    definitions: list[tuple[str, str]] = []
    for layer in VIEW_DIRS:
        sources = {path.stem: render(path.read_text()) for path in sorted((root / layer).glob("*.sql"))}
        definitions.extend((name, sources[name].strip().rstrip(";")) for name in _layer_order(sources))
    return definitions


def create_views(con: Any) -> list[str]:
    """`CREATE OR REPLACE VIEW` every analytics view (safe to re-run); returns their names."""
    names = []
    for name, sql in view_definitions():
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
        names.append(name)
    return names
