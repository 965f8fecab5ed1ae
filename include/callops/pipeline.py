"""The pipeline's steps: load -> build -> validate -> publish -> finish.

One function per Airflow task (the DAG file only wires them; ``callops.tasks``
adapts them to Airflow). Every step records what it did in the build
warehouse (``ops.*``), so ``callops run`` can print a per-day summary and a
failed run leaves a trail.

Failure policy: bad data raises :class:`DataProblem` (the task fails without
retries); anything else is a fault and may be retried. A file that cannot be
loaded does not stop the others: the run loads, builds and publishes what is
good, then fails at ``finish`` naming every file that did not load.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb

from callops import (
    dbt,
    failures,
    incremental,
    progress,
    pseudonym,
    publish,
    runs,
    service_alerts,
    serving,
    settings,
    wallboard,
    warehouse,
)
from callops.config import PRIVATE_KEYS, Config, ConfigError, Tenant, load_config
from callops.landing import Delivery, RefusedLink, Skipped, link_problem, scan, sha256_of, skipped_lines
from callops.load import registry
from callops.load.base import (
    EmptyFile,
    LoadContext,
    LoadError,
    binary_problem,
    detect_encoding,
    read_head,
    utf8_source,
)
from callops.quality import data_docs


class DataProblem(RuntimeError):
    """Bad input or a failed check: fail the task without retrying."""


class KeyProblem(DataProblem):
    """The pseudonymisation key changed or is missing: nothing is loaded until it is restored or rotated."""


def checked_key(con: duckdb.DuckDBPyConnection) -> bytes:
    """The pseudonymisation key, checked against the warehouse's before any delivery is opened."""
    try:
        return pseudonym.checked_key(con)
    except pseudonym.KeyChanged as changed:
        raise KeyProblem(str(changed)) from None


def key_problem() -> str | None:
    """Why a run must not start with the configured key (`callops run` exits 2 on it), looked at
    read-only; None for a warehouse not built yet or one without a fingerprint (it adopts the key)."""
    if not settings.build_db_path().exists():
        return None
    with warehouse.session(read_only=True) as con:
        return pseudonym.key_problem(pseudonym.recorded_key(con))


@dataclass
class FileOutcome:
    file_id: str
    feed: str
    tenant_id: str
    delivery_date: dt.date
    file_name: str
    action: str  # loaded | replaced | held | unchanged | failed
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_superseded: int = 0
    rows_skipped: int = 0
    message: str | None = None


def utc_now() -> dt.datetime:
    """Now, as the warehouse records it: UTC, without a zone."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)



def record_step(con: duckdb.DuckDBPyConnection, run_id: str, step: str, status: str, detail: object) -> None:
    con.execute(
        "insert into ops.run_steps values (?, ?, ?, ?, ?)",
        [run_id, step, status, utc_now(), json.dumps(detail, default=str)],
    )


def _record_step_now(run_id: str, step: str, status: str, detail: object) -> None:
    """Record a step that did its work without a warehouse connection of its own (dbt, publish)."""
    with warehouse.connection() as con:
        record_step(con, run_id, step, status, detail)


def record_failure(run_id: str, step: str, message: str, since: dt.datetime) -> None:
    """Record why ``step`` failed (``detail.failure``, shown by the run summary and ``finish``): on the
    failed row the step recorded itself since ``since`` (this try's start), else on a row of its own. The
    caller swallows an error: on a full disk this cannot be written, and `callops run` hears of the
    failure another way (callops.failures)."""
    with warehouse.writer_lock(wait_seconds=60), warehouse.connection() as con:
        recorded = con.execute(
            "select max(finished_at) from ops.run_steps "
            "where run_id = ? and step = ? and status = 'failed' and finished_at >= ?",
            [run_id, step, since],
        ).fetchone()[0]
        failure = json.dumps({"failure": message})
        if recorded is None:
            con.execute("insert into ops.run_steps values (?, ?, 'failed', ?, ?)", [run_id, step, utc_now(), failure])
        else:
            con.execute(
                "update ops.run_steps set detail = json_merge_patch(detail, ?) "
                "where run_id = ? and step = ? and finished_at = ?",
                [failure, run_id, step, recorded],
            )


def write_tenants(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """raw.tenants mirrors callops.yml on every run (settings are read by dbt from here), but for the
    settings kept out of the warehouse (a tenant's webhook URL: config.PRIVATE_KEYS)."""
    fields = [field.name for field in dataclasses.fields(Tenant) if field.name not in PRIVATE_KEYS]
    rows = [[getattr(tenant, name) for name in fields] for tenant in config.tenants]
    con.execute("delete from raw.tenants")
    con.executemany(f"insert into raw.tenants ({', '.join(fields)}) values ({', '.join('?' * len(fields))})", rows)


# --- load -----------------------------------------------------------------------------------------


def load_deliveries(run_id: str, start: dt.date, end: dt.date) -> dict:
    """Load every delivery of the delivery days [start, end]; one transaction per file."""
    try:
        config = load_config()
    except ConfigError as error:
        raise DataProblem(str(error)) from None
    with (
        failures.writing("loading the deliveries", settings.warehouse_dir(), keep=(DataProblem,)),
        warehouse.session() as con,
    ):
        secret = checked_key(con)  # before any delivery is opened
        # One run at a time writes (run lock, single-slot pool): another run still marked running died.
        con.execute(
            "update ops.runs set status = 'interrupted', finished_at = ? where status = 'running' and run_id <> ?",
            [utc_now(), run_id],
        )
        con.execute(
            "insert or replace into ops.runs values (?, ?, ?, ?, null, 'running', null)",
            [run_id, start, end, utc_now()],
        )
        write_tenants(con, config)
        # files and rows done of total, for the `callops run` waiting on this task (callops.progress)
        found = scan(start, end)
        outcomes = _refuse_links(con, run_id, found.refused) + _load_files(
            con, config, found.deliveries, run_id, secret
        )
        summary = {
            "files": len(outcomes),
            "failed": [o.message for o in outcomes if o.action == "failed"],
            "held": [o.message for o in outcomes if o.action == "held"],
            "rows_loaded": sum(o.rows_loaded for o in outcomes),
            "rows_rejected": sum(o.rows_rejected for o in outcomes),
            **_superseded_and_skipped(outcomes),
            **_landing_skipped(found.skipped),
        }
        record_step(con, run_id, "load", "failed" if summary["failed"] or summary["held"] else "success", summary)
    return summary


def _load_files(
    con: duckdb.DuckDBPyConnection, config: Config, deliveries: list[Delivery], run_id: str, secret: bytes
) -> list[FileOutcome]:
    """``_load_one`` for each delivery, ``settings.load_workers()`` files at once: each worker thread
    loads through a cursor of its own (a DuckDB connection to the same database), each file in its
    own transaction, as one at a time would (on the bench, 2 workers load 26.8M lines in a quarter
    less time). The outcomes come back in the deliveries' order."""
    workers = min(settings.load_workers(), len(deliveries))
    if workers <= 1:
        return progress.current().load_files(
            deliveries, lambda delivery: _load_one(con, config, delivery, run_id, secret)
        )
    cursors: dict[int, duckdb.DuckDBPyConnection] = {}
    lock = threading.Lock()

    def load_one(delivery: Delivery) -> FileOutcome:
        with lock:
            cursor = cursors.get(threading.get_ident())
            if cursor is None:
                cursor = cursors[threading.get_ident()] = warehouse.cursor(con)
        return _load_one(cursor, config, delivery, run_id, secret)

    try:
        return progress.current().load_files(deliveries, load_one, workers)
    finally:
        for cursor in cursors.values():
            cursor.close()


def load_selected(
    run_id: str, deliveries: list[Delivery | RefusedLink], skipped: list[Skipped] | None = None
) -> dict:
    """Load only ``deliveries`` (a scheduled load: one feed of one tenant and delivery day, or the
    landing watch's new files) as a run of its own, closed here: the build that publishes them is a
    later run. Each file goes through ``_load_one`` exactly as in :func:`load_deliveries`; a link the
    listing refused fails by name; what the listing ``skipped`` is named in the load's detail."""
    try:
        config = load_config()
    except ConfigError as error:
        raise DataProblem(str(error)) from None
    refused = [delivery for delivery in deliveries if isinstance(delivery, RefusedLink)]
    deliveries = [delivery for delivery in deliveries if not isinstance(delivery, RefusedLink)]
    days = sorted({delivery.delivery_date for delivery in deliveries})
    with (
        failures.writing("loading the deliveries", settings.warehouse_dir(), keep=(DataProblem,)),
        warehouse.session() as con,
    ):
        secret = checked_key(con)  # before any delivery is opened
        con.execute(
            "insert or replace into ops.runs values (?, ?, ?, ?, null, 'running', null)",
            [run_id, days[0] if days else None, days[-1] if days else None, utc_now()],
        )
        write_tenants(con, config)
        outcomes = _refuse_links(con, run_id, refused) + _load_files(con, config, deliveries, run_id, secret)
        changed = [o for o in outcomes if o.action in ("loaded", "replaced")]
        summary = {
            "files": len(outcomes),
            "changed": len(changed),
            "failed": [o.message for o in outcomes if o.action == "failed"],
            "held": [o.message for o in outcomes if o.action == "held"],
            "rows_loaded": sum(o.rows_loaded for o in outcomes),
            "rows_rejected": sum(o.rows_rejected for o in outcomes),
            **_superseded_and_skipped(outcomes),
            **_landing_skipped(skipped or []),
            "tenants": sorted({o.tenant_id for o in changed}),
            "days": sorted({o.delivery_date.isoformat() for o in changed}),
        }
        problems = summary["failed"] + summary["held"]
        status = "failed" if problems else "success"
        record_step(con, run_id, "load", status, summary)
        con.execute(
            "update ops.runs set finished_at = ?, status = ?, detail = ? where run_id = ?",
            [utc_now(), status, json.dumps({"steps": {"load": status}, "problems": problems}), run_id],
        )
    return summary


def record_loads(
    run_id: str, first: dt.date | None, last: dt.date | None, load_runs: list[str], asset_events: int
) -> dict:
    """The load step of a build whose deliveries earlier runs loaded (build_warehouse triggered by the
    load DAGs' assets): opens the run's record, naming those load runs and their delivery days."""
    with warehouse.session() as con:
        con.execute(
            "insert or replace into ops.runs values (?, ?, ?, ?, null, 'running', null)",
            [run_id, first, last, utc_now()],
        )
        detail = {"load_runs": load_runs, "asset_events": asset_events}
        record_step(con, run_id, "load", "success", detail)
    return detail


def _refuse_links(con: duckdb.DuckDBPyConnection, run_id: str, links: list[RefusedLink]) -> list[FileOutcome]:
    """Links below the landing root, each a failed delivery of the run, by name (never followed)."""
    outcomes = []
    for link in links:
        outcome = FileOutcome(
            link.file_id, link.feed, link.tenant_id, link.delivery_date, link.file_name, "failed", message=link.message
        )
        _record_file(con, run_id, outcome)
        outcomes.append(outcome)
    return outcomes


def _load_one(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    delivery: Delivery,
    run_id: str,
    secret: bytes,
    again: bool = False,
) -> FileOutcome:
    """Load one delivery in its own transaction. ``again``: read it even when its content is already
    loaded (``callops rekey`` re-reads files whose raw rows keep no clear value to re-pseudonymise)."""
    outcome = FileOutcome(
        delivery.file_id, delivery.feed, delivery.tenant_id, delivery.delivery_date, delivery.file_name, "failed"
    )
    path = delivery.path
    # a link now (swapped in since the listing), or not a regular file: refused unopened
    if problem := link_problem(delivery):
        outcome.message = problem
        _record_file(con, run_id, outcome)
        return outcome
    stat = path.lstat()
    sha256 = sha256_of(path)
    previous = con.execute(
        "select sha256, status, gate_status, gate_reason, encoding from raw.manifest where file_id = ?",
        [delivery.file_id],
    ).fetchone()
    manifest = {
        "file_id": delivery.file_id,
        "feed": delivery.feed,
        "tenant_id": delivery.tenant_id,
        "delivery_date": delivery.delivery_date,
        "file_name": delivery.file_name,
        "file_path": str(path),
        "file_format": None,
        "size_bytes": stat.st_size,
        "sha256": sha256,
        "received_at": dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).replace(tzinfo=None),
        "loaded_at": utc_now(),
        "rows_loaded": 0,
        "rows_rejected": 0,
        "rows_superseded": 0,
        "rows_skipped": 0,
        "extra_columns": [],
        "encoding": None,
        "status": "failed",
        "error": None,
        "run_id": run_id,
    }
    # The same content is read again only when the tenant's `encoding` now names another encoding
    # (or a rekey asks for it: ``again``).
    tenant = config.tenant(delivery.tenant_id)
    recode = tenant is not None and previous is not None and tenant.encoding not in ("auto", previous[4])
    if previous and previous[0] == sha256 and previous[1] == "loaded" and not (recode or again):
        outcome.action = "unchanged"
        outcome.message = f"{delivery.display}: already loaded with the same content (sha256 {sha256[:12]}), skipped"
        if previous[2] == "held":
            outcome.message += f"; still held back ({previous[3]}): `callops accept {delivery.display}` lets it in"
        _record_file(con, run_id, outcome)
        return outcome

    con.execute("begin transaction")
    try:
        if tenant is None:
            raise LoadError(
                f"{delivery.display}: tenant '{delivery.tenant_id}' is not in {config.path.name} "
                f"(configured: {', '.join(config.tenant_ids)})"
            )
        if delivery.feed not in registry.feeds():
            raise LoadError(
                f"{delivery.display}: unknown feed '{delivery.feed}' (known: {', '.join(registry.feeds())})"
            )
        if problem := binary_problem(path):
            raise LoadError(f"{delivery.display}: {problem}")
        encoding = detect_encoding(path) if tenant.encoding == "auto" else tenant.encoding
        head = read_head(path, encoding)
        if too_wide := registry.too_wide(head):
            raise LoadError(f"{delivery.display}: {too_wide}")
        adapter, refused = (EmptyFile, "") if EmptyFile.detect(head) else registry.examine(delivery.feed, head)
        if adapter is None and (near_miss := registry.near_miss(delivery.feed, head)):
            raise LoadError(f"{delivery.display}: {near_miss}")
        if adapter is None:
            raise LoadError(f"{delivery.display}: unknown format for feed '{delivery.feed}': {refused}")
        dates_before = registry.file_dates(con, delivery.file_id) if previous else None
        for table in registry.raw_tables():
            con.execute(f"delete from {table} where file_id = ?", [delivery.file_id])
        con.execute("delete from raw.rejects where file_id = ?", [delivery.file_id])
        with utf8_source(path, encoding) as source:
            loaded = adapter.load(
                LoadContext(
                    con=con,
                    path=path,
                    source=source,
                    display=delivery.display,
                    file_id=delivery.file_id,
                    tenant=tenant,
                    delivery_date=delivery.delivery_date,
                    feed=delivery.feed,
                    run_id=run_id,
                    pads=pseudonym.pads(pseudonym.tenant_key(tenant.id, secret)),
                    encoding=encoding,
                    run_date=run_date(con, run_id),
                )
            )
        held_because = delivery_gate(loaded, tenant)
        manifest.update(
            file_format=adapter.FORMAT,
            rows_loaded=loaded.rows_loaded,
            rows_rejected=loaded.rows_rejected,
            rows_superseded=loaded.rows_superseded,
            rows_skipped=loaded.rows_skipped,
            extra_columns=loaded.extra_columns,
            encoding=encoding,
            status="loaded",
            gate_status="held" if held_because else "passed",
            gate_reason=held_because,
        )
        _upsert_manifest(con, manifest)
        record_changed_partitions(
            con, run_id, delivery.file_id, delivery.tenant_id, dates_before, registry.file_dates(con, delivery.file_id)
        )
        if delivery.feed == "telephony":
            record_changed_partitions(
                con, run_id, delivery.file_id, delivery.tenant_id, partial_days(con, delivery.tenant_id)
            )
        outcome.action = "replaced" if previous and previous[1] == "loaded" else "loaded"
        outcome.rows_loaded, outcome.rows_rejected = loaded.rows_loaded, loaded.rows_rejected
        outcome.rows_superseded, outcome.rows_skipped = loaded.rows_superseded, loaded.rows_skipped
        notes = []
        if held_because:
            outcome.action = "held"
            notes.append(
                f"held back by the delivery gate (tenant {delivery.tenant_id}, delivery day "
                f"{delivery.delivery_date}, rule reject_threshold): {held_because}; none of its rows reaches "
                f"the marts until it is re-delivered corrected or `callops accept {delivery.display}`"
            )
        if loaded.rows_rejected:
            notes.append(f"{loaded.rows_rejected} row(s) rejected (see `callops rejects`)")
        if loaded.extra_columns:
            notes.append(f"unknown column(s) kept in `extra`, not modelled: {', '.join(loaded.extra_columns)}")
        if encoding != "utf-8":
            notes.append(f"read as {encoding.upper()}")
        notes += loaded.notes
        outcome.message = f"{delivery.display}: " + "; ".join(notes) if notes else None
        _record_file(con, run_id, outcome)
        con.execute("commit")
    except (LoadError, duckdb.Error, OSError, EOFError) as error:
        if not isinstance(error, LoadError) and failures.is_disk_full(error):
            # not this file's fault: the step fails, naming the file it was loading and the room left
            with contextlib.suppress(duckdb.Error):
                con.execute("rollback")
            raise failures.DiskFull(
                f"loading {delivery.display}", failures.where(error, settings.warehouse_dir())
            ) from error
        con.execute("rollback")
        message = str(error) if isinstance(error, LoadError) else f"{delivery.display}: cannot be read: {error}"
        outcome.action, outcome.message = "failed", message
        manifest.update(status="failed", error=message)
        if previous and previous[1] == "loaded":
            outcome.message += " (the previously loaded version of this file is kept)"
        else:
            _upsert_manifest(con, manifest)
        _record_file(con, run_id, outcome)
    return outcome


def run_date(con: duckdb.DuckDBPyConnection, run_id: str) -> dt.date:
    """The run's UTC date: the day its record in ``ops.runs`` started (today for a run without one). The
    loaders' latest valid timestamp is a day after it; never now(), so every file of a run is judged by
    the same day, however long the run takes."""
    row = con.execute("select cast(started_at as date) from ops.runs where run_id = ?", [run_id]).fetchone()
    return row[0] if row and row[0] else utc_now().date()


def delivery_gate(loaded, tenant: Tenant) -> str | None:
    """Why a loaded delivery is held back as a whole, or None: its rejected share is above the tenant's
    ``reject_threshold`` (a file that lost that much is more likely broken than a little dirty)."""
    total = loaded.rows_loaded + loaded.rows_rejected
    if total == 0 or loaded.rows_rejected / total <= tenant.reject_threshold:
        return None
    return (
        f"{loaded.rows_rejected} of {total} rows rejected ({loaded.rows_rejected / total:.1%}), "
        f"above the tenant's reject_threshold of {tenant.reject_threshold:.1%}"
    )


def record_changed_partitions(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    file_id: str,
    tenant_id: str,
    *spans: tuple[dt.date, dt.date] | None,
) -> None:
    """The UTC dates a change touched (the file's rows before and after), for the mart gate.

    Widened by a day each way: a tenant-local day starts up to 14 hours either side of UTC.
    """
    spans = [span for span in spans if span]
    if not spans:
        return
    first = min(span[0] for span in spans) - dt.timedelta(days=1)
    last = max(span[1] for span in spans) + dt.timedelta(days=1)
    con.execute(
        "insert into ops.changed_partitions values (?, ?, ?, ?, ?, ?, null)",
        [run_id, file_id, tenant_id, first, last, utc_now()],
    )


def partial_days(con: duckdb.DuckDBPyConnection, tenant_id: str) -> tuple[dt.date, dt.date] | None:
    """The tenant's days the candidate marts hold as partial (``rpt_daily_kpis.is_day_complete`` false, at
    most its latest day), or None. A telephony load can complete them however far before its own rows
    they lie (any later delivery day does), so it changes them too: they are rebuilt and gated with it.
    None before a build of a release with the column (that build is a full one)."""
    built = con.execute(
        "select count(*) from duckdb_columns() where database_name = current_database() "
        "and schema_name = 'marts' and table_name = 'rpt_daily_kpis' and column_name = 'is_day_complete'"
    ).fetchone()[0]
    if not built:
        return None
    first, last = con.execute(
        "select min(kpi_date), max(kpi_date) from marts.rpt_daily_kpis where tenant_id = ? and not is_day_complete",
        [tenant_id],
    ).fetchone()
    return None if first is None else (first, last)


def _upsert_manifest(con: duckdb.DuckDBPyConnection, manifest: dict) -> None:
    names = list(manifest)
    con.execute(
        f"insert or replace into raw.manifest ({', '.join(names)}) values ({', '.join('?' * len(names))})",
        list(manifest.values()),
    )


def _record_file(con: duckdb.DuckDBPyConnection, run_id: str, outcome: FileOutcome) -> None:
    row = {
        "run_id": run_id,
        "file_id": outcome.file_id,
        "feed": outcome.feed,
        "tenant_id": outcome.tenant_id,
        "delivery_date": outcome.delivery_date,
        "file_name": outcome.file_name,
        "action": outcome.action,
        "rows_loaded": outcome.rows_loaded,
        "rows_rejected": outcome.rows_rejected,
        "rows_superseded": outcome.rows_superseded,
        "rows_skipped": outcome.rows_skipped,
        "message": outcome.message,
    }
    # Columns named: a table upgraded in place has its later columns last, not where the DDL lists them.
    con.execute(
        f"insert into ops.run_files ({', '.join(row)}) values ({', '.join('?' * len(row))})", list(row.values())
    )


def _superseded_and_skipped(outcomes: list[FileOutcome]) -> dict[str, int]:
    """The load summary's superseded and skipped records, each only when there are any (loaded and
    rejected are always there)."""
    totals = {
        "rows_superseded": sum(o.rows_superseded for o in outcomes),
        "rows_skipped": sum(o.rows_skipped for o in outcomes),
    }
    return {name: count for name, count in totals.items() if count}


def _landing_skipped(skipped: list[Skipped]) -> dict[str, list[str]]:
    """The load summary's ``landing_skipped``: what below the landing root is not a delivery, in a few
    lines with their reasons (``landing.skipped_lines``), only when there is any. Not a failure."""
    lines = skipped_lines(skipped)
    return {"landing_skipped": lines} if lines else {}


def accept_delivery(reference: str) -> str:
    """Let a held-back delivery into the marts (``callops accept <file>``); returns what was done.

    ``reference`` is the file's path, its ``landing/...`` name as the run printed it, or its bare
    name when that is unique. Its rows are already in the raw layer: the next run builds them in.
    """
    wanted = reference.strip()
    with warehouse.session() as con:
        rows = con.execute(
            """
            select file_id, tenant_id, feed, delivery_date, file_name, file_path, gate_status, gate_reason
            from raw.manifest
            where status = 'loaded' and (
                file_path = $path or file_name = $name
                or 'landing/' || feed || '/' || tenant_id || '/' || strftime(delivery_date, '%Y-%m-%d')
                   || '/' || file_name = $name
            )
            order by delivery_date, tenant_id, feed, file_name
            """,
            {"path": str(Path(wanted).resolve()) if wanted else "", "name": wanted.removeprefix("./")},
        ).fetchall()
        if not rows:
            raise DataProblem(f"{reference}: no loaded delivery by that path or name (see `callops rejects`)")
        if len(rows) > 1:
            names = ", ".join(f"landing/{r[2]}/{r[1]}/{r[3]}/{r[4]}" for r in rows)
            raise DataProblem(f"{reference}: names {len(rows)} deliveries ({names}); give the path")
        file_id, tenant_id, feed, day, name, _, gate_status, reason = rows[0]
        display = f"landing/{feed}/{tenant_id}/{day}/{name}"
        if gate_status != "held":
            return f"{display}: not held back (gate {gate_status or 'passed'}); nothing to accept"
        con.execute(
            "update raw.manifest set gate_status = 'accepted', accepted_at = ? where file_id = ?", [utc_now(), file_id]
        )
        record_changed_partitions(
            con, f"accept_{utc_now():%Y%m%dT%H%M%S}", file_id, tenant_id, registry.file_dates(con, file_id)
        )
        if feed == "telephony":
            accepted = f"accept_{utc_now():%Y%m%dT%H%M%S}"
            record_changed_partitions(con, accepted, file_id, tenant_id, partial_days(con, tenant_id))
    return f"{display}: accepted despite the delivery gate ({reason}); the next `callops run` publishes its rows"


# --- build, validate, publish ---------------------------------------------------------------------


def build_marts(run_id: str, full_reason: str | None = None, layer: str | None = None) -> dict:
    """dbt build (models and data tests) of staging -> marts into the build warehouse: the partitions
    changed since the gate last passed them, or everything when the project or settings changed (or
    ``full_reason`` says why everything must be rebuilt).

    ``layer`` (one of ``runs.DBT_LAYERS``): only that layer's part of the plan, with each model's
    status and its tests' results; build_warehouse runs one task per layer, in order, which together
    run exactly the nodes of the one build callops_pipeline runs. The last layer records the build."""
    with warehouse.writer_lock(), failures.writing(BUILDING, settings.warehouse_dir()):
        with warehouse.connection() as con:
            plan = incremental.plan(con, full_reason)  # the same for every layer until the last one records it
        models: dict[str, str] = {}
        # nothing changed since the last validated build (a re-run of loaded days): the tables stand
        if plan.is_empty:
            result = dbt.DbtResult(success=True)
        elif layer is None:
            result = dbt.build(*plan.dbt_args(), *plan.selection(), build_plan=plan.encoded())
        else:
            result = dbt.invoke(*dbt_layer_args(layer, plan), build_plan=plan.encoded())
            models = dbt.model_statuses(settings.dbt_work_dir() / "target")
        full = None if result.success else _dbt_disk_full(result)
        detail = dataclasses.asdict(result) | ({"layer": layer} if layer else {}) | {"plan": plan.describe()}
        try:
            with warehouse.connection() as con:
                record_step(con, run_id, "build", "success" if result.success else "failed", detail)
                record_test_failures(con, run_id, result, every_test=layer is None)
                if result.success and layer in (None, runs.DBT_LAYERS[-1]):
                    incremental.record(con, run_id, plan, utc_now())
        except Exception:
            if full is None:
                raise
            raise full from None  # the node the disk stopped says more than the record it stopped too
    if not result.success:
        if full is not None:
            raise full
        what = "dbt build" if layer is None else f"dbt build of the {layer} layer"
        raise DataProblem(f"{what} failed: " + "; ".join(result.failures or [result.error or "unknown error"]))
    if layer is not None:
        return {"layer": layer, "nodes": result.nodes, "models": models, "plan": plan.describe()}
    return {"nodes": result.nodes, "plan": plan.describe()}


def record_test_failures(con: duckdb.DuckDBPyConnection, run_id: str, result, every_test: bool) -> None:
    """The data tests of a build that failed, one row per test and tenant of its failing rows, in
    ops.check_results (``checked_by`` dbt): the gate holds those tenants back (validate_marts). They
    replace what an earlier build of the same run recorded for the same tests (``every_test``: all)."""
    if every_test:
        con.execute("delete from ops.check_results where run_id = ? and checked_by = 'dbt'", [run_id])
    elif result.tests:
        con.execute(
            "delete from ops.check_results where run_id = ? and checked_by = 'dbt' and check_name in "
            "(select unnest(?))",
            [run_id, list(result.tests)],
        )
    _insert_checks(con, [
        [run_id, f.table, f.test, f.column, f.severity, False, f.unexpected_count, f.failing_keys[:100], f.notes,
         utc_now(), f.tenant_id, "dbt"]
        for f in result.test_failures
    ])


def dbt_layer_args(layer: str, plan: incremental.BuildPlan | None = None) -> list[str]:
    """One layer's models and the data tests whose parents are built by then (``buildable``: a test
    of a mart that also reads staging runs with the marts, not before them); unit tests run in
    `make test`. The three layers together run exactly the nodes of one ``dbt build`` of the plan
    (callops.incremental: the models downstream of the changed feeds, or all of them)."""
    within = f"path:models/{layer}"
    selection = plan.selection(within) if plan is not None else ["--select", within]
    return [
        "build",
        *selection,
        "--indirect-selection", "buildable",
        "--exclude-resource-type", "unit_test",
        *(plan.dbt_args() if plan is not None else []),
    ]


BUILDING = "building the marts (dbt)"


def _dbt_disk_full(result) -> failures.DiskFull | None:
    """The full disk a failed dbt build ran into (a node's error, or dbt's own writing its target/ and
    logs/), named with the first node it stopped; None when the disk was not the cause. A data test's
    failure quotes rows, not a disk: not read."""
    for text in [*result.failures, result.error or ""]:
        if text.split(" (")[0].endswith(": fail") or not failures.is_disk_full(RuntimeError(text)):
            continue
        node = text.split(":")[0] if text in result.failures else ""
        doing = f"{BUILDING[:-1]}, {node})" if node else BUILDING
        return failures.DiskFull(doing, failures.where(RuntimeError(text), settings.dbt_work_dir()))
    return None


def validate_marts(run_id: str) -> dict:
    """Great Expectations gate on the changed partitions of the candidate marts, tenant by tenant.

    A tenant with a blocking failure (of the gate, or of a dbt data test of this run's build) is held
    back: its partitions stay pending (later runs check them again) and the publish serves its last
    good figures, while the other tenants' new data is published; the run fails, naming the tenant,
    its days and the checks. A blocking failure that names no tenant, or that holds back every tenant
    with a change, publishes nothing. Warnings publish and are reported. Every result is kept in
    ``ops.check_results`` and rendered as offline Data Docs under ``CALLOPS_HOME/data_docs/<run_id>/``.
    """
    from callops.quality import gate  # Great Expectations: imported when the gate runs (callops.tasks warms it up)

    started = utc_now()
    with failures.writing(VALIDATING, settings.warehouse_dir(), keep=(DataProblem,)), warehouse.session() as con:
        outcome = gate.validate_candidates(con)
        changed = {row[0] for row in con.execute(f"select distinct tenant_id from {gate.PARTITIONS}").fetchall()}
        # written first: a run that cannot write them (a full disk) leaves its partitions to check again
        docs = _write_data_docs(outcome.validations, run_id)
        tested = dbt_check_results(con, run_id)  # the build's failed data tests, per tenant
        blocking = outcome.blocking + gate.blocking(tested)
        warnings = outcome.warnings + [r for r in tested if not r.success and r.severity != "blocking"]
        held = sorted({r.tenant_id for r in blocking if r.tenant_id is not None})
        # a failure naming no tenant holds back every one; so does one holding back every changed tenant
        stopped = any(r.tenant_id is None for r in blocking) or (bool(held) and not changed - set(held))
        status = "failed" if blocking else ("warning" if warnings else "success")
        # none when no gated mart has a row on the changed days (or nothing changed)
        _insert_checks(con, [
            [run_id, r.table, r.check, r.column, r.severity, r.success, r.unexpected_count,
             r.failing_keys[:100], r.notes, started, r.tenant_id, r.checked_by]
            for r in outcome.results
        ])
        if not stopped:
            con.execute(
                "update ops.changed_partitions set validated_run_id = ? "
                "where validated_run_id is null and recorded_at <= ? and tenant_id not in (select unnest(?))",
                [run_id, started, held],
            )
        detail = {
            "partitions": outcome.partitions,
            "checks": [
                dataclasses.asdict(r) | {"failing_keys": r.failing_keys[:10]} for r in [*outcome.results, *tested]
            ],
            "data_docs": docs,
        } | ({"held_back": held, "failure": held_back_text(blocking)} if blocking and not stopped else {})
        record_step(con, run_id, "validate", status, detail)
    if stopped:
        raise DataProblem(
            "candidate marts failed blocking checks, nothing published: " + "; ".join(r.describe() for r in blocking)
        )
    return {
        "partitions": outcome.partitions,
        "checks": len(outcome.results),
        "warnings": [r.describe() for r in warnings],
    } | ({"held_back": held} if held else {})


CHECK_COLUMNS = (
    "run_id, table_name, check_name, column_name, severity, success, unexpected_count, failing_keys, notes, "
    "checked_at, tenant_id, checked_by"
)


def _marks(columns: str) -> str:
    return ", ".join("?" for _ in columns.split(","))


def held_back_text(blocking: list) -> str:
    """The tenants a gate held back, each with its failed checks (the days are in their keys)."""
    by_tenant: dict[str, list[str]] = {}
    for result in blocking:
        by_tenant.setdefault(result.tenant_id, []).append(result.describe())
    return "; ".join(
        f"tenant {tenant} held back, its last good figures stay published: " + "; ".join(lines)
        for tenant, lines in sorted(by_tenant.items())
    )


def dbt_check_results(con: duckdb.DuckDBPyConnection, run_id: str) -> list:
    """The failed data tests of this run's dbt build, as the gate's results (recorded by build_marts)."""
    return _stored_checks(con, run_id, "checked_by = 'dbt'")


def _stored_checks(con: duckdb.DuckDBPyConnection, run_id: str, condition: str) -> list:
    """This run's results in ops.check_results that meet ``condition``, as the gate's CheckResults."""
    from callops.quality import gate

    return [
        gate.CheckResult(
            table=table, check=check, column=column, severity=severity, success=success,
            unexpected_count=count or 0, failing_keys=list(keys or []), notes=notes, tenant_id=tenant,
            checked_by=checked_by or "great_expectations",
        )
        for table, check, column, severity, success, count, keys, notes, tenant, checked_by in con.execute(
            "select distinct table_name, check_name, column_name, severity, success, unexpected_count, failing_keys, "
            f"notes, tenant_id, checked_by from ops.check_results where run_id = ? and {condition} "
            "order by table_name, check_name, column_name, tenant_id",
            [run_id],
        ).fetchall()
    ]


def _insert_checks(con: duckdb.DuckDBPyConnection, rows: list[list]) -> None:
    """Rows of ops.check_results, in the order of CHECK_COLUMNS."""
    if rows:
        con.executemany(f"insert into ops.check_results ({CHECK_COLUMNS}) values ({_marks(CHECK_COLUMNS)})", rows)


VALIDATING = "checking the candidate marts (Great Expectations)"


def validate_after_build(run_id: str) -> dict:
    """The mart gate, on marts that hold everything loaded before it.

    The gate marks a change validated once it has checked it; a load that ran between this run's
    build and its gate (a scheduled load takes the writer pool in between) is in no candidate mart
    yet, so it is built first, with one full ``dbt build``.
    """
    with warehouse.session(read_only=True) as con:
        built = con.execute(
            "select min(finished_at) from ops.run_steps where run_id = ? and step = 'build'", [run_id]
        ).fetchone()[0]
        late = 0
        if built is not None:
            late = con.execute(
                "select count(*) from ops.changed_partitions where validated_run_id is null and recorded_at > ?",
                [built],
            ).fetchone()[0]
    rebuilt = bool(late)
    if rebuilt:
        build_marts(run_id)
    return validate_marts(run_id) | ({"rebuilt_for_late_loads": late} if rebuilt else {})

DATA_DOCS_KEEP_RUNS = 30


def _write_data_docs(validations: list, run_id: str) -> str | None:
    """Offline Data Docs of this run's gate; the last ``DATA_DOCS_KEEP_RUNS`` runs are kept."""
    import re
    import shutil

    if not validations:
        return None
    root = settings.data_docs_dir()
    site = root / re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)
    try:
        with failures.writing("writing the Data Docs", root):
            index = data_docs.write_site(validations, run_id, site)
    except failures.DiskFull:
        shutil.rmtree(site, ignore_errors=True)  # half a site helps no one and holds the room
        raise
    sites = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in sites[:-DATA_DOCS_KEEP_RUNS]:
        shutil.rmtree(old, ignore_errors=True)
    return str(index)


def publish_marts(run_id: str) -> dict:
    """The published files (callops.publish), then the wallboard made from them (callops.wallboard),
    each swapped in whole; the wallboard's seconds count among the publish's. Then the service alerts of
    what is now published (callops.service_alerts): recorded under the writer lock, sent after it; they
    never fail the step (the detail's ``service_alerts`` counts them per tenant)."""
    with warehouse.writer_lock():
        with failures.writing("writing the published files", settings.published_dir()):
            published = publish.publish(run_id)
            tenants = {tenant: Path(item["path"]) for tenant, item in published["tenants"].items()}
            try:
                board = wallboard.publish(Path(published["path"]), tenants, settings.published_dir())
            except wallboard.WallboardError as error:
                _record_step_now(run_id, "publish", "failed", published | {"failure": f"the wallboard: {error}"})
                raise DataProblem(f"the marts are published, the wallboard failed: {error}") from None
            published["wallboard"] = board["path"]
            published["seconds"]["wallboard"] = board["seconds"]
        notices, notified = service_alerts.after_publish(run_id, published)
        published |= notified
        with failures.writing("recording the publish in the build warehouse", settings.warehouse_dir()):
            _record_step_now(run_id, "publish", "success", published)
    service_alerts.deliver(notices)
    return published


def serve_marts(run_id: str) -> dict:
    """The published center file into the PostgreSQL server of CALLOPS_SERVING_URL (callops.serving), when
    set. A server that cannot be reached or refuses fails the step (the DuckDB publish stays in place)
    and the run; the next run's serve brings the server up to date."""
    if not settings.serving_url():
        return {"skipped": f"{settings.SERVING_URL_ENV} is not set"}
    with warehouse.writer_lock():  # the published files stay as this run published them while they are read
        try:
            served = serving.publish(run_id, settings.published_db_path())
        except serving.ServingError as error:
            _record_step_now(run_id, "serve", "failed", {"failure": str(error)})
            raise DataProblem(f"serving the marts failed: {error}") from None
        _record_step_now(run_id, "serve", "success", served)
    return served


# --- finish ---------------------------------------------------------------------------------------


STEP_FAILURES = {
    "build": "dbt build failed (see the build step)",
    "validate": "the mart gate failed blocking checks (see the validate step)",
    "publish": "publishing failed (see the publish step)",
    "serve": "serving the marts from PostgreSQL failed (see the serve step); the published files are in place",
}


def finish_run(run_id: str) -> dict:
    """Close the run record; fail (no retry) if any file or step failed. Each tenant the run touched
    gets its own outcome (``ops.run_tenants``): its files and checks, and a step that failed for all."""
    with failures.writing("closing the run record", settings.warehouse_dir()), warehouse.session() as con:
        # a step's failure recorded by callops.tasks (a full disk, a fault) says why in detail.failure
        latest = con.execute(
            "select step, arg_max(status, finished_at), arg_max(detail->>'failure', finished_at), "
            "arg_max(detail->'held_back', finished_at) from ops.run_steps where run_id = ? group by 1",
            [run_id],
        ).fetchall()
        steps = {step: status for step, status, _, _ in latest}
        why = {step: failure for step, _, failure, _ in latest if failure}
        held = {step for step, _, _, tenants in latest if tenants}  # a gate that held back some tenants only
        failed_files = con.execute(
            "select tenant_id, message from ops.run_files where run_id = ? and action in ('failed', 'held') "
            "order by file_name",
            [run_id],
        ).fetchall()
        problems = [
            f"{step} failed: {why[step]}" if step in why else STEP_FAILURES.get(step, f"step {step} failed")
            for step, status in steps.items()
            if status == "failed" and (step != "load" or step in why)
        ]
        if steps.get("publish") != "success":
            problems.append("nothing published: the served marts are unchanged")
        problems += [f"{step} did not run" for step in ("load", "build", "validate") if step not in steps]
        problems += [message for _, message in failed_files]
        # what failed for every tenant: a step (the gate only when it held back all), or nothing published
        for_all = [
            step for step, status in steps.items()
            if status == "failed" and step not in held and (step != "load" or step in why)
        ] + [step for step in ("load", "build", "validate", "publish") if step not in steps]
        _record_tenant_outcomes(con, run_id, failed_files, for_all)
        status = "failed" if problems else "success"
        con.execute(
            "update ops.runs set finished_at = ?, status = ?, detail = ? where run_id = ?",
            [utc_now(), status, json.dumps({"steps": steps, "problems": problems}), run_id],
        )
    if problems:
        raise DataProblem("run failed: " + "; ".join(problems))
    return {"status": status, "steps": steps}


def _record_tenant_outcomes(
    con: duckdb.DuckDBPyConnection, run_id: str, failed_files: list[tuple[str, str]], for_all: list[str]
) -> None:
    """Each tenant's outcome of the run in ops.run_tenants: its held or failed files, its failed blocking
    checks, and the steps that failed for every tenant, named without another tenant's detail."""
    checks = _stored_checks(con, run_id, "not success and severity = 'blocking' and tenant_id is not null")
    tenants = {
        row[0] for row in con.execute(
            "select tenant_id from ops.run_tenants where run_id = ? union select tenant_id from ops.run_files "
            "where run_id = ? and tenant_id is not null",
            [run_id, run_id],
        ).fetchall()
    } | {check.tenant_id for check in checks}
    everyone = [f"the run failed for every tenant ({', '.join(for_all)})"] if for_all else []
    now = utc_now()
    for tenant in sorted(tenants):
        problems = [message for owner, message in failed_files if owner == tenant]
        problems += [check.describe() for check in checks if check.tenant_id == tenant] + everyone
        con.execute(
            "insert into ops.run_tenants (run_id, tenant_id, recorded_at) select ?, ?, ? where not exists "
            "(select 1 from ops.run_tenants where run_id = ? and tenant_id = ?)",
            [run_id, tenant, now, run_id, tenant],
        )
        con.execute(
            "update ops.run_tenants set status = ?, problems = ?, recorded_at = ? where run_id = ? and tenant_id = ?",
            ["failed" if problems else "success", problems, now, run_id, tenant],
        )
