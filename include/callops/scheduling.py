"""Scheduling with Airflow: what the scheduled DAGs are made of, and the work their tasks do.

DAG files import this module at parse time, so its top level reads only the standard library and
callops.yml (through ``callops.config``, PyYAML); Airflow objects are made inside functions, and the
pipeline (DuckDB, dbt, Great Expectations) is imported when a task runs.

- **Scheduled loads**: one DAG per tenant and feed with an arrival time in callops.yml
  (``<feed>_arrival``, a local time of the tenant on the day after the delivery day). A cron data
  interval in the tenant's zone runs it once a day; its sensor waits for that delivery day's folder
  until the tenant's ``publish_deadline``; its load emits the feed's asset.
- **The landing watch**: whatever lands anywhere in the landing zone (late or re-delivered files,
  feeds without an arrival time, back-dated drops) is loaded soon after it settles; it remembers what
  it tried in ``landing_seen.json`` (path -> size, mtime), so it never picks the same content twice.
- **The build**: asset-triggered by any loaded feed; dbt runs as one task per model layer.
- **Deadlines**: for each tenant, the previous local day must be published by ``publish_deadline``,
  and complete (a day still partial then is alerted too).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from callops import alerts, runs, settings
from callops.config import SCHEDULED_FEEDS, Config, Tenant, load_config
from callops.landing import (
    DayFolder,
    Delivery,
    RefusedLink,
    Skipped,
    day_files,
    day_folder,
    day_folders,
    skipped_lines,
    tenant_skips,
)

FEEDS = SCHEDULED_FEEDS
MARTS_ASSET_URI = "callops://published/marts"
# A sensor that starts after its deadline (Airflow was down, or just started) still waits this long.
MIN_WAIT = dt.timedelta(minutes=30)
# Without a publish deadline a scheduled sensor waits this long after the arrival time.
WAIT_WITHOUT_DEADLINE = dt.timedelta(hours=20)
# Pool priorities: loads before builds, so a backfill of many loads is built once, not once per load.
LOAD_PRIORITY = 10
BUILD_PRIORITY = 1

log = logging.getLogger(__name__)


# --- parse time: assets and plans -----------------------------------------------------------------


def feed_asset_uri(feed: str) -> str:
    return f"callops://raw/{feed}"


def feed_asset(feed: str):
    """The asset a load of ``feed`` updates (its rows are in the build warehouse's raw layer)."""
    from airflow.sdk import Asset

    return Asset(name=f"raw_{feed}", uri=feed_asset_uri(feed))


def marts_asset():
    """The published marts: updated by the publish task alone, so consumers fire only on a publish."""
    from airflow.sdk import Asset

    return Asset(name="marts", uri=MARTS_ASSET_URI)


def build_schedule():
    """The build runs when any feed was loaded (queued events are consumed by one run)."""
    from airflow.sdk import AssetAny

    return AssetAny(*(feed_asset(feed) for feed in FEEDS))


@dataclass(frozen=True)
class LoadPlan:
    """One scheduled load DAG: a feed of a tenant, arriving at a local time each day."""

    feed: str
    tenant_id: str
    tenant_name: str
    timezone: str
    arrival: str  # "HH:MM", local, on the day after the delivery day
    deadline: str  # "HH:MM" or ""

    @property
    def dag_id(self) -> str:
        return runs.load_dag_id(self.feed, self.tenant_id)

    @property
    def cron(self) -> str:
        hour, minute = self.arrival.split(":")
        return f"{int(minute)} {int(hour)} * * *"

    def timetable(self):
        """Daily intervals [D arrival, D+1 arrival) in the tenant's zone: the run for delivery day D
        starts at D+1's arrival time, and D is the local date of its data interval's start."""
        from airflow.sdk import CronDataIntervalTimetable

        return CronDataIntervalTimetable(self.cron, timezone=self.timezone)

    def wait_until(self, day: dt.date, now: dt.datetime) -> dt.datetime:
        """When the sensor gives up on delivery day ``day``: the publish deadline (local, next day), or
        a fixed wait after the arrival time; never less than ``MIN_WAIT`` from ``now``."""
        zone = ZoneInfo(self.timezone)
        if self.deadline:
            until = local_instant(day + dt.timedelta(days=1), self.deadline, zone)
        else:
            until = local_instant(day + dt.timedelta(days=1), self.arrival, zone) + WAIT_WITHOUT_DEADLINE
        return max(until, now + MIN_WAIT)

    def folder(self, day: dt.date, landing: Path | None = None) -> Path:
        return (landing or settings.landing_dir()) / self.feed / self.tenant_id / day.isoformat()

    def files(self, day: dt.date, landing: Path | None = None) -> list[LandedFile]:
        """The plan's folder of ``day``: its files, or the link on its way that refuses it."""
        return folder_files(self.feed, self.tenant_id, day, landing)

    def describe(self) -> str:
        deadline = f", published by {self.deadline}" if self.deadline else ""
        return f"{self.tenant_name}: {self.feed} expected daily from {self.arrival} {self.timezone}{deadline}"


def load_plans(config: Config | None = None) -> list[LoadPlan]:
    """One plan per tenant and feed that has an arrival time, in callops.yml order."""
    config = config or load_config()
    return [
        LoadPlan(feed, t.id, t.name, t.timezone, getattr(t, f"{feed}_arrival"), t.publish_deadline)
        for t in config.tenants
        for feed in FEEDS
        if getattr(t, f"{feed}_arrival")
    ]


def local_instant(day: dt.date, hhmm: str, zone: ZoneInfo) -> dt.datetime:
    """``day`` at local time ``hhmm`` in ``zone``, as an aware UTC datetime. A time that does not
    exist (skipped by a spring-forward) is read with the offset before the change."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(dt.UTC)


# --- task time: delivery days and run ids ---------------------------------------------------------


def delivery_day(context: Mapping[str, Any], timezone: str) -> dt.date:
    """The delivery day a scheduled load run is for: the ``day`` param if given, else the local date
    (tenant's zone) of the run's data interval start; without an interval (a manual run that has
    none), the local day before the run."""
    params = context.get("params") or {}
    if params.get("day"):
        return dt.date.fromisoformat(str(params["day"]))
    zone = ZoneInfo(timezone)
    start = context.get("data_interval_start")
    if start is not None:
        return start.astimezone(zone).date()
    run_after = getattr(context.get("dag_run"), "run_after", None) or dt.datetime.now(dt.UTC)
    return run_after.astimezone(zone).date() - dt.timedelta(days=1)


# --- the landing zone and what was tried ----------------------------------------------------------


@dataclass(frozen=True)
class LandedFile:
    """A settled-or-not file of the landing zone, or a link refused there (``refused``: a feed,
    tenant or day folder or a file that is a symbolic link; ``day`` is None above a day folder).
    A refused link is loaded like a file, which fails naming it, and is then remembered like one."""

    feed: str
    tenant_id: str | None
    day: dt.date | None
    path: Path
    size: int
    mtime_ns: int
    refused: RefusedLink | None = None

    @property
    def display(self) -> str:
        if self.refused is not None:
            return self.refused.display
        return f"landing/{self.feed}/{self.tenant_id}/{self.day.isoformat()}/{self.path.name}"

    @property
    def signature(self) -> list[int]:
        return [self.size, self.mtime_ns]

    def delivery(self) -> Delivery | RefusedLink:
        if self.refused is not None:
            return self.refused
        return Delivery(self.feed, self.tenant_id, self.day, self.path)


def _refused(links: Iterable[RefusedLink]) -> list[LandedFile]:
    found = []
    for link in links:
        try:
            stat = link.path.lstat()  # the link itself, never what it points to
        except OSError:
            continue
        found.append(
            LandedFile(link.feed, link.tenant_id, link.delivery_date, link.path, stat.st_size, stat.st_mtime_ns, link)
        )
    return found


def _landed(folder: DayFolder) -> list[LandedFile]:
    files, links, _ = day_files(folder, tolerant=True)
    found = []
    for path in files:
        try:
            stat = path.lstat()
        except OSError:
            continue
        found.append(LandedFile(folder.feed, folder.tenant_id, folder.day, path, stat.st_size, stat.st_mtime_ns))
    return found + _refused(links)


def folder_files(feed: str, tenant_id: str, day: dt.date, landing: Path | None = None) -> list[LandedFile]:
    """The delivered files of one tenant's feed folder of one day (hidden and in-flight files skipped,
    links refused, as discovery does)."""
    folder, links = day_folder(feed, tenant_id, day, landing)
    return _refused(links) + (_landed(folder) if folder is not None else [])


def landing_files(landing: Path | None = None, feed: str | None = None) -> list[LandedFile]:
    """Every delivered file in the landing zone (of one feed if given), and every link refused there."""
    folders, links, _ = day_folders(landing, feed=feed, tolerant=True)
    found = _refused(links)
    for folder in folders:
        found += _landed(folder)
    return found


def landing_skips(landing: Path | None = None, feed: str | None = None) -> list[Skipped]:
    """What the landing zone (of one feed if given) holds that is not a delivery, every day's."""
    folders, _, skipped = day_folders(landing, feed=feed, tolerant=True)
    for folder in folders:
        skipped += day_files(folder, tolerant=True)[2]
    return skipped


def log_skips(skipped: list[Skipped], where: str) -> list[str]:
    """Log the skipped entries in a few lines (one per reason); returns the lines."""
    lines = skipped_lines(skipped)
    for line in lines:
        log.info("skipped in %s: %s", where, line)
    return lines


def settled(files: Iterable[LandedFile], settle_seconds: float, now: float | None = None) -> list[LandedFile]:
    """Files not modified for ``settle_seconds`` (a transfer that writes in place is still going)."""
    now_ns = int((time.time() if now is None else now) * 1e9)
    return [f for f in files if now_ns - f.mtime_ns >= settle_seconds * 1e9]


def read_index(path: Path | None = None) -> dict[str, list[int]]:
    path = path or settings.landing_index_path()
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    files = document.get("files") if isinstance(document, dict) else None
    return files if isinstance(files, dict) else {}


def untried(files: Iterable[LandedFile], index: Mapping[str, list[int]]) -> list[LandedFile]:
    """Files whose current content (size, mtime) no scheduled load has tried yet."""
    return [f for f in files if index.get(f.display) != f.signature]


def remember(files: Iterable[LandedFile], path: Path | None = None) -> None:
    """Record that these files (as they were when loaded) were tried; written atomically."""
    path = path or settings.landing_index_path()
    index = read_index(path)
    index.update({f.display: f.signature for f in files})
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"version": 1, "files": index}, sort_keys=True))
    os.replace(temporary, path)


def pending_files(
    landing: Path | None = None, settle_seconds: float | None = None, feed: str | None = None
) -> list[LandedFile]:
    """Settled landing files whose content no scheduled load has tried: what the landing watch loads."""
    settle = settings.landing_poll_seconds() if settle_seconds is None else settle_seconds
    return untried(settled(landing_files(landing, feed), settle), read_index())


# --- task time: loads -----------------------------------------------------------------------------


def load_day(run_id: str, plan: LoadPlan, day: dt.date) -> dict:
    """A scheduled load: every settled file of the tenant's feed folder for ``day``."""
    from callops import pipeline

    files = settled(plan.files(day), settings.landing_poll_seconds())
    skipped = tenant_skips(plan.feed, plan.tenant_id, day)
    log_skips(skipped, f"landing/{plan.feed}/{plan.tenant_id}/")
    summary = pipeline.load_selected(run_id, [f.delivery() for f in files], skipped)
    remember(files)
    return summary


def load_pending(run_id: str, feed: str, last_try: bool = True) -> dict | None:
    """The landing watch's load of one feed: every settled file not tried yet; None if there is none.

    The files count as tried however the load ends, except on a fault with a retry left: a watch that
    runs continuously would otherwise fail (and alert) again at once, again and again.
    """
    from callops import pipeline

    files = pending_files(feed=feed)
    if not files:
        return None
    skipped = landing_skips(feed=feed)
    log_skips(skipped, f"landing/{feed}/")
    try:
        summary = pipeline.load_selected(run_id, [f.delivery() for f in files], skipped)
    except pipeline.KeyProblem:
        raise  # nothing was opened: the files load once the key is restored or rotated
    except pipeline.DataProblem:
        remember(files)  # callops.yml is broken: retrying cannot help
        raise
    except Exception:
        if last_try:
            remember(files)
        raise
    remember(files)
    return summary


def load_problems(summaries: Iterable[Mapping[str, Any] | None]) -> list[str]:
    """The failed and held-back files of load summaries, as their messages name them."""
    return [message for s in summaries if s for message in [*s.get("failed", []), *s.get("held", [])]]


# --- task time: the build -------------------------------------------------------------------------


def event_days(events: Iterable[Any]) -> tuple[dt.date | None, dt.date | None, list[str]]:
    """Delivery days and load runs named by the triggering asset events' extras."""
    days: list[dt.date] = []
    load_runs: list[str] = []
    for event in events:
        extra = getattr(event, "extra", None) or {}
        days += [dt.date.fromisoformat(day) for day in extra.get("days", [])]
        if extra.get("run_id"):
            load_runs.append(str(extra["run_id"]))
    return (min(days) if days else None, max(days) if days else None, sorted(set(load_runs)))


# --- task time: publish deadlines -----------------------------------------------------------------


def deadline_state_path() -> Path:
    return settings.alerts_dir() / "deadlines.json"


def last_deadline(tenant: Tenant, now: dt.datetime) -> tuple[dt.date, dt.datetime] | None:
    """(delivery day, deadline instant) of the most recent publish deadline at or before ``now``."""
    if not tenant.publish_deadline:
        return None
    zone = ZoneInfo(tenant.timezone)
    today = now.astimezone(zone).date()
    for day in (today - dt.timedelta(days=1), today - dt.timedelta(days=2)):
        deadline = local_instant(day + dt.timedelta(days=1), tenant.publish_deadline, zone)
        if deadline <= now:
            return day, deadline
    return None


def publish_status(con, tenant_id: str, day: dt.date) -> dict:
    """Whether the tenant's deliveries of ``day`` reached the published marts, and when: the first
    successful publish whose run built after the day's last loaded file (held-back files excluded)."""
    files, last_loaded, held = con.execute(
        """
        select count(*) filter (where coalesce(gate_status, 'passed') <> 'held'),
            max(loaded_at) filter (where coalesce(gate_status, 'passed') <> 'held'),
            count(*) filter (where gate_status = 'held')
        from raw.manifest where tenant_id = ? and delivery_date = ? and status = 'loaded'
        """,
        [tenant_id, day],
    ).fetchone()
    failed = con.execute(
        "select count(*) from raw.manifest where tenant_id = ? and delivery_date = ? and status = 'failed'",
        [tenant_id, day],
    ).fetchone()[0]
    published_at = None
    if files:
        published_at = con.execute(
            """
            select min(publish.finished_at) from ops.run_steps as publish
            where publish.step = 'publish' and publish.status = 'success' and exists (
                select 1 from ops.run_steps as build
                where build.run_id = publish.run_id and build.step = 'build' and build.status = 'success'
                    and build.finished_at >= ? and build.finished_at <= publish.finished_at
            )
            """,
            [last_loaded],
        ).fetchone()[0]
    return {"files": files, "held": held, "failed": failed, "last_loaded_at": last_loaded, "published_at": published_at}


def day_completeness(con, tenant_id: str, day: dt.date) -> dict | None:
    """Whether the tenant's ``day`` is complete in the candidate marts (``rpt_daily_kpis.is_day_complete``),
    with how far its loaded telephony reaches (``int_telephony_feeds_measured``); None without a row for the
    day (no contacts, or not built yet by this release: an older one had neither the column nor that name)."""
    built = con.execute(
        "select count(*) = 2 from duckdb_columns() where database_name = current_database() and ("
        "(schema_name = 'marts' and table_name = 'rpt_daily_kpis' and column_name = 'is_day_complete') or "
        "(schema_name = 'intermediate' and table_name = 'int_telephony_feeds_measured' "
        "and column_name = 'last_event_at'))"
    ).fetchone()[0]
    if not built:
        return None
    row = con.execute(
        """
        select kpis.is_day_complete, kpis.offered_count, coverage.last_event_at, coverage.last_delivery_date
        from marts.rpt_daily_kpis as kpis
        left join intermediate.int_telephony_feeds_measured as coverage using (tenant_id)
        where kpis.tenant_id = ? and kpis.kpi_date = ?
        """,
        [tenant_id, day],
    ).fetchone()
    if row is None:
        return None
    complete, offered, last_event_at, last_delivery_date = row
    return {
        "is_day_complete": complete,
        "offered_count": offered,
        "last_event_at": last_event_at,
        "last_delivery_date": last_delivery_date,
    }


def _partial_reason(tenant: Tenant, day: dt.date, completeness: dict) -> str:
    """Why ``day`` is still partial: where the tenant's loaded telephony ends, against the day's last interval."""
    zone = ZoneInfo(tenant.timezone)
    last_interval = dt.datetime.combine(day, dt.time()) + dt.timedelta(days=1, minutes=-tenant.interval_minutes)
    reached = completeness["last_event_at"]
    ends = "no telephony event is loaded"
    if reached is not None:
        local = reached.replace(tzinfo=dt.UTC).astimezone(zone)
        ends = f"its loaded telephony ends at {local:%Y-%m-%d %H:%M} {tenant.timezone}"
    latest = completeness["last_delivery_date"]
    return (
        f"the day is partial ({completeness['offered_count']} contact(s) offered so far): {ends}, before the day's "
        f"last interval ({last_interval:%H:%M}), and no telephony of a later delivery day is loaded (latest: "
        f"{latest}); its target attainment and forecast accuracy stay null until it is complete"
    )


def _deadline_reason(status: dict) -> str:
    if not status["files"]:
        extra = []
        if status["held"]:
            extra.append(f"{status['held']} held back by the delivery gate")
        if status["failed"]:
            extra.append(f"{status['failed']} failed to load")
        return "no delivery of that day was loaded" + (f" ({', '.join(extra)})" if extra else "")
    if status["published_at"] is None:
        return f"{status['files']} file(s) loaded (last at {status['last_loaded_at']:%H:%M} UTC) but not published yet"
    return f"published late, at {status['published_at']:%Y-%m-%d %H:%M} UTC"


def check_deadlines(now: dt.datetime, config: Config | None = None) -> list[dict]:
    """Deadline alerts due at ``now``: for each tenant whose most recent publish deadline has passed,
    its delivery day was not published by then, or was but is still partial (``is_day_complete``). Each
    tenant-day is alerted once; deadlines that passed before this CALLOPS_HOME was first watched are not (a
    new installation starts quiet)."""
    from callops import warehouse

    config = config or load_config()
    state_path = deadline_state_path()
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError):
        state = {}
    watching_since = dt.datetime.fromisoformat(state.setdefault("watching_since", now.isoformat()))
    alerted: dict[str, list[str]] = state.setdefault("alerted", {})
    due = []
    for tenant in config.tenants:
        last = last_deadline(tenant, now)
        if last is None:
            continue
        day, deadline = last
        if deadline < watching_since or day.isoformat() in alerted.get(tenant.id, []):
            continue
        due.append((tenant, day, deadline))
    sent = []
    if due and settings.build_db_path().exists():
        with warehouse.session(read_only=True) as con:
            statuses = [publish_status(con, tenant.id, day) for tenant, day, _ in due]
            completeness = [day_completeness(con, tenant.id, day) for tenant, day, _ in due]
    else:
        statuses = [{"files": 0, "held": 0, "failed": 0, "last_loaded_at": None, "published_at": None} for _ in due]
        completeness = [None for _ in due]
    for (tenant, day, deadline), status, complete in zip(due, statuses, completeness):
        published_at = status["published_at"]
        on_time = published_at is not None and published_at.replace(tzinfo=dt.UTC) <= deadline
        partial = complete is not None and not complete["is_day_complete"]
        if on_time and not partial:
            continue
        local_deadline = f"{tenant.publish_deadline} {tenant.timezone}"
        reasons = [] if on_time else [_deadline_reason(status)]
        if partial:
            reasons.append(_partial_reason(tenant, day, complete))
        alert = alerts.deadline_alert(
            tenant.id,
            day,
            local_deadline,
            "; ".join(reasons),
            is_day_complete=None if complete is None else complete["is_day_complete"],
            is_published=on_time,
        )
        alerts.send(alert)
        sent.append(alert)
        alerted.setdefault(tenant.id, []).append(day.isoformat())
        alerted[tenant.id] = alerted[tenant.id][-60:]
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state_path.write_text(json.dumps(state, indent=2, sort_keys=True))
    return sent
