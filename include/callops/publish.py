"""Publish the candidate marts: a new file, fsynced, renamed onto published/callops.duckdb.

The published file is written through ``ATTACH ... (STORAGE_VERSION 'v1.0.0')``
so BI tools embedding DuckDB 1.x can open it. The rename is atomic: a reader
that holds the old file open keeps reading the old version (its inode lives on
until closed) and sees the new data when it reopens. The previous version is
kept under ``published/versions/`` (the last ``KEEP_VERSIONS``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

from callops import settings, warehouse

PUBLISHED_SCHEMA = "marts"
STORAGE_VERSION = "v1.0.0"
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
    safe_run = re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)
    staging = target.with_name(f".{target.stem}.{safe_run}.tmp")
    for leftover in (staging, Path(f"{staging}.wal")):
        leftover.unlink(missing_ok=True)

    # Through the warehouse's own connection (DuckDB opens a file once per process, and
    # `airflow dags test` runs every step in one): the candidate is its main database.
    with warehouse.connection(build_db) as con:
        catalog = con.execute("select current_database()").fetchone()[0]
        con.execute(f"attach {warehouse.sql_literal(str(staging))} as pub (storage_version '{STORAGE_VERSION}')")
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
        con.execute("checkpoint pub")
        con.execute("detach pub")

    wal = Path(f"{staging}.wal")
    if wal.exists():
        raise PublishError(f"{staging}: a write-ahead log was left behind; not publishing an incomplete file")
    _fsync(staging)
    _keep_previous(target)
    os.replace(staging, target)
    _fsync(target.parent)
    return {"path": str(target), "tables": counts, "storage_version": STORAGE_VERSION}


def _keep_previous(target: Path) -> None:
    if not target.exists():
        return
    versions = target.parent / "versions"
    versions.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    os.link(target, versions / f"{target.stem}.{stamp}{target.suffix}")
    kept = sorted(versions.glob(f"{target.stem}.*{target.suffix}"))
    for old in kept[:-KEEP_VERSIONS]:
        old.unlink()
