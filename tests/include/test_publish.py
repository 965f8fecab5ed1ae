"""Publishing: a new file renamed into place; readers of the old file are never broken."""

from __future__ import annotations

import duckdb

from callops import publish, settings, warehouse


def candidate(value: int) -> None:
    con = warehouse.connect()
    con.execute("create schema if not exists marts")
    con.execute(f"create or replace table marts.rpt_daily_kpis as select {value} as offered_count")
    con.execute("create schema if not exists staging")
    con.execute("create or replace table staging.private as select 'secret' as caller_number")
    con.close()


def test_publish_copies_only_marts_and_keeps_readers_of_the_old_file_working(home):
    candidate(1)
    first = publish.publish("run-1")
    assert first["tables"] == {"rpt_daily_kpis": 1}
    target = settings.published_db_path()
    reader = duckdb.connect(str(target), read_only=True)
    try:
        candidate(2)
        publish.publish("run-2")
        # The open reader still sees the version it opened...
        assert reader.execute("select offered_count from marts.rpt_daily_kpis").fetchall() == [(1,)]
    finally:
        reader.close()
    # ...and a new reader sees the new one.
    fresh = duckdb.connect(str(target), read_only=True)
    try:
        assert fresh.execute("select offered_count from marts.rpt_daily_kpis").fetchall() == [(2,)]
        schemas = {row[0] for row in fresh.execute("select schema_name from duckdb_tables()").fetchall()}
        assert schemas == {"marts"}
    finally:
        fresh.close()
    assert len(list((target.parent / "versions").glob("callops.*.duckdb"))) == 1
    assert not list(target.parent.glob(".*.tmp*"))


def test_only_the_last_versions_are_kept(home):
    for n in range(publish.KEEP_VERSIONS + 3):
        candidate(n)
        publish.publish(f"run-{n}")
    assert len(list((settings.published_dir() / "versions").glob("callops.*.duckdb"))) == publish.KEEP_VERSIONS
