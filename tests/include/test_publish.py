"""Publishing: a new file renamed into place; readers of the old file are never broken."""

from __future__ import annotations

import duckdb

from callops import publish, settings, warehouse


def candidate(value: int, tenant: str = "shanghai_bank") -> None:
    con = warehouse.connect()
    con.execute("create schema if not exists marts")
    con.execute(
        f"create or replace table marts.rpt_daily_kpis as select '{tenant}' as tenant_id, {value} as offered_count"
    )
    con.execute("create schema if not exists staging")
    con.execute("create or replace table staging.private as select 'secret' as caller_number")
    con.close()


def test_publish_copies_only_marts_and_keeps_readers_of_the_old_file_working(home):
    candidate(1)
    first = publish.publish("run-1")
    assert first["tables"] == {"rpt_daily_kpis": 1, "runs": 0, "run_tenants": 1, "run_deliveries": 0, "run_checks": 0}
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


def test_the_marts_descriptions_are_published_as_table_and_column_comments(home):
    """What dbt wrote into the build warehouse (persist_docs: the models' descriptions, the KPI doc blocks)
    is what BI tools read in the published file's catalog, with the YAML's line breaks folded."""
    candidate(1)
    con = warehouse.connect()
    con.execute("alter table marts.rpt_daily_kpis add column answer_rate double")
    con.execute("comment on table marts.rpt_daily_kpis is 'One row per tenant per local date.'")
    con.execute("comment on column marts.rpt_daily_kpis.answer_rate is 'Answer rate (接通率) = answered /\n  offered.'")
    con.close()
    publish.publish("run-1")
    published = duckdb.connect(str(settings.published_db_path()), read_only=True)
    try:
        assert published.execute(
            "select comment from duckdb_tables() where table_name = 'rpt_daily_kpis'"
        ).fetchall() == [("One row per tenant per local date.",)]
        assert published.execute(
            "select column_name, comment from duckdb_columns() where table_name = 'rpt_daily_kpis' "
            "order by column_index"
        ).fetchall() == [
            ("tenant_id", None), ("offered_count", None), ("answer_rate", "Answer rate (接通率) = answered / offered.")
        ]
    finally:
        published.close()


def test_only_the_last_versions_are_kept(home):
    for n in range(publish.KEEP_VERSIONS + 3):
        candidate(n)
        publish.publish(f"run-{n}")
    assert len(list((settings.published_dir() / "versions").glob("callops.*.duckdb"))) == publish.KEEP_VERSIONS


def test_rollback_serves_the_previous_version_byte_for_byte_and_walks_further_back(home, capsys):
    from callops import cli

    target = settings.published_db_path()
    served = []
    for n in range(3):
        candidate(n)
        publish.publish(f"run-{n}")
        served.append(target.read_bytes())
    assert cli.main(["rollback"]) == 0
    assert "now serves callops." in capsys.readouterr().out
    assert target.read_bytes() == served[1]
    assert cli.main(["rollback"]) == 0
    assert target.read_bytes() == served[0]
    assert cli.main(["rollback"]) == 1  # nothing older is left
    assert "no earlier published version" in capsys.readouterr().out
    assert target.read_bytes() == served[0]
    # The versions rolled away from are kept aside, not lost.
    assert len(list((target.parent / "versions" / "rolled_back").glob("callops.*.duckdb"))) == 2


def test_the_run_log_is_published_with_every_run_and_its_checks(home):
    con = warehouse.connect()
    con.execute("insert into ops.runs values ('r-failed', '2026-03-01', '2026-03-02', now(), now(), 'failed', null)")
    con.execute(
        "insert into ops.run_files (run_id, file_id, feed, tenant_id, delivery_date, file_name, action, "
        "rows_loaded, rows_rejected, rows_superseded, rows_skipped, message) values ('r-failed', 'f1', "
        "'telephony', 'shanghai_bank', '2026-03-02', 'dirty.csv', 'held', 8, 2, 1, 3, 'held back')"
    )
    con.execute(
        "insert into ops.check_results values ('r-failed', 'rpt_daily_kpis', 'expect_column_values_to_be_between', "
        "'answer_rate', 'blocking', false, 1, ['shanghai_bank 2026-03-02'], 'answer_rate is a 0-1 rate', now(), "
        "'shanghai_bank', 'great_expectations')"
    )
    con.close()
    candidate(1)
    publish.publish("r-next")
    reader = duckdb.connect(str(settings.published_db_path()), read_only=True)
    try:
        run = reader.execute(
            "select run_id, status, delivery_count, held_count, rows_rejected, rows_superseded, rows_skipped, "
            "check_count, blocking_failed_count, deliveries->>'$[0].file_name', deliveries->>'$[0].rows_skipped', "
            "checks->'$[0].failing_keys' from marts.runs"
        ).fetchall()
        delivery = reader.execute(
            "select file_name, rows_loaded, rows_rejected, rows_superseded, rows_skipped from marts.run_deliveries"
        ).fetchall()
        checks = reader.execute("select check_name, severity, success from marts.run_checks").fetchall()
    finally:
        reader.close()
    assert run == [("r-failed", "failed", 1, 1, 2, 1, 3, 1, 1, "dirty.csv", "3", '["shanghai_bank 2026-03-02"]')]
    assert delivery == [("dirty.csv", 8, 2, 1, 3)]
    assert checks == [("expect_column_values_to_be_between", "blocking", False)]
