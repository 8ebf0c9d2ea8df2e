"""Execute flow: load the plan, then for each action in order re-check it on live GitHub, do it, record it.

Each action's `action_log` row is written `pending` (in its own committed transaction, under the
database's file lock) before GitHub is touched, and `done` / `skipped` / `failed` after. A run
killed at any point resumes from the ledger: final rows are never redone, and a pending row is
finished by the action's idempotent steps, which find what was already written.

The lock (and its read-write DuckDB connection) is held only to read and write ledger rows, never
during a request to GitHub: live checks run first, then the lock is taken to re-read the ledger
(another run may have taken the step meanwhile), reserve and write `pending`; the action is done
after it is released. The run stops early when GitHub is unreachable or the deadline has passed
(`tasks.execute_guards`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from common.config import Settings, load_settings
from tasks import agents, ledger, store
from tasks.execute_guards import StopRules, is_network_failure, nudge_cooldown_in_ledger, nudge_cooldown_on_github
from tasks.github_client import GitHubError, own_login, worth_retrying
from tasks.github_write import (
    PERFORM,
    ActionFailed,
    Live,
    PreconditionFailed,
    allowed_repo,
    check,
    claim_key,
    is_transient,
    make_writer,
)
from tasks.github_write import _marker_key as marker_key
from tasks.write_limits import Deferred, WriteGate

REFUSED = "repository not in configuration"
TRANSIENT = "GitHub unavailable: "  # failed rows with this reason are tried again by the next run


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


# ── tasks ─────────────────────────────────────────────────────────────────────


@task(name="load-plan", cache_policy=NO_CACHE)
def load_plan(settings: Settings, plan_id: str | None) -> tuple[str, list[dict[str, Any]]]:
    """The plan's actions in order (the latest plan when no id is given)."""
    with store.writer(settings.database.path) as con:  # also creates the ledger on an old file
        if plan_id is None:
            row = con.execute(
                "SELECT plan_id FROM dispatch_plans ORDER BY created_at DESC, plan_id DESC LIMIT 1"
            ).fetchone()
            if row is None:
                raise ledger.NoPlan("no plan to execute (run `orchestrator plan` first)")
            plan_id = row[0]
        elif not con.execute("SELECT 1 FROM dispatch_plans WHERE plan_id = ?", [plan_id]).fetchone():
            raise ledger.NoPlan(f'no plan {plan_id!r} (see `orchestrator sql "SELECT plan_id FROM dispatch_plans"`)')
        frame = con.execute("SELECT * FROM plan_actions WHERE plan_id = ? ORDER BY seq", [plan_id]).fetchdf()
    actions = [_action(row) for row in frame.to_dict("records")]
    return str(plan_id), actions


def _action(row: dict[str, Any]) -> dict[str, Any]:
    """A plan_actions row with its JSON decoded and NULLs as None."""
    out = {k: (None if _missing(v) else v) for k, v in row.items()}
    out["payload"] = _json(out.get("payload"), {})
    out["precondition"] = _json(out.get("precondition"), [])
    out["seq"], out["cost"] = int(out["seq"]), int(out.get("cost") or 0)
    out["target"] = None if out.get("target") is None else str(out["target"])
    return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _json(value: Any, default: Any) -> Any:
    if value is None:
        return default
    return json.loads(value) if isinstance(value, str) else value


# persist_result=False: the returned client holds the token, which must never reach result storage.
@task(
    name="who-am-i",
    retries=2,
    retry_delay_seconds=[2, 5],
    retry_condition_fn=worth_retrying,  # a refused token is reported at once
    cache_policy=NO_CACHE,
    persist_result=False,
)
def connect_github(settings: Settings) -> Live:
    """A write-safe client and the token's login (a read: safe to retry)."""
    # markers: ours only; an App's login (`slug[bot]`) comes from GET /app, a token's from GET /user
    app_login = own_login(settings) if settings.github.uses_app else ""
    live = Live(make_writer(settings), settings.github.login or app_login)
    login = live.me()
    if _gate(live) is not None:
        _gate(live).login = login
    with ledger.locked(settings.database.path) as con:
        store.save_settings(con, {"token_login": login})  # labels we add are never counted as a person's
    return live


@task(name="execute-action", cache_policy=NO_CACHE, persist_result=False)
def execute_action(settings: Settings, live: Live, action: dict[str, Any]) -> dict[str, Any]:
    """One action: skip if final, refuse if not configured, check live, claim, perform, record.

    The ledger's lock (a file lock and a read-write DuckDB connection) is held only to read and
    write rows, never while GitHub is asked anything, so readers (`orchestrator sql`) never wait
    on the network. The outcome's `unreachable` says whether GitHub could not be reached; a step
    GitHub's write limits hold back ends `deferred` (no final row: the next run does it).
    """
    gate = _gate(live)
    if gate is not None:
        gate.start_action(action["plan_id"], action["seq"])
    action = {**action, "actor": live.me()}  # the ledger's `actor`: who acted (an App's bot, or the token's user)
    try:
        return _run_action(settings, live, action)
    except Deferred as exc:
        out = _outcome(action, "deferred", str(exc), None, None, changed=True)
        return out | {"deferred_until": exc.until.isoformat(timespec="seconds"), "deferred_why": exc.why}


def _gate(live: Live) -> WriteGate | None:
    """The execute client's write-limit gate (None for a plain client)."""
    return getattr(live.client, "gate", None)


def _run_action(settings: Settings, live: Live, action: dict[str, Any]) -> dict[str, Any]:
    """`execute_action`'s steps; raises `Deferred` when GitHub's write limits say "not now"."""
    db = settings.database.path
    with ledger.locked(db) as con:
        row = ledger.logged(con, action["plan_id"]).get(action["seq"])
        refused = None if row is not None else _ledger_refusal(con, settings, action, None)
        if refused is not None:
            return _save(con, action, "skipped", refused)
    if row is not None and row["status"] in ledger.FINAL and not _retry_failed(row):
        return _outcome(action, row["status"], row.get("reason"), row.get("github_url"), row, changed=False)
    if not allowed_repo(settings, action["repo"]):
        return _record(db, action, "failed", REFUSED)
    if action["action"] not in PERFORM:
        return _record(db, action, "failed", f"unknown action {action['action']!r}")
    resuming = row is not None and row["status"] == "pending"
    member = row.get("member") if resuming else None
    if not resuming:
        checked_at = utcnow()
        verdict = _live_verdict(settings, live, action)  # on the network: no lock, no connection
        claimed = _claim(settings, action, verdict, checked_at)
        if claimed is not None:
            return claimed
        with ledger.locked(db) as con:
            member = ledger.logged(con, action["plan_id"])[action["seq"]].get("member")
    return _perform(settings, live, action, member, fresh=not resuming)


def _perform(
    settings: Settings, live: Live, action: dict[str, Any], member: str | None, fresh: bool = True
) -> dict[str, Any]:
    """Do the claimed action on GitHub and record how it ended. Held back by a write limit before
    any of its writes landed, a fresh step loses its pending row (the next run checks it again);
    otherwise the row stays pending and the next run finishes it."""
    db = settings.database.path
    try:
        result = PERFORM[action["action"]](live, action, settings)
    except Deferred:
        gate = _gate(live)
        if fresh and (gate is None or gate.landed == 0):
            with ledger.locked(db) as con:
                ledger.forget_pending(con, action["plan_id"], action["seq"])
        raise
    except PreconditionFailed as exc:
        return _record(db, action, "skipped", str(exc))
    except Exception as exc:  # noqa: BLE001 - every failure ends the row, unless its outcome is unknown
        unreachable = is_network_failure(exc)
        if action["action"] == "dispatch":
            landed = _dispatched(live, action, settings)
            if landed is None:  # cannot tell whether the label went on: stay pending (spent) for the next run
                reason = f"outcome unknown, the next run finishes it: {_reason(exc)}"
                out = _outcome(action, "pending", reason, None, None, changed=True, member=member)
                return out | {"unreachable": unreachable}
            if landed:
                return _record(db, action, "done", f"dispatched; the comment failed: {_reason(exc)}", member=member)
        return _record(db, action, "failed", _reason(exc)) | {"unreachable": unreachable}
    url, note = result if isinstance(result, tuple) else (result, None)
    return _record(db, action, "done", note, url, member=member)


def _live_verdict(settings: Settings, live: Live, action: dict[str, Any]) -> tuple[str, str, bool] | None:
    """The action's preconditions (and a nudge's cooldown) on live GitHub: None when it may go
    ahead, else (status, reason, GitHub unreachable)."""
    try:
        for condition in action["precondition"]:
            failed = check(live, action["repo"], condition, settings)
            if failed is not None:
                return "skipped", failed, False
        recent = nudge_cooldown_on_github(live, settings, action, _own_marker_key(action))
        if recent is not None:
            return "skipped", recent, False
    except Deferred:
        raise  # a rate limit is not the action's failure: it waits for the next run
    except Exception as exc:  # noqa: BLE001
        return "failed", _reason(exc), is_network_failure(exc)
    return None


def _claim(
    settings: Settings, action: dict[str, Any], verdict: tuple[str, str, bool] | None, checked_at: datetime
) -> dict[str, Any] | None:
    """Under the file lock, briefly: re-read the ledger (another run may have taken or done this
    step while we checked GitHub), then record the live verdict, or write the pending row
    (reserving a task for a dispatch). Returns the final outcome when the action will not run."""
    with ledger.locked(settings.database.path) as con:
        own = ledger.logged(con, action["plan_id"]).get(action["seq"])
        if own is not None and not _retry_failed(own):  # another run of this plan got here first
            reason = own.get("reason") or f"another execute of this plan took step {action['seq']}"
            return _outcome(action, own["status"], reason, own.get("github_url"), own, changed=False)
        refused = _ledger_refusal(con, settings, action, checked_at)
        if refused is not None:
            return _save(con, action, "skipped", refused)
        if verdict is not None:
            status, reason, unreachable = verdict
            return _save(con, action, status, reason) | {"unreachable": unreachable}
        if action["cost"] > 0:
            refused = ledger.reserve(con, settings, action, utcnow())
            if refused is not None:
                return _save(con, action, "skipped", refused)
        else:
            ledger.save_row(con, action, "pending", utcnow())
    return None


def _ledger_refusal(con: Any, settings: Settings, action: dict[str, Any], checked_at: datetime | None) -> str | None:
    """Why the ledger forbids the action now: another execute is doing the same thing (or, since
    `checked_at`, has done it), or the PR was nudged within the cooldown."""
    mine = claim_key(action)
    for other in ledger.pending_elsewhere(con, action, done_since=checked_at):
        other_action = {**other, "payload": _json(other.get("payload"), {}), "plan_id": other["plan_id"]}
        if claim_key(other_action) == mine:
            doing = "is doing this" if other["status"] == "pending" else "did this meanwhile"
            return f"another execute {doing} (plan {other['plan_id']} step {other['seq']})"
    return nudge_cooldown_in_ledger(con, settings, action, utcnow())


def _own_marker_key(action: dict[str, Any]) -> str:
    """The key of this step's own nudge marker (its comment is ours to finish, not a cooldown)."""
    try:
        return marker_key(action)
    except (KeyError, TypeError, ValueError):
        return ""


def _dispatched(live: Live, action: dict[str, Any], settings: Settings) -> bool | None:
    """Whether a failed dispatch got as far as handing the issue to its agent back-end (label,
    assignee, ...: then the task is spent); None when GitHub cannot say."""
    agent = agents.agent_for(action["payload"], settings)
    return agents.dispatched(live, agent, action["repo"], action["target"])


def _retry_failed(row: dict[str, Any]) -> bool:
    return row["status"] == "failed" and str(row.get("reason") or "").startswith(TRANSIENT)


def _reason(exc: BaseException) -> str:
    """One line, token-free (our errors never carry it); transient ones are marked for a retry."""
    text = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    if not isinstance(exc, GitHubError | ActionFailed):
        text = f"{exc.__class__.__name__}: {text}"
    return (TRANSIENT + text if is_transient(exc) else text)[:500]


def _save(con: Any, action: dict[str, Any], status: str, reason: str | None) -> dict[str, Any]:
    ledger.save_row(con, action, status, utcnow(), reason=reason)
    return _outcome(action, status, reason, None, None, changed=True)


def _record(
    db: str, action: dict[str, Any], status: str, reason: str | None, url: str | None = None, member: str | None = None
) -> dict[str, Any]:
    with ledger.locked(db) as con:
        ledger.save_row(con, action, status, utcnow(), reason=reason, github_url=url, member=member)
    return _outcome(action, status, reason, url, None, changed=True, member=member)


def _outcome(
    action: dict[str, Any], status: str, reason: Any, url: Any, row: dict[str, Any] | None,
    changed: bool, member: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    spent = int(row["cost"]) if row is not None else (action["cost"] if status == "done" else 0)
    return {
        "seq": action["seq"], "action": action["action"], "repo": action["repo"], "target": action.get("target"),
        "status": status, "reason": None if _missing(reason) else reason, "github_url": None if _missing(url) else url,
        "cost": spent, "member": member or action.get("member"), "this_run": changed,
    }  # fmt: skip


@task(name="preview-action", cache_policy=NO_CACHE)
def preview(settings: Settings, actions: list[dict[str, Any]], plan_id: str) -> list[dict[str, Any]]:
    """What --apply would do, from the plan and the ledger alone: no request to GitHub at all."""
    try:
        with store.reader(settings.database.path) as con:
            done = ledger.logged(con, plan_id)
    except FileNotFoundError:
        done = {}
    rows = []
    for action in actions:
        row = done.get(action["seq"])
        if not allowed_repo(settings, action["repo"]):
            status, reason = "refuse", REFUSED
        elif row is not None and row["status"] in ledger.FINAL and not _retry_failed(row):
            status, reason = f"already {row['status']}", row.get("reason")
        elif row is not None:
            status, reason = "resume", "a pending step of an interrupted run"
        else:
            status, reason = "would run", action.get("reason")
        rows.append(_outcome(action, status, reason, None, None, changed=False) | {"cost": action["cost"]})
    return rows


# ── the flow ──────────────────────────────────────────────────────────────────


@flow(name="execute", log_prints=True)
def execute_flow(
    config_path: str | None = None,
    plan_id: str | None = None,
    apply: bool = False,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Apply a plan to GitHub (or, without apply, show what it would do)."""
    settings = settings or load_settings(config_path)
    logger = get_run_logger()
    plan_id, actions = load_plan(settings, plan_id)
    stopped, gate = None, None
    if not apply:
        outcomes = preview(settings, actions, plan_id)
    else:
        live = connect_github(settings)
        gate = _gate(live)
        outcomes, stopped = apply_actions(settings, live, actions)
    summary = summarise(plan_id, apply, outcomes)
    left = len(actions) - sum(1 for r in outcomes if r["status"] in ledger.FINAL and not _retry_failed(r))
    if stopped is not None:
        summary["stopped"] = f"execute stopped: {stopped}; {left} actions left for the next run"
        logger.warning(summary["stopped"])
    if apply:
        summary.update(_deferral(outcomes, left))
        summary["write_limits"] = gate.stats() if gate is not None else None
        if summary.get("deferred"):
            logger.warning(summary["deferred"]["message"])
    _artifact(summary)
    logger.info("execute %s: %s", plan_id, summary["by_status"])
    return summary


def apply_actions(
    settings: Settings, live: Live, actions: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], str | None]:
    """Each action in order, until the stop rules say no (GitHub unreachable, or the deadline):
    the actions not reached are left untouched, for the next run. Returns (outcomes, why stopped)."""
    rules = StopRules(settings)
    outcomes: list[dict[str, Any]] = []
    for action in actions:
        stopped = rules.reason()
        if live.client.counter.unauthorized:  # a revoked or expired token: no later action can succeed
            stopped = "GitHub refused the credentials (401)"
        if stopped is not None:
            return outcomes, stopped
        step = execute_action.with_options(
            task_run_name=f"{action['seq']} {action['action']} {action['repo']}#{action.get('target')}"
        )
        answered = live.client.counter.requests  # counts answers only: a refused connection adds none
        outcome = step(settings, live, action)
        rules.observe(bool(outcome.pop("unreachable", False)), live.client.counter.requests > answered)
        outcomes.append(outcome)
        if outcome["status"] == "deferred":  # GitHub's write limits: this one and the rest wait
            return outcomes, None
    if live.client.counter.unauthorized:
        return outcomes, "GitHub refused the credentials (401)"
    return outcomes, rules.reason() if rules.in_a_row >= rules.limit else None


def _deferral(outcomes: list[dict[str, Any]], left: int) -> dict[str, Any]:
    """The summary's `deferred` (GitHub's write limits held the rest back) and `write_limits` figures."""
    out: dict[str, Any] = {}
    deferred = next((r for r in outcomes if r["status"] == "deferred"), None)
    if deferred is not None:
        until = datetime.fromisoformat(deferred.pop("deferred_until"))
        why = deferred.pop("deferred_why")
        message = (f"deferred {left} actions until {until:%H:%M} (GitHub's clock, UTC, {until:%Y-%m-%d}): {why}; "
                   "the next `execute --apply` carries on")  # fmt: skip
        out["deferred"] = {"actions": left, "until": until.isoformat() + "Z", "reason": why, "message": message}
    return out


def summarise(plan_id: str, applied: bool, outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts by status and by action type, and the tasks this plan has spent."""
    by_status: dict[str, int] = {}
    by_action: dict[str, dict[str, int]] = {}
    for row in outcomes:
        by_status[row["status"]] = by_status.get(row["status"], 0) + 1
        counts = by_action.setdefault(row["action"], {})
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    spent = sum(r["cost"] for r in outcomes if r["status"] == "done") if applied else 0
    return {
        "plan_id": plan_id,
        "applied": applied,
        "actions": len(outcomes),
        "by_status": by_status,
        "by_action": by_action,
        "tasks_spent": spent,
        "outcomes": outcomes,
    }


def _artifact(summary: dict[str, Any]) -> None:
    """A table artifact of the outcomes, for the Prefect UI."""
    columns = ("seq", "action", "repo", "target", "status", "reason", "github_url", "cost")
    table = [{c: ("" if r.get(c) is None else r[c]) for c in columns} for r in summary["outcomes"]]
    kind = "applied" if summary["applied"] else "dry run"
    create_table_artifact(
        key="execute-outcomes", table=table, description=f"Plan {summary['plan_id']} ({kind}): {summary['by_status']}"
    )


def execute(settings: Settings, plan_id: str | None = None, apply: bool = False) -> dict[str, Any]:
    """Run the execute flow."""
    return execute_flow(settings=settings, plan_id=plan_id, apply=apply)
