"""The private build warehouse: connection settings, the single-writer lock, raw and ops tables.

Only the pipeline opens ``warehouse/build.duckdb``; BI tools read the published
copy. DuckDB allows one writing process per file, so every writer takes
``warehouse.lock`` first (and waits for it), and resources are capped so a
backfill stays within its memory budget beside Airflow.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from callops import contracts, settings

RAW_DDL = """
create schema if not exists raw;
create schema if not exists ops;

create table if not exists raw.tenants (  -- callops.yml, rewritten by every load
    id varchar primary key,
    name varchar,
    timezone varchar,
    service_level_seconds integer,
    short_abandon_seconds integer,
    service_level_target double,
    service_level_variant varchar,
    interval_minutes integer,
    fcr_window_days integer,
    reject_threshold double,
    roi_pause_threshold double
);
alter table raw.tenants add column if not exists cdr_usegmtime boolean;
alter table raw.tenants add column if not exists planned_shrinkage_rate double;
alter table raw.tenants add column if not exists answer_rate_target double;
alter table raw.tenants add column if not exists abandon_rate_target double;
alter table raw.tenants add column if not exists csat_target double;
alter table raw.tenants add column if not exists qa_score_target double;
alter table raw.tenants add column if not exists vip_service_level_seconds integer;
alter table raw.tenants add column if not exists vip_service_level_target double;
alter table raw.tenants add column if not exists volume_warning_ratio double;
alter table raw.tenants add column if not exists volume_blocking_ratio double;
alter table raw.tenants add column if not exists telephony_arrival varchar;  -- local "HH:MM" or ''
alter table raw.tenants add column if not exists qa_arrival varchar;
alter table raw.tenants add column if not exists hr_arrival varchar;
alter table raw.tenants add column if not exists marketing_arrival varchar;
alter table raw.tenants add column if not exists publish_deadline varchar;
alter table raw.tenants add column if not exists encoding varchar;  -- auto | a codec name
-- service alert rules: null turns a rule off; a row of an older release (no column yet) is
-- rewritten from callops.yml by the run that adds the column, before dbt reads it
alter table raw.tenants add column if not exists alert_min_offered integer;
alter table raw.tenants add column if not exists alert_service_level_rate double;
alter table raw.tenants add column if not exists alert_vip_service_level_rate double;
alter table raw.tenants add column if not exists alert_abandon_rate double;
alter table raw.tenants add column if not exists alert_asa_seconds double;

create table if not exists raw.manifest (
    file_id varchar primary key,          -- stable id of (feed, tenant, delivery day, file name)
    feed varchar not null,
    tenant_id varchar not null,
    delivery_date date not null,
    file_name varchar not null,
    file_path varchar not null,
    file_format varchar,
    size_bytes bigint,
    sha256 varchar,
    received_at timestamp,                -- file modification time, UTC
    loaded_at timestamp,                  -- UTC
    rows_loaded bigint,
    rows_rejected bigint,
    extra_columns varchar[],
    status varchar not null,              -- loaded | failed
    error varchar,
    run_id varchar
);
alter table raw.manifest add column if not exists encoding varchar;
-- the delivery gate: passed | held (rejected share above the tenant's reject_threshold:
-- none of its rows reaches the marts) | accepted (`callops accept`)
alter table raw.manifest add column if not exists gate_status varchar;
alter table raw.manifest add column if not exists gate_reason varchar;
alter table raw.manifest add column if not exists accepted_at timestamp;
-- Every record of a loaded file is counted once: records = rows_loaded + rows_rejected + rows_superseded
-- + rows_skipped (header and blank lines aside). superseded: another record of the same contact in the
-- same file is loaded instead (an earlier Amazon Connect version of a ContactId, a forked Asterisk CDR
-- merged into its stint); skipped: read but not modelled (chats, MONITOR legs, internal calls, agent
-- legs, calls dialled straight to a phone). Null: loaded by a release that did not count them.
alter table raw.manifest add column if not exists rows_superseded bigint;
alter table raw.manifest add column if not exists rows_skipped bigint;

create table if not exists raw.rejects (
    file_id varchar not null,
    feed varchar not null,
    tenant_id varchar not null,
    delivery_date date not null,
    file_name varchar not null,
    line bigint,
    reason varchar not null,
    raw_text varchar,
    run_id varchar
);

create table if not exists ops.runs (
    run_id varchar primary key,
    start_date date,
    end_date date,
    started_at timestamp,
    finished_at timestamp,
    status varchar,                       -- running | success | failed
    detail json
);

create table if not exists ops.run_files (
    run_id varchar not null,
    file_id varchar,
    feed varchar,
    tenant_id varchar,
    delivery_date date,
    file_name varchar,
    action varchar not null,              -- loaded | replaced | held | unchanged | failed
    rows_loaded bigint,
    rows_rejected bigint,
    message varchar
);
-- as in raw.manifest: records = rows_loaded + rows_rejected + rows_superseded + rows_skipped for a file
-- loaded, replaced or held; all four are 0 for a file unchanged (not read again) or failed
alter table ops.run_files add column if not exists rows_superseded bigint;
alter table ops.run_files add column if not exists rows_skipped bigint;

create table if not exists ops.changed_partitions (  -- what the mart gate still has to check
    run_id varchar not null,              -- the run (or `callops accept`) that changed it
    file_id varchar,
    tenant_id varchar not null,
    first_date date not null,             -- UTC dates the file's rows span, before and after the change
    last_date date not null,
    recorded_at timestamp,
    validated_run_id varchar              -- the run whose gate passed it; null: still to check
);

create table if not exists ops.check_results (
    run_id varchar not null,
    table_name varchar not null,
    check_name varchar not null,
    column_name varchar,
    severity varchar not null,            -- blocking | warning
    success boolean not null,
    unexpected_count bigint,
    failing_keys varchar[],               -- "tenant day" of the first failing partitions
    notes varchar,
    checked_at timestamp
);
-- the tenant a result decides for (null: every tenant; results of releases before per-tenant gates),
-- and what checked: great_expectations (the mart gate; null before dbt results were kept) | dbt
alter table ops.check_results add column if not exists tenant_id varchar;
alter table ops.check_results add column if not exists checked_by varchar;

create table if not exists ops.run_tenants (  -- what a run did for each tenant it touched (callops.publish)
    run_id varchar not null,
    tenant_id varchar not null,
    publish_action varchar,               -- published | held_back (its last good figures kept); null: not published
    status varchar,                       -- success | failed, for this tenant (null while the run goes on)
    problems varchar[],                   -- this tenant's problems; a step that failed for all names no other tenant
    recorded_at timestamp
);

create table if not exists ops.builds (    -- one row per successful dbt build (callops.incremental)
    run_id varchar not null,
    fingerprint varchar not null,         -- dbt project, the Python its models import, tenant settings
    is_full boolean not null,             -- rebuilt everything (first build or a changed fingerprint)
    window_ranges json,                   -- otherwise the UTC date ranges rebuilt
    built_at timestamp not null
);

create table if not exists ops.pseudonym_key (  -- the key the raw layer's pseudonyms are made with (callops.pseudonym)
    fingerprint varchar not null,         -- HMAC-SHA256(key, 'callops key fingerprint'), hex: never the key itself
    recorded_at timestamp not null,       -- UTC; the newest row is the warehouse's key
    how varchar not null                  -- first (new warehouse) | adopted (built before fingerprints) | rekey
);

create table if not exists ops.service_alert_notices (  -- service-alert notifications sent (callops.service_alerts)
    tenant_id varchar not null,
    queue_id varchar not null,
    interval_start_at timestamp not null, -- the episode's first interval (UTC), as in marts.fct_service_alerts
    kind varchar not null,                -- service (the episode appeared) | service_recovered (closed or withdrawn)
    run_id varchar not null,              -- the run whose publish sent it
    notified_at timestamp not null,       -- UTC
    payload json,                         -- the notification as sent (alerts.jsonl's line)
    primary key (tenant_id, queue_id, interval_start_at, kind)
);

create table if not exists ops.run_steps (
    run_id varchar not null,
    step varchar not null,                -- load | build | validate | publish
    status varchar not null,              -- success | failed | warning
    finished_at timestamp,
    detail json
);
"""


def sql_literal(value: str) -> str:
    """A SQL string literal (for the few places DuckDB takes no parameter: ATTACH, read_csv options)."""
    return "'" + value.replace("'", "''") + "'"


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Another connection to ``con``'s database (for another thread), with its session settings."""
    other = con.cursor()
    other.execute("set TimeZone = 'UTC'")
    return other


def connect(path: Path | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the build warehouse with callops' memory and thread caps."""
    path = path or settings.build_db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Settings are applied with SET, not the connect-time config: dbt-duckdb keeps its own
    # connection to the same file open in-process, and DuckDB refuses a second connection
    # to one file with a different connect-time configuration.
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute(f"set memory_limit = '{settings.duckdb_memory_limit()}'")
    con.execute(f"set threads = {settings.duckdb_threads()}")
    con.execute("set TimeZone = 'UTC'")
    # Spill files hold warehouse rows (clear numbers): DuckDB's default, <database>.tmp, is in the
    # owner-only warehouse folder. Never SET again: once a connection of this process has spilled,
    # DuckDB refuses to switch it ("Cannot switch temporary directory"), even to the same folder.
    if not read_only:
        con.execute(RAW_DDL)
        con.execute(contracts.raw_ddl())  # the tables deliveries load into
    return con


@contextlib.contextmanager
def connection(path: Path | None = None, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A capped connection to the build warehouse, closed on exit (the caller holds the lock)."""
    con = connect(path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


class LockBusy(RuntimeError):
    """Another process holds a callops lock."""


@contextlib.contextmanager
def file_lock(
    path: Path, purpose: str, wait_seconds: float | None = None, holder: str | None = None
) -> Iterator[None]:
    """Hold an exclusive flock on ``path``; wait up to ``wait_seconds`` (None: forever, 0: refuse).

    ``holder`` is written into the lock file after the pid, so a refused process can say who holds it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 (held while the caller runs; closed in the finally below)
    deadline = None if wait_seconds is None else time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown process"
                    raise LockBusy(f"{purpose}: {path} is held by {holder}") from None
                time.sleep(0.2)
        note = f" ({holder})" if holder else ""
        with contextlib.suppress(OSError):  # who holds it is a courtesy to the refused: not on a full disk
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S%z')}{note}\n")
            handle.flush()
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_UN)
        with contextlib.suppress(OSError):  # a holder note still buffered on a full disk
            handle.close()


def writer_lock(wait_seconds: float | None = 600) -> contextlib.AbstractContextManager[None]:
    """The single-writer lock every task that writes the build warehouse takes."""
    return file_lock(settings.warehouse_lock_path(), "build warehouse writer", wait_seconds)


@contextlib.contextmanager
def session(read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """The writer lock plus a connection: how every step and report opens the build warehouse."""
    with writer_lock(), connection(read_only=read_only) as con:
        yield con
