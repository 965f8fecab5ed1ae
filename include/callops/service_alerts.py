"""Service alerts' notifications: each episode of ``marts.fct_service_alerts`` told once when it appears and
once when it closes (issue 23, DECISIONLOG "Service alerts: notifications").

Called by the publish step (callops.pipeline.publish_marts), for the tenants the run published:

- ``service``: an episode of a tenant's **latest telephony delivery day**, when that day was loaded by
  this run (a file of it ``loaded`` or ``replaced`` in ``ops.run_files``), notified the first time a
  publish shows it. The loads a run builds are its own (``callops run``, a trigger with start/end), the
  load runs its asset events named (build_warehouse: each scheduled load and each feed of the landing
  watch records under a run id of its own; the run's load step lists them) and those whose changes its
  gate passed (a load that came in before its gate, a held-back tenant's earlier load). An older day (a
  backfill, the demo's history) notifies nothing.
- ``service_recovered``: a notified episode once the mart closes it (``interval_end_local`` set;
  ``closed_by`` recovered or midnight), or once it is gone from the mart (``closed_by`` withdrawn: a breach
  seen in a partial interval that the complete interval no longer shows); whatever its day.

What was notified is kept in ``ops.service_alert_notices`` (one row per episode and kind, with the run
and the payload), so a run, or the same day run again, never notifies twice. The notices are recorded
under the publish's writer lock and delivered after it through callops.alerts.send (the task log,
``alerts.jsonl``, CALLOPS_ALERT_WEBHOOK_URL, CALLOPS_ALERT_EMAIL) and the tenant's own webhook
(``alert_webhook_url`` in callops.yml, never written to the warehouse). A service alert never fails a
run: a delivery problem is logged, and so is a failure of this module, which the publish step's detail
names (``service_alerts_failure``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import duckdb

from callops import alerts, warehouse
from callops.config import Config, load_config

log = logging.getLogger("callops.alerts")

EPISODES = "fct_service_alerts"
STEPS = "fct_service_alert_steps"
LADDER_COLUMNS = ("step", "action", "agents", "service_level_after", "note")
EPISODE_COLUMNS = (
    "tenant_id", "queue_id", "interval_start_at", "interval_end_local", "kpi_name", "kpi_value", "threshold_value",
    "recommended_step", "breaches", "closed_by", "episode_date", "closing_interval_start_at",
)
EPISODE_SELECT = ", ".join(f"episodes.{column}" for column in EPISODE_COLUMNS)
SAME_EPISODE = (
    "{a}.tenant_id = {b}.tenant_id and {a}.queue_id = {b}.queue_id and {a}.interval_start_at = {b}.interval_start_at"
)


@dataclass(frozen=True)
class Notice:
    """One notification: the alert as sent, and the tenant's own webhook (None: the center's only)."""

    payload: dict
    webhook_url: str | None = None

    @property
    def tenant_id(self) -> str:
        return self.payload["tenant"]


# --- what to notify ------------------------------------------------------------------------------


def built_runs(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """The runs whose loads ``run_id`` built: itself, the load runs its load step names (build_warehouse
    triggered by the load DAGs' assets), and the runs whose changed partitions its gate passed."""
    found = {run_id}
    for (detail,) in con.execute(
        "select detail from ops.run_steps where run_id = ? and step = 'load'", [run_id]
    ).fetchall():
        parsed = json.loads(detail) if isinstance(detail, str) else (detail or {})
        found.update(str(load_run) for load_run in parsed.get("load_runs") or [])
    found.update(
        row[0] for row in con.execute(
            "select distinct run_id from ops.changed_partitions where validated_run_id = ?", [run_id]
        ).fetchall()
    )
    return sorted(found)


def notified_days(con: duckdb.DuckDBPyConnection, run_id: str, tenants: Sequence[str]) -> list[tuple[str, dt.date]]:
    """(tenant, day) of each of ``tenants`` whose latest telephony delivery day (a file that loaded and
    reaches the marts) was loaded by ``run_id`` or a run it built."""
    if not tenants:
        return []
    return con.execute(
        """
        with latest as (
            select tenant_id, max(delivery_date) as delivery_date
            from raw.manifest
            where feed = 'telephony' and status = 'loaded' and coalesce(gate_status, 'passed') <> 'held'
            group by 1
        )
        select distinct latest.tenant_id, latest.delivery_date
        from latest
        inner join ops.run_files as loaded
            on loaded.tenant_id = latest.tenant_id and loaded.delivery_date = latest.delivery_date
        where loaded.feed = 'telephony' and loaded.action in ('loaded', 'replaced')
            and loaded.run_id in (select unnest(?::varchar[]))
            and latest.tenant_id in (select unnest(?::varchar[]))
        order by 1
        """,
        [built_runs(con, run_id), list(tenants)],
    ).fetchall()


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The columns of the build warehouse's ``marts.<table>`` (none: not built yet)."""
    return [
        row[0] for row in con.execute(
            "select column_name from duckdb_columns() where database_name = current_database() "
            "and schema_name = 'marts' and table_name = ? order by column_index",
            [table],
        ).fetchall()
    ]


def _rows(con: duckdb.DuckDBPyConnection, sql: str, parameters: list) -> list[dict]:
    cursor = con.execute(sql, parameters)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _ladders(con: duckdb.DuckDBPyConnection, episodes: list[dict]) -> dict[tuple, list[dict]]:
    """Each episode's steps, in step order (none where the steps mart is not built)."""
    present = _columns(con, STEPS)
    if not episodes or not present:
        return {}
    listed = ", ".join(f"steps.{column}" for column in LADDER_COLUMNS if column in present)
    ladders: dict[tuple, list[dict]] = {}
    for row in _rows(
        con,
        f"""
        with wanted as (
            select unnest(?::varchar[]) as tenant_id, unnest(?::varchar[]) as queue_id,
                unnest(?::timestamp[]) as interval_start_at
        )
        select steps.tenant_id, steps.queue_id, steps.interval_start_at, {listed}
        from marts.{STEPS} as steps
        inner join wanted on {SAME_EPISODE.format(a="steps", b="wanted")}
        order by steps.tenant_id, steps.queue_id, steps.interval_start_at, steps.step
        """,
        [[e["tenant_id"] for e in episodes], [e["queue_id"] for e in episodes],
         [_naive_utc(e["interval_start_at"]) for e in episodes]],
    ):
        key = (row.pop("tenant_id"), row.pop("queue_id"), _naive_utc(row.pop("interval_start_at")))
        ladders.setdefault(key, []).append(row)
    return ladders


def _key(episode: Mapping) -> tuple:
    return episode["tenant_id"], episode["queue_id"], _naive_utc(episode["interval_start_at"])


# --- the payload ---------------------------------------------------------------------------------


def _naive_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def local_time(at_utc: dt.datetime, zone: ZoneInfo) -> str:
    """A UTC instant as the tenant's local time with its offset: ``YYYY-MM-DDTHH:MM:SS±HH:MM``."""
    return _naive_utc(at_utc).replace(tzinfo=dt.UTC).astimezone(zone).isoformat(timespec="seconds")


def _interval_end(episode: Mapping, zone: ZoneInfo) -> str | None:
    """Where the episode ended, local with its offset: the start of the interval that closed it, or local
    midnight (a local time; the offset is the zone's then)."""
    if episode.get("closing_interval_start_at") is not None:
        return local_time(episode["closing_interval_start_at"], zone)
    if episode.get("interval_end_local") is None:
        return None
    return episode["interval_end_local"].replace(tzinfo=zone).isoformat(timespec="seconds")


def _breaches(value: object) -> list[str]:
    """The breached rules: a JSON array published as text (a list where DuckDB returns one)."""
    if value is None:
        return []
    return list(json.loads(value)) if isinstance(value, str) else list(value)


def payload(
    kind: str, episode: Mapping, ladder: list[dict], zone: ZoneInfo, run_id: str, raised_at: dt.datetime
) -> dict:
    """One notification of ``episode`` (a row of marts.fct_service_alerts), keys as the issue names them."""
    alert = {
        "source": "callops",
        "kind": kind,
        "tenant": episode["tenant_id"],
        "queue": episode["queue_id"],
        "day": episode["episode_date"].isoformat() if episode.get("episode_date") else None,
        "interval_start": local_time(episode["interval_start_at"], zone),
        "interval_end": _interval_end(episode, zone) if kind == "service_recovered" else None,
        "closed_by": episode.get("closed_by") if kind == "service_recovered" else None,
        "kpi": episode["kpi_name"],
        "value": episode["kpi_value"],
        "threshold": episode["threshold_value"],
        "breaches": _breaches(episode.get("breaches")),
        "ladder": [
            {
                "step": step["step"],
                "action": step["action"],
                "agents": step["agents"],
                "service_level_after": step["service_level_after"],
            } | ({"note": step["note"]} if step.get("note") else {})
            for step in ladder
        ],
        "recommended_step": episode.get("recommended_step"),
        "callops_run_id": run_id,
        "raised_at": raised_at.isoformat(timespec="seconds"),
    }
    alert["text"] = alerts.summary(alert)
    return alert


def withdrawn(notified: Mapping, run_id: str, raised_at: dt.datetime) -> dict:
    """The recovery of a notified episode the mart no longer holds: its notice repeated, closed_by withdrawn."""
    alert = dict(notified) | {
        "kind": "service_recovered",
        "interval_end": None,
        "closed_by": "withdrawn",
        "callops_run_id": run_id,
        "raised_at": raised_at.isoformat(timespec="seconds"),
    }
    alert["text"] = alerts.summary(alert)
    return alert


# --- record, deliver -----------------------------------------------------------------------------


def record(run_id: str, tenants: Iterable[str], config: Config | None = None) -> list[Notice]:
    """The notices of ``run_id``'s publish for ``tenants`` (those it published and callops.yml names),
    recorded in ops.service_alert_notices in one transaction; the caller holds the writer lock."""
    config = config or load_config()
    configured = {tenant.id: tenant for tenant in config.tenants}
    tenants = sorted(set(tenants) & set(configured))
    if not tenants:
        return []
    zones = {tenant_id: ZoneInfo(configured[tenant_id].timezone) for tenant_id in tenants}
    raised_at = dt.datetime.now(dt.UTC)
    with warehouse.connection() as con:
        if not _columns(con, EPISODES):
            return []  # a build before the service alerts' mart
        days = notified_days(con, run_id, tenants)
        con.execute("begin transaction")
        try:
            opened = _opened(con, days)
            ladders = _ladders(con, opened)
            raised = [
                payload("service", episode, ladders.get(_key(episode), []), zones[episode["tenant_id"]], run_id,
                        raised_at)
                for episode in opened
            ]
            _insert(con, raised, [_key(episode) for episode in opened], run_id, raised_at)
            closing = _closing(con, tenants)  # those just notified included
            ladders = _ladders(con, [episode for episode in closing if episode["tenant_id"] is not None])
            recovered = [
                payload("service_recovered", episode, ladders.get(_key(episode), []), zones[episode["tenant_id"]],
                        run_id, raised_at)
                if episode["tenant_id"] is not None
                else withdrawn(json.loads(episode["notified"]), run_id, raised_at)
                for episode in closing
            ]
            notified = [
                (episode["notified_tenant_id"], episode["notified_queue_id"], episode["notified_interval_start_at"])
                for episode in closing
            ]
            _insert(con, recovered, notified, run_id, raised_at)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    return [Notice(alert, configured[alert["tenant"]].alert_webhook_url) for alert in raised + recovered]


def _opened(con: duckdb.DuckDBPyConnection, days: list[tuple[str, dt.date]]) -> list[dict]:
    """The episodes of ``days`` (tenant, day) not notified yet."""
    return _rows(
        con,
        f"""
        with days as (select unnest(?::varchar[]) as tenant_id, unnest(?::date[]) as episode_date)
        select {EPISODE_SELECT}
        from marts.{EPISODES} as episodes
        inner join days
            on episodes.tenant_id = days.tenant_id and episodes.episode_date = days.episode_date
        where not exists (
            select 1 from ops.service_alert_notices as sent
            where {SAME_EPISODE.format(a="sent", b="episodes")} and sent.kind = 'service'
        )
        order by episodes.tenant_id, episodes.interval_start_at, episodes.queue_id
        """,
        [[tenant for tenant, _ in days], [day for _, day in days]],
    )


def _closing(con: duckdb.DuckDBPyConnection, tenants: list[str]) -> list[dict]:
    """The notified episodes of ``tenants`` not told recovered yet that the mart now closes (its row) or no
    longer holds (``tenant_id`` null): each with its notice (``notified``) and key as recorded."""
    return _rows(
        con,
        f"""
        select sent.payload as notified, sent.tenant_id as notified_tenant_id,
            sent.queue_id as notified_queue_id, sent.interval_start_at as notified_interval_start_at,
            {EPISODE_SELECT}
        from ops.service_alert_notices as sent
        left join marts.{EPISODES} as episodes on {SAME_EPISODE.format(a="episodes", b="sent")}
        where sent.kind = 'service' and sent.tenant_id in (select unnest(?::varchar[]))
            and (episodes.tenant_id is null or episodes.interval_end_local is not null)
            and not exists (
                select 1 from ops.service_alert_notices as done
                where {SAME_EPISODE.format(a="done", b="sent")} and done.kind = 'service_recovered'
            )
        order by sent.tenant_id, sent.interval_start_at, sent.queue_id
        """,
        [tenants],
    )


def _insert(
    con: duckdb.DuckDBPyConnection, sent: list[dict], keys: list[tuple], run_id: str, raised_at: dt.datetime
) -> None:
    """The ops.service_alert_notices rows of ``sent``, each under its episode's key (tenant, queue, UTC start)."""
    if sent:
        con.executemany(
            "insert into ops.service_alert_notices "
            "(tenant_id, queue_id, interval_start_at, kind, run_id, notified_at, payload) values (?, ?, ?, ?, ?, ?, ?)",
            [
                [*key, alert["kind"], run_id, raised_at.replace(tzinfo=None), json.dumps(alert, default=str)]
                for key, alert in zip(keys, sent)
            ],
        )


def deliver(notices: Iterable[Notice]) -> None:
    """Send each notice through callops.alerts.send, to the tenant's own webhook too; never raises."""
    for notice in notices:
        try:
            alerts.send(notice.payload, extra_webhooks=[notice.webhook_url] if notice.webhook_url else [])
        except Exception:  # noqa: BLE001 - a service alert never fails the run
            log.exception("callops service alert: could not send %s", notice.payload.get("text", "")[:200])


def after_publish(run_id: str, published: Mapping) -> tuple[list[Notice], dict]:
    """The notices of a publish (callops.publish.publish's result: the tenants it published, less those
    held back) and the publish step's detail of them: ``service_alerts``, notices per tenant published,
    and ``service_alerts_failure`` when working them out failed (logged; the publish stands)."""
    held = set(published.get("held_back") or [])
    tenants = sorted(tenant for tenant in published.get("tenants") or {} if tenant not in held)
    try:
        notices = record(run_id, tenants)
    except Exception as error:  # noqa: BLE001 - a service alert never fails the publish
        log.exception("callops service alerts: could not work out this run's notifications")
        return [], {"service_alerts": {}, "service_alerts_failure": f"{type(error).__name__}: {error}"[:1000]}
    counts = dict.fromkeys(tenants, 0)
    for notice in notices:
        counts[notice.tenant_id] = counts.get(notice.tenant_id, 0) + 1
    return notices, {"service_alerts": counts}
