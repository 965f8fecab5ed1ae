"""Publish the candidate marts: the center's file and one file per tenant (client brand).

``published/callops.duckdb`` holds every tenant, for the center that runs callops; it is the one
file others may read (0644, in a 0755 folder). ``published/tenants/<tenant_id>.duckdb`` holds one
tenant's rows only, with the same schema and table names, its run log included (that tenant's
deliveries, checks and counts, a run row per run that touched it): owner-only, or readable by the
group ``CALLOPS_PUBLISHED_GROUP`` names (callops.private). Every mart carries a ``tenant_id``
column; a table that does not is refused rather than guessed. Of a mart that compares the tenants
(``rpt_tenant_benchmark``) a tenant's file keeps the center figures only where enough tenants have a
value that none is revealed (``CENTER_FIGURES``).

The tenant is the unit of publish: a tenant the gate held back (callops.pipeline.validate_marts: its
changed partitions are still pending) keeps its last good figures, its rows of the served center
file, in both files, while every other tenant's rows come from the build warehouse.

Each file is a new file written through ``ATTACH ... (STORAGE_VERSION 'v1.0.0')`` (DuckDB
``OLDEST_DUCKDB_READER`` and later read it), fsynced and renamed into place: a reader holding the old file
keeps reading the old version (its inode lives on until closed) and sees the new one when it
reopens. The replaced versions are kept under each folder's ``versions/`` (the last
``KEEP_VERSIONS``, and the last of each of the ``KEEP_DAYS`` days before; one publish links all its
files with one stamp); ``callops rollback`` serves
them again. Beside the marts, ``marts.runs`` (with ``run_tenants``, ``run_deliveries`` and
``run_checks``) logs every run, failed ones included, as of this publish (the publishing run itself
shows as running).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import time
from pathlib import Path

import duckdb

from callops import failures, private, settings, warehouse

PUBLISHED_SCHEMA = "marts"
STORAGE_VERSION = "v1.0.0"
# The oldest DuckDB that reads every published table (tests/test_simulated_month.py reads one with it;
# requirements/duckdb-oldest.txt pins it for that test).
OLDEST_DUCKDB_READER = "1.0.0"
KEEP_VERSIONS = 5
KEEP_DAYS = 7  # and the last version of each of the 7 days before (an intraday publish every 15 minutes)
TENANT_COLUMN = "tenant_id"
TENANTS_DIR = "tenants"


class PublishError(RuntimeError):
    pass


def fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tenants_dir(target: Path | None = None) -> Path:
    return (target or settings.published_db_path()).parent / TENANTS_DIR


def tenant_path(tenant_id: str, target: Path | None = None) -> Path:
    return tenants_dir(target) / f"{tenant_id}.duckdb"


def _staging(final: Path, run_id: str) -> Path:
    return final.with_name(f".{final.stem}.{re.sub(r'[^A-Za-z0-9_.-]', '_', run_id)}.tmp")


def _remove(path: Path) -> None:
    for leftover in (path, Path(f"{path}.wal")):
        leftover.unlink(missing_ok=True)


def publish(run_id: str, build_db: Path | None = None, target: Path | None = None) -> dict:
    """The center file and every tenant's file from the build warehouse's marts, the held-back
    tenants' rows from the served center file; all are written and fsynced before any is swapped."""
    build_db = build_db or settings.build_db_path()
    target = target or settings.published_db_path()
    try:
        access = private.tenant_access()  # an unknown CALLOPS_PUBLISHED_GROUP is named before anything is written
    except private.GroupError as error:
        raise PublishError(str(error)) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    target.parent.chmod(private.PUBLISHED_DIR_MODE)  # others reach the published file, and nothing else
    folder = tenants_dir(target)
    folder.mkdir(exist_ok=True)
    access.folder(folder)
    # Candidates of earlier publishes that died half-way (kill -9, power loss): the caller holds
    # the writer lock, so no other publish is writing one now.
    for leftover in [*target.parent.glob(f".{target.stem}.*.tmp*"), *folder.glob(".*.tmp*")]:
        leftover.unlink(missing_ok=True)

    center = _staging(target, run_id)
    written: list[tuple[Path, Path]] = []  # (candidate, the file it replaces)
    try:
        # a full disk is named (and its free space measured) before the candidates are removed
        with failures.writing("writing the published files", target.parent):
            # Through the warehouse's own connection (DuckDB opens a file once per process, and
            # `airflow dags test` runs every step in one): the candidates are attached to it.
            with warehouse.connection(build_db) as con:
                catalog = con.execute("select current_database()").fetchone()[0]
                held = held_back(con, run_id)
                began = time.perf_counter()
                counts, tenants = _write_center(con, catalog, build_db, center, run_id, held, target)
                written.append((center, target))
                seconds = {"center_file": time.perf_counter() - began}
                tenant_counts = {}
                for tenant in tenants:
                    final = tenant_path(tenant, target)
                    staging = _staging(final, run_id)
                    written.append((staging, final))
                    tenant_counts[tenant] = write_tenant(con, center, staging, tenant)
                seconds["tenant_files"] = time.perf_counter() - began - seconds["center_file"]
            for staging, _ in written:
                if Path(f"{staging}.wal").exists():
                    raise PublishError(
                        f"{staging}: a write-ahead log was left behind; not publishing an incomplete file"
                    )
                fsync(staging)
                # DuckDB made them owner-only (umask 077): the center file is the one others read
                if staging == center:
                    private.publish_mode(staging)
                else:
                    access.file(staging)
            stamp = version_stamp()
            for _, final in written:
                _keep_previous(final, stamp)
    except BaseException:
        # A failed candidate (a full disk) goes at once: the served files were never touched, and the
        # half-written copies would hold the room the next try needs.
        _remove(center)
        for staging, _ in written:
            _remove(staging)
        raise
    for staging, final in [*written[1:], written[0]]:  # the tenants' files, then the center's
        os.replace(staging, final)
    fsync(folder)
    fsync(target.parent)
    with warehouse.connection(build_db) as con:
        record_publish(con, run_id, tenants, held)
    return {
        "path": str(target),
        "tables": counts,
        "storage_version": STORAGE_VERSION,
        "tenants": {tenant: {"path": str(tenant_path(tenant, target)), "rows": sum(tenant_counts[tenant].values())}
                    for tenant in tenants},
        "held_back": held,
        # writing the candidates (before fsync and rename): what the tenants' files add to a publish
        "seconds": {name: round(value, 3) for name, value in seconds.items()},
    }


def version_stamp() -> str:
    """The stamp of a publish's versions (UTC, to the microsecond): sorts as it happened."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


def held_back(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """The tenants whose candidate rows the gate has not passed: a change of theirs is still pending
    (a blocking check held it back, or it came in after the gate), or this run's gate held them back."""
    pending = {
        row[0] for row in con.execute(
            "select distinct tenant_id from ops.changed_partitions where validated_run_id is null"
        ).fetchall()
    }
    for (detail,) in con.execute(
        "select arg_max(detail, finished_at) from ops.run_steps where run_id = ? and step = 'validate'", [run_id]
    ).fetchall():
        pending.update((json.loads(detail) if isinstance(detail, str) else detail or {}).get("held_back") or [])
    return sorted(pending)


def schema_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, list[tuple[str, str]]]:
    """The tables of ``catalog``'s schema ``marts`` with their (column, type)s, in order."""
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in con.execute(
        "select table_name, column_name, data_type from duckdb_columns() where database_name = ? "
        "and schema_name = ? order by table_name, column_index",
        [catalog, PUBLISHED_SCHEMA],
    ).fetchall():
        tables.setdefault(table, []).append((column, data_type))
    return tables


def _ids(values: list[str]) -> str:
    return ", ".join(warehouse.sql_literal(value) for value in values)


def _attach(con: duckdb.DuckDBPyConnection, path: Path, alias: str, read_only: bool = False) -> None:
    option = "read_only" if read_only else f"storage_version '{STORAGE_VERSION}'"
    con.execute(f"attach {warehouse.sql_literal(str(path))} as {alias} ({option})")


def _write_center(
    con: duckdb.DuckDBPyConnection, catalog: str, build_db: Path, staging: Path, run_id: str, held: list[str],
    served: Path,
) -> tuple[dict[str, int], list[str]]:
    """The center's candidate at ``staging``: the build's marts, the held-back tenants' rows from the
    ``served`` file, the run log. Returns rows per table and the tenants: every one configured or with
    rows (a delivery for a tenant callops.yml does not name is no tenant: it failed to load)."""
    marts = {name: columns for name, columns in schema_tables(con, catalog).items() if name not in RUN_LOG_SQL}
    if not marts:
        raise PublishError(f"{build_db}: no tables in schema {PUBLISHED_SCHEMA}; nothing to publish")
    untenanted = sorted(name for name, columns in marts.items() if TENANT_COLUMN not in dict(columns))
    if untenanted:
        raise PublishError(
            f"{build_db}: {PUBLISHED_SCHEMA}.{', '.join(untenanted)}: no {TENANT_COLUMN} column, so no tenant's "
            "file can hold its rows; every published mart carries the tenant it belongs to"
        )
    _attach(con, staging, "pub")
    try:
        con.execute(f"create schema pub.{PUBLISHED_SCHEMA}")
        kept = {}
        if held and served.exists():
            _attach(con, served, "served", read_only=True)
            kept = schema_tables(con, "served")
        try:
            for table in marts:
                if held and table in CENTER_FIGURES and table in kept:
                    # its center figures are over every tenant's values, a held tenant's unchecked ones
                    # too: the whole table stays as last published until every tenant passes
                    con.execute(f'create table pub.{PUBLISHED_SCHEMA}."{table}" as '
                                f'select * from {catalog}.{PUBLISHED_SCHEMA}."{table}" where false')
                    _insert_rows(con, "served", kept[table], "pub", table, marts[table], tenants=None)
                    continue
                not_held = f" where {TENANT_COLUMN} is null or {TENANT_COLUMN} not in ({_ids(held)})" if held else ""
                con.execute(
                    f'create table pub.{PUBLISHED_SCHEMA}."{table}" as '
                    f'select * from {catalog}.{PUBLISHED_SCHEMA}."{table}"{not_held}'
                )
                _insert_rows(con, "served", kept.get(table), "pub", table, marts[table], held)
        finally:
            if kept or (held and served.exists()):
                con.execute("detach served")
        _copy_comments(con, catalog, "pub", list(marts))
        tenants = sorted(
            {row[0] for row in con.execute("select id from raw.tenants").fetchall()}
            | _tenants_in(con, "pub", list(marts))
            | set(held)
        )
        con.execute("create or replace temp table publishing (tenant_id varchar, publish_action varchar)")
        if tenants:
            con.executemany(
                "insert into publishing values (?, ?)",
                [[tenant, "held_back" if tenant in held else "published"] for tenant in tenants],
            )
        counts = {table: _count(con, "pub", table) for table in marts}
        counts.update(_write_run_log(con, "pub", center_run_log(run_id)))
        con.execute("checkpoint pub")
    finally:
        con.execute("detach pub")  # closes the candidate file (before it is removed, on a failure)
    return counts, tenants


def _insert_rows(
    con, source: str, source_columns: list | None, into: str, table: str, columns: list, tenants: list[str] | None
) -> None:
    """``tenants``' rows (None: every row) of ``source``'s table into ``into``'s, by column name: a column
    the source lacks (it was published by an earlier release) is null; one it has that the table lost is
    left."""
    if not source_columns or tenants == []:
        return
    names = dict(source_columns)
    shared = [column for column, _ in columns if column in names]
    if TENANT_COLUMN not in shared:
        return
    listed = ", ".join(f'"{column}"' for column in shared)
    theirs = "" if tenants is None else f" where {TENANT_COLUMN} in ({_ids(tenants)})"
    con.execute(
        f'insert into {into}.{PUBLISHED_SCHEMA}."{table}" ({listed}) select {listed} '
        f'from {source}.{PUBLISHED_SCHEMA}."{table}"{theirs}'
    )


def _tenants_in(con: duckdb.DuckDBPyConnection, catalog: str, tables: list[str]) -> set[str]:
    union = " union ".join(
        f'select distinct {TENANT_COLUMN} from {catalog}.{PUBLISHED_SCHEMA}."{table}"' for table in tables
    )
    return {row[0] for row in con.execute(union).fetchall() if row[0] is not None}


def _count(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> int:
    return con.execute(f'select count(*) from {catalog}.{PUBLISHED_SCHEMA}."{table}"').fetchone()[0]


def write_tenant(con: duckdb.DuckDBPyConnection, center: Path, staging: Path, tenant: str) -> dict[str, int]:
    """One tenant's file at ``staging``, from a center file (a candidate, or a served version): its rows
    of every mart, and its own run log. Nothing of another tenant: not its rows, not its files' names,
    checks or counts. Returns rows per table."""
    source = "center"
    _attach(con, center, source, read_only=True)
    _attach(con, staging, "tenant")
    try:
        con.execute(f"create schema tenant.{PUBLISHED_SCHEMA}")
        tables = schema_tables(con, source)
        counts = {}
        for table in tables:
            if table in RUN_LOG_SQL:
                continue
            con.execute(
                f'create table tenant.{PUBLISHED_SCHEMA}."{table}" as '
                f"select *{_tenant_view(table, tables[table])} from {source}.{PUBLISHED_SCHEMA}.\"{table}\" "
                f"where {TENANT_COLUMN} = {warehouse.sql_literal(tenant)}"
            )
            counts[table] = _count(con, "tenant", table)
        _copy_comments(con, source, "tenant", [table for table in tables if table not in RUN_LOG_SQL])
        counts.update(_write_run_log(con, "tenant", tenant_run_log(source, tables, tenant)))
        con.execute("checkpoint tenant")
    finally:
        con.execute("detach tenant")
        con.execute("detach center")
    return counts


# What a tenant sees of the other tenants (issue "wallboard and benchmarking"): a figure over the center's
# tenants only where enough of them have a value (the mart's shareable flag: the dbt var
# benchmark_min_tenants) that it reveals none of them, never the best figure, never a rank among too
# few. With two tenants a median, a best figure or a rank would be the other tenant's exact figure.
CENTER_FIGURES = {
    "rpt_tenant_benchmark": {
        "shareable": "is_center_shareable",
        "when_shareable": ["center_p25", "center_median", "center_p75", "tenant_rank", "tenants_ranked",
                           "tenants_with_value"],
        "never": ["center_best"],
    },
}


def _tenant_view(table: str, columns: list[tuple[str, str]]) -> str:
    """The ``replace`` clause that masks ``table``'s center figures in a tenant's file ('' for a table
    with none); a column missing from the table (an earlier release's file) is left alone."""
    figures = CENTER_FIGURES.get(table)
    types = dict(columns)
    if not figures:
        return ""
    if figures["shareable"] not in types:  # a file of a release before the flag: no center figure is kept
        masked = [*figures["when_shareable"], *figures["never"]]
        shown = []
    else:
        masked, shown = figures["never"], figures["when_shareable"]
    replaced = [f'case when "{figures["shareable"]}" then "{column}" end as "{column}"'
                for column in shown if column in types]
    replaced += [f'cast(null as {types[column]}) as "{column}"' for column in masked if column in types]
    return f" replace ({', '.join(replaced)})" if replaced else ""


def _copy_comments(con: duckdb.DuckDBPyConnection, catalog: str, into: str, tables: list[str]) -> None:
    """The marts' table and column comments, as BI tools show them: the models' dbt descriptions, which
    dbt writes into the build warehouse (``persist_docs``; the KPIs' from the doc blocks of
    dbt_project/models/_kpis__docs.md). Whitespace is folded: a description wraps in its YAML."""
    statements = []
    for table, comment in con.execute(
        "select table_name, comment from duckdb_tables() where database_name = ? and schema_name = ? "
        "and comment is not null and comment <> ''",
        [catalog, PUBLISHED_SCHEMA],
    ).fetchall():
        if table in tables:
            statements.append(f'comment on table {into}.{PUBLISHED_SCHEMA}."{table}" is {_comment(comment)}')
    for table, column, comment in con.execute(
        "select table_name, column_name, comment from duckdb_columns() where database_name = ? "
        "and schema_name = ? and comment is not null and comment <> '' order by table_name, column_index",
        [catalog, PUBLISHED_SCHEMA],
    ).fetchall():
        if table in tables:
            statements.append(
                f'comment on column {into}.{PUBLISHED_SCHEMA}."{table}"."{column}" is {_comment(comment)}'
            )
    _in_one_transaction(con, statements)


def _in_one_transaction(con: duckdb.DuckDBPyConnection, statements: list[str]) -> None:
    if statements:
        # one transaction: a comment committed on its own costs a commit each (2 s for the marts' 500)
        con.execute("begin")
        try:
            con.execute(";\n".join(statements))
        except BaseException:
            con.execute("rollback")
            raise
        con.execute("commit")


def _comment(text: str) -> str:
    return warehouse.sql_literal(" ".join(text.split()))


def record_publish(con: duckdb.DuckDBPyConnection, run_id: str, tenants: list[str], held: list[str]) -> None:
    """What this run's publish did for each tenant (``ops.run_tenants``; finish_run adds the outcome)."""
    con.execute("delete from ops.run_tenants where run_id = ?", [run_id])
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if tenants:
        con.executemany(
            "insert into ops.run_tenants (run_id, tenant_id, publish_action, recorded_at) values (?, ?, ?, ?)",
            [[run_id, tenant, "held_back" if tenant in held else "published", now] for tenant in tenants],
        )


# --- the run log ----------------------------------------------------------------------------------
#
# What BI users see beside the marts: every run, failed ones included, as of this publish. The center's
# is read from the build warehouse's ops tables; a tenant's from the center file's run tables, its own
# rows only (so a tenant's file can be made again from any center version). The four sources are temp
# tables of these columns, filled by center_run_log or tenant_run_log.

RUN_LOG_SOURCES = {
    "log_runs": "run_id, started_at, finished_at, status, first_delivery_date, last_delivery_date",
    "log_tenants": "run_id, tenant_id, publish_action, status, problems",
    "log_deliveries": "run_id, tenant_id, feed, delivery_date, file_name, action, rows_loaded, rows_rejected, "
    "rows_superseded, rows_skipped, message",
    "log_checks": "run_id, table_name, check_name, column_name, severity, success, unexpected_count, failing_keys, "
    "notes, checked_at, tenant_id, checked_by",
}
_EMPTY = {
    "log_tenants": "select null::varchar as run_id, null::varchar as tenant_id, null::varchar as publish_action, "
    "null::varchar as status, null::varchar as problems where false",
    "log_checks": "select null::varchar as run_id, null::varchar as table_name, null::varchar as check_name, "
    "null::varchar as column_name, null::varchar as severity, null::boolean as success, "
    "null::bigint as unexpected_count, null::varchar as failing_keys, null::varchar as notes, "
    "null::timestamp as checked_at, null::varchar as tenant_id, null::varchar as checked_by where false",
}


@dataclasses.dataclass
class RunLog:
    sources: dict[str, str]  # temp table -> the query filling it (RUN_LOG_SOURCES' columns)
    tenant: str | None = None  # a tenant's file: its runs only, each with its own status


def center_run_log(run_id: str) -> RunLog:
    """Every run, from the build warehouse; this run's tenants as the publish under way treats them."""
    return RunLog({
        "log_runs": "select run_id, started_at, finished_at, status, start_date as first_delivery_date, "
        "end_date as last_delivery_date from ops.runs",
        "log_tenants": "select run_id, tenant_id, publish_action, status, to_json(problems)::varchar as problems "
        f"from ops.run_tenants where run_id <> {warehouse.sql_literal(run_id)} "
        f"union all select {warehouse.sql_literal(run_id)}, tenant_id, publish_action, null, null from publishing",
        "log_deliveries": f"select {RUN_LOG_SOURCES['log_deliveries']} from ops.run_files",
        "log_checks": "select run_id, table_name, check_name, column_name, severity, success, unexpected_count, "
        "coalesce(to_json(failing_keys)::varchar, '[]') as failing_keys, notes, checked_at, tenant_id, "
        "coalesce(checked_by, 'great_expectations') as checked_by from ops.check_results",
    })


def tenant_run_log(center: str, tables: dict[str, list], tenant: str) -> RunLog:
    """One tenant's rows of a center file's run log (attached as ``center``). A center file of a release
    before per-tenant files has no run_tenants and no tenant on its checks: the tenant's deliveries
    alone are its run log there."""
    mine = f"where tenant_id = {warehouse.sql_literal(tenant)}"
    sources = {"log_runs": f"select {RUN_LOG_SOURCES['log_runs']} from {center}.{PUBLISHED_SCHEMA}.runs"}
    for source, table in (("log_tenants", "run_tenants"), ("log_deliveries", "run_deliveries"),
                          ("log_checks", "run_checks")):
        columns = dict(tables.get(table) or [])
        if TENANT_COLUMN in columns and "varchar[]" not in columns.get("failing_keys", "").lower():
            sources[source] = f"select {RUN_LOG_SOURCES[source]} from {center}.{PUBLISHED_SCHEMA}.{table} {mine}"
        else:
            sources[source] = _EMPTY[source]
    return RunLog(sources, tenant)


RUN_LOG_SQL = {
    "runs": """
        select
            runs.run_id,
            runs.started_at,
            runs.finished_at,
            {status} as status,
            runs.first_delivery_date,
            runs.last_delivery_date,
            coalesce(files.delivery_count, 0) as delivery_count,
            coalesce(files.loaded_count, 0) as loaded_count,
            coalesce(files.held_count, 0) as held_count,
            coalesce(files.failed_count, 0) as failed_count,
            coalesce(files.unchanged_count, 0) as unchanged_count,
            cast(coalesce(files.rows_loaded, 0) as bigint) as rows_loaded,
            cast(coalesce(files.rows_rejected, 0) as bigint) as rows_rejected,
            -- null for a run of a release that did not count them (sum of nulls)
            cast(case when files.run_id is null then 0 else files.rows_superseded end as bigint) as rows_superseded,
            cast(case when files.run_id is null then 0 else files.rows_skipped end as bigint) as rows_skipped,
            coalesce(checks.check_count, 0) as check_count,
            coalesce(checks.blocking_failed_count, 0) as blocking_failed_count,
            coalesce(checks.warning_failed_count, 0) as warning_failed_count,
            coalesce(files.deliveries, '[]') as deliveries,
            coalesce(checks.checks, '[]') as checks
        from log_runs as runs
        left join (
            select run_id,
                count(*) as delivery_count,
                count(*) filter (where action in ('loaded', 'replaced')) as loaded_count,
                count(*) filter (where action = 'held') as held_count,
                count(*) filter (where action = 'failed') as failed_count,
                count(*) filter (where action = 'unchanged') as unchanged_count,
                sum(rows_loaded) as rows_loaded,
                sum(rows_rejected) as rows_rejected,
                sum(rows_superseded) as rows_superseded,
                sum(rows_skipped) as rows_skipped,
                to_json(list({{
                    'tenant_id': tenant_id, 'feed': feed, 'delivery_date': delivery_date,
                    'file_name': file_name, 'action': action, 'rows_loaded': rows_loaded,
                    'rows_rejected': rows_rejected, 'rows_superseded': rows_superseded,
                    'rows_skipped': rows_skipped, 'message': message
                }} order by delivery_date, tenant_id, feed, file_name))::varchar as deliveries
            from log_deliveries group by run_id
        ) as files on runs.run_id = files.run_id
        left join (
            select run_id,
                count(*) as check_count,
                count(*) filter (where not success and severity = 'blocking') as blocking_failed_count,
                count(*) filter (where not success and severity <> 'blocking') as warning_failed_count,
                to_json(list({{
                    'tenant_id': tenant_id, 'checked_by': checked_by, 'table_name': table_name,
                    'check_name': check_name, 'column_name': column_name, 'severity': severity,
                    'success': success, 'unexpected_count': unexpected_count,
                    'failing_keys': json(failing_keys), 'notes': notes
                }} order by table_name, check_name, column_name, tenant_id))::varchar as checks
            from log_checks group by run_id
        ) as checks on runs.run_id = checks.run_id
        {tenant_join}
        order by runs.started_at, runs.run_id
    """,
    "run_tenants": "select * from log_tenants order by run_id, tenant_id",
    "run_deliveries": "select * from log_deliveries order by run_id, delivery_date, tenant_id, feed, file_name",
    "run_checks": "select * from log_checks order by run_id, table_name, check_name, column_name, tenant_id",
}
TENANT_RUNS = """
        left join log_tenants as tenants on runs.run_id = tenants.run_id
        where runs.run_id in (
            select run_id from log_deliveries union select run_id from log_checks union select run_id from log_tenants
        )"""


def _write_run_log(con: duckdb.DuckDBPyConnection, into: str, log: RunLog) -> dict[str, int]:
    for name, query in log.sources.items():
        con.execute(f"create or replace temp table {name} as select {RUN_LOG_SOURCES[name]} from ({query})")
    counts = {}
    for table, sql in RUN_LOG_SQL.items():
        if table == "runs":
            # a tenant's own outcome of a finished run (another tenant's failure is not its own)
            if log.tenant:
                sql = sql.format(status="coalesce(tenants.status, runs.status)", tenant_join=TENANT_RUNS)
            else:
                sql = sql.format(status="runs.status", tenant_join="")
        con.execute(f"create table {into}.{PUBLISHED_SCHEMA}.{table} as {sql}")
        counts[table] = _count(con, into, table)
    statements = [
        f"comment on table {into}.{PUBLISHED_SCHEMA}.{table} is "
        + warehouse.sql_literal(RUN_LOG_COMMENTS[table]["table"])
        for table in RUN_LOG_SQL
    ] + [
        f"comment on column {into}.{PUBLISHED_SCHEMA}.{table}.{column} is {warehouse.sql_literal(comment)}"
        for table in RUN_LOG_SQL
        for column, comment in RUN_LOG_COMMENTS[table]["columns"].items()
    ]
    _in_one_transaction(con, statements)
    for name in log.sources:
        con.execute(f"drop table {name}")
    return counts


_SUPERSEDED = (
    "records replaced by another record of the same contact in the same file (an earlier Amazon Connect "
    "version of a ContactId, a forked Asterisk CDR merged into its stint)"
)
_SKIPPED = (
    "records read but not modelled (chats, MONITOR legs, internal calls, agent legs, calls dialled straight "
    "to a phone; the message names them)"
)
_OLD_RELEASE = "null: loaded by a release that did not count them"
_OLD_RUN = "null: a run of a release that did not count them"
RUN_LOG_COMMENTS = {
    "runs": {
        "table": "One row per callops run, failed and interrupted ones included, as of this publish (the "
        "publishing run itself shows as running): its delivery days, what became of its files and what the "
        "publish gate found. In a tenant's file: the runs that touched the tenant, counted over its own files "
        "and checks.",
        "columns": {
            "run_id": "the run's id (as in run_deliveries and run_checks)",
            "started_at": "when the run started (UTC)",
            "finished_at": "when the run ended (UTC); null while it runs",
            "status": "running, success, failed, or interrupted (still marked running when a later run "
            "started: it died); in a tenant's file, how the run ended for that tenant (run_tenants.status)",
            "first_delivery_date": "the first delivery day (landing folder date) the run read",
            "last_delivery_date": "the last delivery day (landing folder date) the run read",
            "delivery_count": "delivered files the run read (its rows of run_deliveries)",
            "loaded_count": "files loaded, or replaced (re-delivered with new content)",
            "held_count": "files held back by the delivery gate (a rejected share above the tenant's threshold)",
            "failed_count": "files that could not be loaded (the message says why)",
            "unchanged_count": "files already loaded with the same content (not read again)",
            "rows_loaded": "records of the run's files loaded into the raw layer",
            "rows_rejected": "records of the run's files quarantined with their reason (callops rejects)",
            "rows_superseded": f"{_SUPERSEDED}, summed over the run's files; {_OLD_RUN}",
            "rows_skipped": f"{_SKIPPED}, summed over the run's files; {_OLD_RUN}",
            "check_count": "publish-gate checks the run made (its rows of run_checks)",
            "blocking_failed_count": "blocking checks that failed (their tenant's new figures were held back)",
            "warning_failed_count": "warning checks that failed (published and reported)",
            "deliveries": "the run's files as a JSON array (text), one object per file with the columns of "
            "run_deliveries but run_id: tenant_id, feed, delivery_date, file_name, action, rows_loaded, "
            "rows_rejected, rows_superseded, rows_skipped, message; [] for none",
            "checks": "the run's checks as a JSON array (text), one object per check with the columns of "
            "run_checks but run_id and checked_at: tenant_id, checked_by, table_name, check_name, column_name, "
            "severity, success, unexpected_count, failing_keys (an array of strings), notes; [] for none",
        },
    },
    "run_tenants": {
        "table": "One row per run and tenant it published, held back or loaded files of: what the run did for "
        "the tenant and how it ended for it.",
        "columns": {
            "run_id": "the run (runs.run_id)",
            "tenant_id": "the tenant (client brand)",
            "publish_action": "published (its new figures), held_back (a blocking check failed: its last good "
            "figures stayed published) or null (the run published nothing)",
            "status": "success or failed, for this tenant; null while the run goes on",
            "problems": "what failed for the tenant, as a JSON array of strings (text): its held or failed files, "
            "its failed blocking checks; a step that failed for every tenant is named without detail",
        },
    },
    "run_deliveries": {
        "table": "One row per run and delivered file it read: what became of the file and of each of its "
        "records (records = rows_loaded + rows_rejected + rows_superseded + rows_skipped; all 0 for a file "
        "unchanged or failed).",
        "columns": {
            "run_id": "the run that read the file (runs.run_id)",
            "tenant_id": "the tenant that delivered the file",
            "feed": "the feed: telephony, qa, hr or marketing",
            "delivery_date": "the delivery day (the landing folder's date)",
            "file_name": "the file's name in its landing folder",
            "action": "loaded, replaced (a re-delivery with new content), held (by the delivery gate), "
            "unchanged (already loaded with the same content) or failed",
            "rows_loaded": "records of the file loaded into the raw layer",
            "rows_rejected": "records quarantined with their reason (callops rejects)",
            "rows_superseded": f"{_SUPERSEDED}; {_OLD_RELEASE}",
            "rows_skipped": f"{_SKIPPED}; {_OLD_RELEASE}",
            "message": "what became of the file, in words (why it was held or failed, what was skipped)",
        },
    },
    "run_checks": {
        "table": "One row per run, check and tenant: each publish-gate check (Great Expectations) a run made on "
        "a published table, passed ones included, and each dbt data test that failed in the run's build.",
        "columns": {
            "run_id": "the run whose gate made the check (runs.run_id)",
            "table_name": "the published table checked (a dbt data test: the model it tests)",
            "check_name": "the expectation, e.g. expect_column_values_to_be_between, or the dbt data test",
            "column_name": "the column checked (column_A/column_B for a pair); null for a table check",
            "severity": "blocking (a failure holds back its tenant's new figures: its last good ones stay "
            "published) or warning (published and reported)",
            "success": "true: the check passed for the tenant",
            "unexpected_count": "rows that failed the check",
            "failing_keys": "the first failing rows' keys (e.g. tenant and day) as a JSON array of strings "
            "(text), at most 100; [] when none failed",
            "notes": "why the check exists (a dbt data test: its first failing rows)",
            "checked_at": "when the gate ran (UTC)",
            "tenant_id": "the tenant the result is for; null: a failed check whose rows name no tenant (it held "
            "back every tenant), or a check of a release before results per tenant",
            "checked_by": "great_expectations (the publish gate) or dbt (a data test of the build)",
        },
    },
}


# --- versions and rollback -------------------------------------------------------------------------


def _versions_dir(target: Path) -> Path:
    return target.parent / "versions"


def versions(target: Path | None = None) -> list[Path]:
    """Earlier published versions of a file, oldest first (the newest is what a rollback serves)."""
    target = target or settings.published_db_path()
    return sorted(_versions_dir(target).glob(f"{target.stem}.*{target.suffix}"))


def tenant_files(target: Path | None = None) -> list[Path]:
    return sorted(tenants_dir(target).glob("*.duckdb"))


def rollback(target: Path | None = None, tenant: str | None = None) -> dict:
    """Serve the previous published versions again (each file atomically, like a publish).

    Without ``tenant``: the center file and every tenant's file, each one version back (a publish
    versions them together). A tenant's file with no earlier version (its first publish, or the
    first since an upgrade) is made again from the center version now served. With ``tenant``: that
    tenant's file one version back, and its rows in the center file replaced by that version's rows;
    the other tenants' rows and the run log stay as they are.

    The versions being replaced are set aside under ``versions/rolled_back/`` (never served by a
    later rollback), so repeated rollbacks walk further back. The build warehouse is untouched:
    the next successful run publishes its candidate again.
    """
    target = target or settings.published_db_path()
    if tenant is not None:
        return _rollback_tenant(target, tenant)
    earlier = versions(target)
    if not earlier and (rekeyed := _rekeyed(target)):
        raise PublishError(
            f"{target}: no earlier published version since the pseudonymisation key was rotated "
            f"(`callops rekey` at {rekeyed}): the versions made with the old key were removed, and a rollback "
            "across a rekey is refused (its pseudonyms would not match the warehouse's)"
        )
    if not target.exists() or not earlier:
        raise PublishError(f"{target}: no earlier published version to roll back to")
    access = private.tenant_access()
    stamp = version_stamp()
    done = _serve_previous(target, stamp, private.publish_mode)
    done["tenants"] = {}
    for path in tenant_files(target):
        if versions(path):
            done["tenants"][path.stem] = _serve_previous(path, stamp, access.file)["served"]
            continue
        _set_aside(path, stamp)
        staging = _staging(path, "rollback")
        _remove(staging)
        with duckdb.connect() as con:
            write_tenant(con, target, staging, path.stem)
        fsync(staging)
        access.file(staging)
        os.replace(staging, path)
        done["tenants"][path.stem] = f"made again from {done['served']}"
    fsync(tenants_dir(target))
    return done


def _serve_previous(target: Path, stamp: str, mode) -> dict:
    """``target``'s newest earlier version served again; the version it replaces set aside."""
    previous = versions(target)[-1]
    set_aside = _set_aside(target, stamp)
    staging = target.with_name(f".{target.stem}.rollback.tmp")
    staging.unlink(missing_ok=True)
    os.link(previous, staging)
    mode(staging)
    os.replace(staging, target)
    previous.unlink()
    fsync(target.parent)
    return {"path": str(target), "served": previous.name, "set_aside": set_aside}


def _set_aside(target: Path, stamp: str) -> str:
    folder = _versions_dir(target) / "rolled_back"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{target.stem}.{stamp}{target.suffix}"
    os.link(target, folder / name)
    return f"rolled_back/{name}"


def _rollback_tenant(target: Path, tenant: str) -> dict:
    path = tenant_path(tenant, target)
    earlier = versions(path)
    if not path.exists():
        known = ", ".join(p.stem for p in tenant_files(target)) or "none"
        raise PublishError(f"{path}: tenant {tenant} has no published file (tenants with one: {known})")
    if not earlier:
        raise PublishError(f"{path}: no earlier version of tenant {tenant}'s file to roll back to")
    if not target.exists():
        raise PublishError(f"{target}: no center file to roll back tenant {tenant}'s rows in")
    previous = earlier[-1]
    # The center version of the same publish (one stamp names all its files), while it is kept: its rows
    # of the tenant carry the center figures a tenant's file masks (CENTER_FIGURES).
    same_publish = _versions_dir(target) / f"{target.stem}{previous.stem[len(path.stem):]}{target.suffix}"
    staging = _staging(target, f"rollback_{tenant}")
    _remove(staging)
    try:
        with duckdb.connect() as con:
            _attach(con, target, "served", read_only=True)
            _attach(con, previous, "kept", read_only=True)
            if same_publish.exists():
                _attach(con, same_publish, "kept_center", read_only=True)
            _attach(con, staging, "pub")
            con.execute(f"create schema pub.{PUBLISHED_SCHEMA}")
            tables, kept = schema_tables(con, "served"), schema_tables(con, "kept")
            kept_center = schema_tables(con, "kept_center") if same_publish.exists() else {}
            for table, columns in tables.items():
                others = "" if table in RUN_LOG_SQL else (
                    f" where {TENANT_COLUMN} is null or {TENANT_COLUMN} <> {warehouse.sql_literal(tenant)}"
                )
                con.execute(
                    f'create table pub.{PUBLISHED_SCHEMA}."{table}" as '
                    f'select * from served.{PUBLISHED_SCHEMA}."{table}"{others}'
                )
                if others and table in CENTER_FIGURES and table in kept_center:
                    _insert_rows(con, "kept_center", kept_center[table], "pub", table, columns, [tenant])
                elif others:
                    _insert_rows(con, "kept", kept.get(table), "pub", table, columns, [tenant])
            _copy_comments(con, "served", "pub", list(tables))
            con.execute("checkpoint pub")
        fsync(staging)
        private.publish_mode(staging)
    except BaseException:
        _remove(staging)
        raise
    stamp = version_stamp()
    done = _serve_previous(path, stamp, private.tenant_access().file)
    center_aside = _set_aside(target, stamp)
    os.replace(staging, target)
    fsync(target.parent)
    return done | {"center": str(target), "center_set_aside": center_aside}


REKEYED = "rekeyed.json"  # in versions/: when `callops rekey` removed the versions, and what was served then


def forget_versions(target: Path | None = None) -> None:
    """``callops rekey``: remove every earlier version of the center's and the tenants' files (their
    pseudonyms are the old key's), and remember the files served now, so that they are not kept as
    versions either when the next publish replaces them (a rekey whose gate blocked leaves them served)."""
    target = target or settings.published_db_path()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    for files in ([target], tenant_files(target)):
        folder = _versions_dir(files[0]) if files else None
        if folder is None or not folder.parent.exists():
            continue
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, mode=0o700)
        served = {path.name: path.stat().st_ino for path in files if path.exists()}
        (folder / REKEYED).write_text(json.dumps({"rekeyed_at": stamp, "served_inodes": served}))
        fsync(folder.parent)


def _rekey_marker(target: Path) -> dict:
    """What `callops rekey` left in ``target``'s versions/ (empty: no rekey, or a marker unreadable)."""
    try:
        marker = json.loads((_versions_dir(target) / REKEYED).read_text())
    except (OSError, ValueError):
        return {}
    return marker if isinstance(marker, dict) else {}


def _rekeyed(target: Path) -> str | None:
    return _rekey_marker(target).get("rekeyed_at")


def _made_before_rekey(target: Path) -> bool:
    marker = _rekey_marker(target)
    if not marker:
        return False
    inode = target.stat().st_ino
    # served_inode: the marker of a release before tenant files (the center file alone)
    return inode == marker.get("served_inode") or inode == (marker.get("served_inodes") or {}).get(target.name)


def _version_day(target: Path, version: Path) -> dt.date | None:
    """The UTC day a version was replaced (its stamp); None for a name that carries no stamp."""
    stamp = version.name[len(target.stem) + 1:][:8]
    try:
        return dt.datetime.strptime(stamp, "%Y%m%d").date()
    except ValueError:
        return None


def versions_to_keep(target: Path, earlier: list[Path]) -> set[Path]:
    """Of ``target``'s earlier versions (oldest first), those kept: the last ``KEEP_VERSIONS`` (with a
    publish every 15 minutes, the last hour), and the last of each of the ``KEEP_DAYS`` days before the
    newest one's day (UTC), to roll back to yesterday's or last week's figures."""
    kept = set(earlier[-KEEP_VERSIONS:])
    if not earlier or (today := _version_day(target, earlier[-1])) is None:
        return kept
    last_of_day: dict[dt.date, Path] = {}
    for version in earlier:  # oldest first: the last one of a day wins
        if (day := _version_day(target, version)) is not None:
            last_of_day[day] = version
    kept.update(version for day, version in last_of_day.items()
                if today - dt.timedelta(days=KEEP_DAYS) <= day < today)
    return kept


def _keep_previous(target: Path, stamp: str) -> None:
    if not target.exists() or _made_before_rekey(target):
        return  # nothing served yet, or made with the key a rekey replaced: never a version to roll back to
    folder = _versions_dir(target)
    folder.mkdir(mode=0o700, exist_ok=True)  # owner-only, whoever may read the file served
    os.link(target, folder / f"{target.stem}.{stamp}{target.suffix}")
    earlier = versions(target)
    kept = versions_to_keep(target, earlier)
    for old in earlier:
        if old not in kept:
            old.unlink()
    for old in sorted((folder / "rolled_back").glob(f"{target.stem}.*{target.suffix}"))[:-KEEP_VERSIONS]:
        old.unlink()
