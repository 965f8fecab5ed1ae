"""Publishing: a new file renamed into place; readers of the old file are never broken."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import duckdb

from callops import publish, settings, warehouse
from tests import oldest_reader
from tests.conftest import REPO


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
            "check_count, blocking_failed_count, deliveries, checks from marts.runs"
        ).fetchall()
        delivery = reader.execute(
            "select file_name, rows_loaded, rows_rejected, rows_superseded, rows_skipped from marts.run_deliveries"
        ).fetchall()
        checks = reader.execute("select check_name, severity, success, failing_keys from marts.run_checks").fetchall()
    finally:
        reader.close()
    ((*counts, deliveries, run_checks),) = run
    assert counts == ["r-failed", "failed", 1, 1, 2, 1, 3, 1, 1]
    # the run's files and checks as JSON arrays (text), with the columns of run_deliveries and run_checks
    assert json.loads(deliveries) == [{
        "tenant_id": "shanghai_bank", "feed": "telephony", "delivery_date": "2026-03-02", "file_name": "dirty.csv",
        "action": "held", "rows_loaded": 8, "rows_rejected": 2, "rows_superseded": 1, "rows_skipped": 3,
        "message": "held back",
    }]  # fmt: skip
    assert json.loads(run_checks) == [{
        "tenant_id": "shanghai_bank", "checked_by": "great_expectations",
        "table_name": "rpt_daily_kpis", "check_name": "expect_column_values_to_be_between",
        "column_name": "answer_rate", "severity": "blocking", "success": False, "unexpected_count": 1,
        "failing_keys": ["shanghai_bank 2026-03-02"], "notes": "answer_rate is a 0-1 rate",
    }]  # fmt: skip
    assert delivery == [("dirty.csv", 8, 2, 1, 3)]
    assert checks == [("expect_column_values_to_be_between", "blocking", False, '["shanghai_bank 2026-03-02"]')]


def a_quiet_run_log() -> None:
    """The commonest run log: a run whose checks all passed (no failing keys), and one that loaded and checked
    nothing (an interrupted run, a build of earlier loads)."""
    con = warehouse.connect()
    con.execute(
        "insert into ops.runs values ('r-passed', '2026-03-01', '2026-03-01', now(), now(), 'success', null), "
        "('r-empty', '2026-03-02', '2026-03-02', now(), null, 'interrupted', null)"
    )
    con.execute(
        "insert into ops.run_files (run_id, file_id, feed, tenant_id, delivery_date, file_name, action, "
        "rows_loaded, rows_rejected, rows_superseded, rows_skipped, message) values ('r-passed', 'f1', "
        "'telephony', 'shanghai_bank', '2026-03-01', 'contacts.csv', 'loaded', 5, 0, 0, 0, null)"
    )
    con.execute(
        "insert into ops.check_results values ('r-passed', 'rpt_daily_kpis', 'expect_column_values_to_be_between', "
        "'answer_rate', 'blocking', true, 0, [], 'answer_rate is a 0-1 rate', now(), 'shanghai_bank', "
        "'great_expectations'), ('r-passed', "
        "'rpt_daily_kpis', 'expect_table_row_count_to_be_between', null, 'warning', true, 0, [], null, now(), "
        "'shanghai_bank', 'great_expectations')"
    )
    con.close()
    candidate(1)
    publish.publish("r-next")


RUN_LOG = [f"marts.{table}" for table in publish.RUN_LOG_SQL]


def test_the_run_log_has_types_every_bi_tool_reads_and_a_description_on_every_table_and_column(home):
    """No hugeint (DuckDB's sum of integers), no list or struct: the runs' files and checks, and a check's
    failing keys, are JSON arrays as text; every run-log table and column says what it holds."""
    a_quiet_run_log()
    seen = oldest_reader.read_everything(settings.published_db_path(), python=Path(sys.executable))
    assert seen["errors"] == {}
    assert [column for column in oldest_reader.unusual_columns(seen) if column[0] in RUN_LOG] == []
    assert [name for name in oldest_reader.uncommented(seen) if name.startswith(tuple(RUN_LOG))] == []
    reader = duckdb.connect(str(settings.published_db_path()), read_only=True)
    try:
        runs = reader.execute("select run_id, rows_loaded, deliveries, checks from marts.runs order by 1").fetchall()
        keys = reader.execute("select failing_keys from marts.run_checks").fetchall()
    finally:
        reader.close()
    assert [(run_id, rows, json.loads(files) == [], json.loads(checks)) for run_id, rows, files, checks in runs] == [
        ("r-empty", 0, True, []),
        ("r-passed", 5, False, [
            {"tenant_id": "shanghai_bank", "checked_by": "great_expectations",
             "table_name": "rpt_daily_kpis", "check_name": "expect_column_values_to_be_between",
             "column_name": "answer_rate", "severity": "blocking", "success": True, "unexpected_count": 0,
             "failing_keys": [], "notes": "answer_rate is a 0-1 rate"},
            {"tenant_id": "shanghai_bank", "checked_by": "great_expectations",
             "table_name": "rpt_daily_kpis", "check_name": "expect_table_row_count_to_be_between",
             "column_name": None, "severity": "warning", "success": True, "unexpected_count": 0,
             "failing_keys": [], "notes": None},
        ]),
    ]  # fmt: skip
    assert keys == [("[]",), ("[]",)]


def test_the_oldest_duckdb_reader_reads_every_row_of_the_run_log(home):
    """DuckDB 1.0 could not read a list column whose lists are all empty (every check passed) in a v1.0.0
    file written by DuckDB 2: ``Serialization Error: Failed to deserialize: field id mismatch``."""
    a_quiet_run_log()
    seen = oldest_reader.read_everything(settings.published_db_path())
    assert seen["version"] == publish.OLDEST_DUCKDB_READER
    assert seen["errors"] == {}
    rows = {"marts.rpt_daily_kpis": 1, "marts.runs": 2, "marts.run_tenants": 1, "marts.run_deliveries": 1,
            "marts.run_checks": 2}
    assert {table: read["rows"] for table, read in seen["tables"].items()} == rows
    # the tenant's own file too: the same tables, types and descriptions (its runs: those that touched it)
    mine = oldest_reader.read_everything(publish.tenant_path("shanghai_bank"))
    assert mine["errors"] == {}
    assert {table: read["rows"] for table, read in mine["tables"].items()} == rows | {"marts.runs": 1}  # r-passed
    assert oldest_reader.unusual_columns(mine) == []
    assert [name for name in oldest_reader.uncommented(mine) if name.startswith(tuple(RUN_LOG))] == []


def test_the_oldest_reader_is_the_duckdb_the_tests_install_and_the_one_documented():
    pinned = re.search(r"(?m)^duckdb==(\S+)", oldest_reader.OLDEST_REQUIREMENTS.read_text())
    assert pinned and pinned[1] == publish.OLDEST_DUCKDB_READER
    assert f"DuckDB **{publish.OLDEST_DUCKDB_READER}** and later" in (REPO / "docs" / "serving.md").read_text()


def test_the_last_version_of_each_of_the_seven_days_before_is_kept_too(home):
    """A publish every 15 minutes: the last 5 versions cover an hour, so the last of each of the 7 days
    before today (UTC, by the version's stamp) is kept as well, to roll back to yesterday's figures."""
    target = settings.published_db_path()
    folder = settings.published_dir() / "versions"
    folder.mkdir(parents=True)
    made = []
    for day in range(1, 11):  # 2026-03-01 .. 2026-03-10, four versions a day
        for hour in (6, 12, 18, 23):
            path = folder / f"callops.202603{day:02d}T{hour:02d}0000000000Z.duckdb"
            path.write_bytes(b"a version")
            made.append(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"served")
    publish._keep_previous(target, "20260310T234500000000Z")  # the served file replaced on 2026-03-10
    kept = sorted(path.name for path in folder.glob("callops.*.duckdb"))
    assert kept == [
        # the last of each of the 7 days before 2026-03-10
        *(f"callops.202603{day:02d}T230000000000Z.duckdb" for day in range(3, 10)),
        # the last 5
        "callops.20260310T060000000000Z.duckdb",
        "callops.20260310T120000000000Z.duckdb", "callops.20260310T180000000000Z.duckdb",
        "callops.20260310T230000000000Z.duckdb", "callops.20260310T234500000000Z.duckdb",
    ]
