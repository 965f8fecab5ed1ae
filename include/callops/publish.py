"""Publish the candidate marts: a new file, fsynced, renamed onto published/callops.duckdb.

The published file is written through ``ATTACH ... (STORAGE_VERSION 'v1.0.0')``
so BI tools embedding DuckDB 1.x can open it. The rename is atomic: a reader
that holds the old file open keeps reading the old version (its inode lives on
until closed) and sees the new data when it reopens. The previous version is
kept under ``published/versions/`` (the last ``KEEP_VERSIONS``); ``callops rollback``
serves the newest of them again. Beside the marts, ``marts.runs`` (with
``marts.run_deliveries`` and ``marts.run_checks``) logs every run, failed ones
included, as of this publish (the publishing run itself shows as running).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from pathlib import Path

from callops import failures, private, settings, warehouse

PUBLISHED_SCHEMA = "marts"
STORAGE_VERSION = "v1.0.0"
# The oldest DuckDB that reads every published table (tests/test_simulated_month.py reads one with it;
# requirements/duckdb-oldest.txt pins it for that test).
OLDEST_DUCKDB_READER = "1.0.0"
KEEP_VERSIONS = 5


class PublishError(RuntimeError):
    pass


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(run_id: str, build_db: Path | None = None, target: Path | None = None) -> dict:
    build_db = build_db or settings.build_db_path()
    target = target or settings.published_db_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.parent.chmod(private.PUBLISHED_DIR_MODE)  # others reach the published file, and nothing else
    safe_run = re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)
    staging = target.with_name(f".{target.stem}.{safe_run}.tmp")
    # Candidates of earlier publishes that died half-way (kill -9, power loss): the caller holds
    # the writer lock, so no other publish is writing one now.
    for leftover in target.parent.glob(f".{target.stem}.*.tmp*"):
        leftover.unlink(missing_ok=True)

    try:
        # a full disk is named (and its free space measured) before the candidate is removed
        with failures.writing("writing the published file", target.parent):
            counts = _write_candidate(build_db, staging)
            wal = Path(f"{staging}.wal")
            if wal.exists():
                raise PublishError(f"{staging}: a write-ahead log was left behind; not publishing an incomplete file")
            _fsync(staging)
            private.publish_mode(staging)  # DuckDB made it owner-only (umask 077): the one file others read
            _keep_previous(target)
    except BaseException:
        # A failed candidate (a full disk) goes at once: the served file was never touched, and the
        # half-written copy would hold the room the next try needs.
        for leftover in (staging, Path(f"{staging}.wal")):
            leftover.unlink(missing_ok=True)
        raise
    os.replace(staging, target)
    _fsync(target.parent)
    return {"path": str(target), "tables": counts, "storage_version": STORAGE_VERSION}


def _write_candidate(build_db: Path, staging: Path) -> dict[str, int]:
    """Copy the build warehouse's marts and the run log into a new file at ``staging``; rows per table."""
    # Through the warehouse's own connection (DuckDB opens a file once per process, and
    # `airflow dags test` runs every step in one): the candidate is its main database.
    with warehouse.connection(build_db) as con:
        catalog = con.execute("select current_database()").fetchone()[0]
        con.execute(f"attach {warehouse.sql_literal(str(staging))} as pub (storage_version '{STORAGE_VERSION}')")
        try:
            tables = [
                row[0]
                for row in con.execute(
                    "select table_name from duckdb_tables() where database_name = ? and schema_name = ? "
                    "order by table_name",
                    [catalog, PUBLISHED_SCHEMA],
                ).fetchall()
            ]
            if not tables:
                raise PublishError(f"{build_db}: no tables in schema {PUBLISHED_SCHEMA}; nothing to publish")
            con.execute(f"create schema pub.{PUBLISHED_SCHEMA}")
            counts = {}
            for table in tables:
                con.execute(
                    f'create table pub.{PUBLISHED_SCHEMA}."{table}" as select * from {PUBLISHED_SCHEMA}."{table}"'
                )
                counts[table] = con.execute(f'select count(*) from pub.{PUBLISHED_SCHEMA}."{table}"').fetchone()[0]
            _copy_comments(con, catalog, tables)
            counts.update(_copy_run_log(con))
            con.execute("checkpoint pub")
        finally:
            con.execute("detach pub")  # closes the candidate file (before it is removed, on a failure)
    return counts


def _copy_comments(con, catalog: str, tables: list[str]) -> None:
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
            statements.append(f'comment on table pub.{PUBLISHED_SCHEMA}."{table}" is {_comment(comment)}')
    for table, column, comment in con.execute(
        "select table_name, column_name, comment from duckdb_columns() where database_name = ? "
        "and schema_name = ? and comment is not null and comment <> '' order by table_name, column_index",
        [catalog, PUBLISHED_SCHEMA],
    ).fetchall():
        if table in tables:
            statements.append(
                f'comment on column pub.{PUBLISHED_SCHEMA}."{table}"."{column}" is {_comment(comment)}'
            )
    _execute_at_once(con, statements)


def _execute_at_once(con, statements: list[str]) -> None:
    """``statements`` in one transaction: a comment committed on its own costs a commit each (2 s for
    the marts' 500)."""
    if statements:
        con.execute("begin")
        try:
            con.execute(";\n".join(statements))
        except BaseException:
            con.execute("rollback")
            raise
        con.execute("commit")


def _comment(text: str) -> str:
    return warehouse.sql_literal(" ".join(text.split()))


# The run log BI users see beside the marts: every run, failed ones included, as of this publish. In
# types every BI tool reads: sums cast to bigint (DuckDB's is a hugeint), lists as JSON text (DuckDB
# 1.0 cannot read a list column of a v1.0.0 file whose lists are all empty or null).
RUN_LOG_SQL = {
    "runs": """
        select
            runs.run_id,
            runs.started_at,
            runs.finished_at,
            runs.status,
            runs.start_date as first_delivery_date,
            runs.end_date as last_delivery_date,
            coalesce(files.delivery_count, 0) as delivery_count,
            coalesce(files.loaded_count, 0) as loaded_count,
            coalesce(files.held_count, 0) as held_count,
            coalesce(files.failed_count, 0) as failed_count,
            coalesce(files.unchanged_count, 0) as unchanged_count,
            coalesce(files.rows_loaded, 0) as rows_loaded,
            coalesce(files.rows_rejected, 0) as rows_rejected,
            -- null for a run of a release that did not count them (sum of nulls)
            case when files.run_id is null then 0 else files.rows_superseded end as rows_superseded,
            case when files.run_id is null then 0 else files.rows_skipped end as rows_skipped,
            coalesce(checks.check_count, 0) as check_count,
            coalesce(checks.blocking_failed_count, 0) as blocking_failed_count,
            coalesce(checks.warning_failed_count, 0) as warning_failed_count,
            coalesce(files.deliveries, '[]') as deliveries,
            coalesce(checks.checks, '[]') as checks
        from ops.runs as runs
        left join (
            select run_id,
                count(*) as delivery_count,
                count(*) filter (where action in ('loaded', 'replaced')) as loaded_count,
                count(*) filter (where action = 'held') as held_count,
                count(*) filter (where action = 'failed') as failed_count,
                count(*) filter (where action = 'unchanged') as unchanged_count,
                cast(sum(rows_loaded) as bigint) as rows_loaded,
                cast(sum(rows_rejected) as bigint) as rows_rejected,
                cast(sum(rows_superseded) as bigint) as rows_superseded,
                cast(sum(rows_skipped) as bigint) as rows_skipped,
                cast(to_json(list({
                    'tenant_id': tenant_id, 'feed': feed, 'delivery_date': delivery_date,
                    'file_name': file_name, 'action': action, 'rows_loaded': rows_loaded,
                    'rows_rejected': rows_rejected, 'rows_superseded': rows_superseded,
                    'rows_skipped': rows_skipped, 'message': message
                } order by delivery_date, tenant_id, feed, file_name)) as varchar) as deliveries
            from ops.run_files group by run_id
        ) as files on runs.run_id = files.run_id
        left join (
            select run_id,
                count(*) as check_count,
                count(*) filter (where not success and severity = 'blocking') as blocking_failed_count,
                count(*) filter (where not success and severity <> 'blocking') as warning_failed_count,
                cast(to_json(list({
                    'table_name': table_name, 'check_name': check_name, 'column_name': column_name,
                    'severity': severity, 'success': success, 'unexpected_count': unexpected_count,
                    'failing_keys': failing_keys, 'notes': notes
                } order by table_name, check_name, column_name)) as varchar) as checks
            from ops.check_results group by run_id
        ) as checks on runs.run_id = checks.run_id
        order by runs.started_at
    """,
    "run_deliveries": """
        select run_id, tenant_id, feed, delivery_date, file_name, action, rows_loaded, rows_rejected,
            rows_superseded, rows_skipped, message
        from ops.run_files order by run_id, delivery_date, tenant_id, feed, file_name
    """,
    "run_checks": """
        select run_id, table_name, check_name, column_name, severity, success, unexpected_count,
            cast(to_json(failing_keys) as varchar) as failing_keys, notes, checked_at
        from ops.check_results order by run_id, table_name, check_name, column_name
    """,
}


# Table and column comments of the run log (shown by BI tools that read DuckDB's catalog): every table
# and every column has one. A delivery's records are counted once:
# records = rows_loaded + rows_rejected + rows_superseded + rows_skipped.
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
        "publish gate found.",
        "columns": {
            "run_id": "the run's id (as in run_deliveries and run_checks)",
            "started_at": "when the run started (UTC)",
            "finished_at": "when the run ended (UTC); null while it runs",
            "status": "running, success, failed, or interrupted (still marked running when a later run "
            "started: it died)",
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
            "blocking_failed_count": "blocking checks that failed (the run published nothing)",
            "warning_failed_count": "warning checks that failed (published and reported)",
            "deliveries": "the run's files as a JSON array (text), one object per file with the columns of "
            "run_deliveries but run_id: tenant_id, feed, delivery_date, file_name, action, rows_loaded, "
            "rows_rejected, rows_superseded, rows_skipped, message; [] for none",
            "checks": "the run's checks as a JSON array (text), one object per check with the columns of "
            "run_checks but run_id and checked_at: table_name, check_name, column_name, severity, success, "
            "unexpected_count, failing_keys (an array of strings), notes; [] for none",
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
        "table": "One row per publish-gate check (Great Expectations) a run made on a published table, "
        "passed ones included.",
        "columns": {
            "run_id": "the run whose gate made the check (runs.run_id)",
            "table_name": "the published table checked",
            "check_name": "the expectation, e.g. expect_column_values_to_be_between",
            "column_name": "the column checked (column_A/column_B for a pair); null for a table check",
            "severity": "blocking (a failure publishes nothing) or warning (published and reported)",
            "success": "true: the check passed",
            "unexpected_count": "rows that failed the check",
            "failing_keys": "the first failing rows' keys (e.g. tenant and day) as a JSON array of strings "
            "(text), at most 100; [] when none failed",
            "notes": "why the check exists",
            "checked_at": "when the gate ran (UTC)",
        },
    },
}


def _copy_run_log(con) -> dict[str, int]:
    counts = {}
    for table, sql in RUN_LOG_SQL.items():
        con.execute(f"create table pub.{PUBLISHED_SCHEMA}.{table} as {sql}")
        target, comments = f"pub.{PUBLISHED_SCHEMA}.{table}", RUN_LOG_COMMENTS.get(table, {})
        statements = [f"comment on table {target} is {_comment(comments['table'])}"] if "table" in comments else []
        statements += [
            f"comment on column {target}.{column} is {_comment(comment)}"
            for column, comment in comments.get("columns", {}).items()
        ]
        _execute_at_once(con, statements)
        counts[table] = con.execute(f"select count(*) from pub.{PUBLISHED_SCHEMA}.{table}").fetchall()[0][0]
    return counts


def _versions_dir(target: Path) -> Path:
    return target.parent / "versions"


def versions(target: Path | None = None) -> list[Path]:
    """Earlier published versions, oldest first (the newest is what a rollback serves)."""
    target = target or settings.published_db_path()
    return sorted(_versions_dir(target).glob(f"{target.stem}.*{target.suffix}"))


def rollback(target: Path | None = None) -> dict:
    """Serve the previous published version again (atomically, like a publish).

    The version being replaced is set aside under ``versions/rolled_back/`` (never served by a
    later rollback), so repeated rollbacks walk further back. The build warehouse is untouched:
    the next successful run publishes its candidate again.
    """
    target = target or settings.published_db_path()
    earlier = versions(target)
    if not earlier and (rekeyed := _rekeyed(target)):
        raise PublishError(
            f"{target}: no earlier published version since the pseudonymisation key was rotated "
            f"(`callops rekey` at {rekeyed}): the versions made with the old key were removed, and a rollback "
            "across a rekey is refused (its pseudonyms would not match the warehouse's)"
        )
    if not target.exists() or not earlier:
        raise PublishError(f"{target}: no earlier published version to roll back to")
    previous = earlier[-1]
    set_aside = _versions_dir(target) / "rolled_back"
    set_aside.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    os.link(target, set_aside / f"{target.stem}.{stamp}{target.suffix}")
    staging = target.with_name(f".{target.stem}.rollback.tmp")
    staging.unlink(missing_ok=True)
    os.link(previous, staging)
    private.publish_mode(staging)
    os.replace(staging, target)
    previous.unlink()
    _fsync(target.parent)
    return {
        "path": str(target), "served": previous.name, "set_aside": f"rolled_back/{target.stem}.{stamp}{target.suffix}"
    }


REKEYED = "rekeyed.json"  # in versions/: when `callops rekey` removed the versions, and what was served then


def forget_versions(target: Path | None = None) -> None:
    """``callops rekey``: remove every earlier version (their pseudonyms are the old key's), and
    remember the file served now, so that it is not kept as a version either when the next publish
    replaces it (a rekey whose gate blocked leaves it served)."""
    target = target or settings.published_db_path()
    folder = _versions_dir(target)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700)
    served = target.stat().st_ino if target.exists() else None
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    (folder / REKEYED).write_text(json.dumps({"rekeyed_at": stamp, "served_inode": served}))
    _fsync(target.parent)


def _rekeyed(target: Path) -> str | None:
    try:
        return json.loads((_versions_dir(target) / REKEYED).read_text())["rekeyed_at"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _keep_previous(target: Path) -> None:
    if not target.exists():
        return
    folder = _versions_dir(target)
    folder.mkdir(exist_ok=True)
    try:
        if json.loads((folder / REKEYED).read_text()).get("served_inode") == target.stat().st_ino:
            return  # made with the key a rekey replaced: never a version to roll back to
    except (OSError, ValueError, AttributeError):
        pass
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    os.link(target, folder / f"{target.stem}.{stamp}{target.suffix}")
    for old in versions(target)[:-KEEP_VERSIONS]:
        old.unlink()
    for old in sorted((folder / "rolled_back").glob(f"{target.stem}.*{target.suffix}"))[:-KEEP_VERSIONS]:
        old.unlink()
