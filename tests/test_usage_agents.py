"""Usage with several agents (`[[agents]]`): `usage_events` recognises every configured agent's label
(through `stg_agents`), names the agent on each row (the plan's `payload.agent` for a ledger row),
so the member budget and each agent's own count include hand-added labels of every agent."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

from common.config import Settings
from tasks import ledger, store, usage

ORG = "dappcore"
NOW = datetime(2026, 3, 2, 12)


def two_agent_settings(db: Path) -> Settings:
    return Settings.model_validate(
        {
            "github": {"api_url": "http://127.0.0.1:1", "org": ORG, "repos": ["*"]},
            "database": {"path": str(db)},
            "agents": [{"name": "jules", "kind": "label", "label": "jules"},
                       {"name": "Codex", "kind": "label", "label": "codex-agent"}],
            "team": {"members": [{"login": "Snider", "quota": 9, "repos": ["*"]}]},
        }
    )  # fmt: skip


def seeded(db: Path) -> Settings:
    settings = two_agent_settings(db)
    with store.writer(db) as con:
        for seq, (target, agent) in enumerate((("5", "codex"), ("6", "jules"), ("7", None)), start=1):
            payload = json.dumps({"mode": "label", **({"agent": agent} if agent else {})})
            con.execute(
                "INSERT INTO plan_actions (plan_id, seq, action, repo, target, payload, cost, member)"
                " VALUES ('p', ?, 'dispatch', ?, ?, ?, 1, 'Snider')",
                [seq, f"{ORG}/core", target, payload],
            )
            action = {"plan_id": "p", "seq": seq, "action": "dispatch", "repo": f"{ORG}/core", "target": target}
            action["cost"] = 1
            ledger.save_row(con, action, "done", NOW - timedelta(hours=1), member="Snider")
        events = [
            (1, f"{ORG}/core-php", 9, "mira-k", "Codex-Agent", NOW - timedelta(hours=2)),  # codex by hand
            (2, f"{ORG}/core-php", 10, "mira-k", "jules", NOW - timedelta(hours=2)),  # jules by hand
            (3, f"{ORG}/core", 5, "mira-k", "codex-agent", NOW - timedelta(hours=1)),  # our dispatch #5, seen
            (4, f"{ORG}/core", 11, "mira-k", "codex", NOW - timedelta(hours=1)),  # not a configured label
        ]
        con.executemany("INSERT INTO issue_events (id, repo, number, event, actor, label, created_at)"
                        " VALUES (?, ?, ?, 'labeled', ?, ?, ?)", [list(e) for e in events])  # fmt: skip
        store.save_settings(con, {"token_login": "Snider"})
    return settings


def test_every_agents_hand_added_label_counts_and_names_its_agent(tmp_path):
    settings = seeded(tmp_path / "u.duckdb")
    with store.reader(settings.database.path) as con:
        rows = usage.daily_usage(con, settings, date(2026, 3, 2), date(2026, 3, 2))
        used = usage.used_by_member(con, settings, NOW)
    by_agent = {row["agent"]: (row["count_dispatched"], row["count_person_labels"]) for row in rows}
    # ledger: #5 codex, #6 jules, #7 names no agent (an older plan) -> the first agent, jules
    assert by_agent == {"codex": (1, 1), "jules": (2, 1)}
    assert used == {"Snider": 5}  # 3 ledger dispatches + 2 labels added by hand, one per agent


def test_a_single_agent_config_still_counts_only_its_label(tmp_path):
    settings = seeded(tmp_path / "u.duckdb")
    single = Settings.model_validate(
        {**settings.model_dump(exclude_unset=True, exclude={"agents"}), "agent": {"label": "jules"}}
    )
    with store.reader(settings.database.path) as con:
        assert usage.used_by_member(con, single, NOW) == {"Snider": 4}  # codex-agent is nobody's label now
