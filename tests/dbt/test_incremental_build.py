"""An incremental build gives exactly the rows of a full build (issue 6: history is never rebuilt daily).

Three simulated tenants (every feed, three telephony formats): ten days are built, then five days of new
deliveries and a corrected re-delivery of an old day arrive and only the changed partitions are rebuilt
(callops.incremental, dbt_project/macros/build_window.sql). Every table of every layer must then equal
a from-scratch full build of the same raw data, row for row.
"""

from __future__ import annotations

import collections
import datetime as dt

import pytest

from callops import dbt, incremental, pipeline, settings, warehouse
from callops.config import load_config
from callops.simulate.run import simulate

START = dt.date(2026, 3, 2)
DAYS = 16
FIRST_END = START + dt.timedelta(days=10)
END = START + dt.timedelta(days=DAYS)  # one more delivery day: calls still going at midnight
SECOND_END = END - dt.timedelta(days=3)  # after it, the telephony feed alone
CORRECTED_DAY = START + dt.timedelta(days=4)


def _tables(con) -> list[str]:
    return [
        f"{schema}.{name}"
        for schema, name in con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = 'build' and schema_name in ('staging', 'intermediate', 'marts') "
            "order by 1, 2"
        ).fetchall()
    ]


def _rows(con, table: str) -> collections.Counter:
    # floats rounded: DuckDB's parallel sums may differ in the last bits between two builds
    return collections.Counter(
        tuple(round(value, 6) if isinstance(value, float) else value for value in row)
        for row in con.execute(f"select * from {table}").fetchall()
    )


def _snapshot(con) -> dict[str, collections.Counter]:
    return {table: _rows(con, table) for table in _tables(con)}


def _mark_validated(run_id: str) -> None:
    """What a passing mart gate does: the changed partitions are no longer pending."""
    with warehouse.connection() as con:
        con.execute("update ops.changed_partitions set validated_run_id = ? where validated_run_id is null", [run_id])


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("incremental")
    config = root / "callops.yml"
    config.write_text(
        "tenants:\n"
        "  - {id: bank, name: Bank, timezone: Asia/Shanghai, service_level_seconds: 10}\n"
        "  - {id: telco, name: Telco, timezone: Europe/Stockholm}\n"
        "  - {id: utility, name: Utility, timezone: America/New_York, fcr_window_days: 3}\n"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CALLOPS_HOME", str(root / "data"))
        patch.setenv("CALLOPS_CONFIG", str(config))
        simulate(
            load_config().tenants, tenants=3, days=DAYS, start=START, calls_per_day=100, seed=11,
            landing=settings.landing_dir(), workers=2, progress=None,
        )  # fmt: skip
        pipeline.load_deliveries("history", START, FIRST_END)
        first = pipeline.build_marts("history")
        _mark_validated("history")

        # a week of new days, and a corrected re-delivery of an old day (a tenth of its calls removed)
        corrected = sorted((settings.landing_dir() / "telephony" / "bank" / CORRECTED_DAY.isoformat()).iterdir())[0]
        lines = corrected.read_text().splitlines(keepends=True)
        corrected.write_text("".join(lines[: len(lines) * 9 // 10]))
        loaded = pipeline.load_deliveries("daily", START, SECOND_END)
        with warehouse.connection() as con:
            planned = incremental.plan(con)
        second = pipeline.build_marts("daily")
        _mark_validated("daily")

        # then days of telephony alone: only its models are rebuilt, contact value over its reach
        set_aside = root / "set_aside"
        for feed in ("qa", "hr", "marketing"):
            for folder in sorted((settings.landing_dir() / feed).glob("*/*")):
                if dt.date.fromisoformat(folder.name) > SECOND_END:
                    target = set_aside / feed / folder.parent.name
                    target.mkdir(parents=True, exist_ok=True)
                    folder.rename(target / folder.name)
        pipeline.load_deliveries("telephony", START, END)
        with warehouse.connection() as con:
            planned_telephony = incremental.plan(con)
        third = pipeline.build_marts("telephony")
        with warehouse.connection() as con:
            after_incremental = _snapshot(con)
            builds_logged = con.execute("select run_id, is_full from ops.builds order by built_at").fetchall()

        full = dbt.build("--full-refresh")
        with warehouse.connection() as con:
            after_full = _snapshot(con)
        yield {
            "first": first, "second": second, "loaded": loaded, "planned": planned, "third": third,
            "planned_telephony": planned_telephony, "incremental": after_incremental, "full": full,
            "after_full": after_full, "builds": builds_logged,
        }  # fmt: skip


def test_the_second_build_rebuilds_only_the_changed_days(builds):
    planned = builds["planned"]
    assert not planned.full
    assert builds["first"]["plan"].startswith("full build")
    assert builds["second"]["plan"].startswith("incremental build")
    # the corrected old day (a day either side), then the new week: two ranges, the old ones left out
    (old_first, old_last), (new_first, new_last) = planned.window
    assert old_first <= CORRECTED_DAY - dt.timedelta(days=1) and old_last <= CORRECTED_DAY + dt.timedelta(days=2)
    assert new_first >= FIRST_END - dt.timedelta(days=2) and new_last >= SECOND_END
    assert builds["builds"] == [("history", True), ("daily", False), ("telephony", False)]


def test_a_telephony_day_rebuilds_the_telephony_models_alone(builds):
    planned = builds["planned_telephony"]
    assert not planned.full and planned.feeds == ("telephony",)
    assert builds["planned"].feeds == ("hr", "marketing", "qa", "telephony")
    assert "of telephony" in builds["third"]["plan"]
    # fewer nodes than the build of every feed: no QA, HR or marketing model or test
    assert 0 < builds["third"]["nodes"] < builds["second"]["nodes"]


def test_an_incremental_build_equals_a_full_build_in_every_table(builds):
    assert builds["full"].success
    incremental_rows, full_rows = builds["incremental"], builds["after_full"]
    assert sorted(incremental_rows) == sorted(full_rows)
    assert len(full_rows) > 30 and sum(len(rows) for rows in full_rows.values()) > 50_000
    differences = {
        table: (sum((incremental_rows[table] - rows).values()), sum((rows - incremental_rows[table]).values()))
        for table, rows in full_rows.items()
        if incremental_rows[table] != rows
    }
    assert differences == {}, f"(rows only in the incremental build, rows only in the full build): {differences}"


def test_a_changed_setting_rebuilds_everything(builds, tmp_path):
    with warehouse.connection() as con:
        same = incremental.plan(con)
        con.execute("update raw.tenants set service_level_seconds = 30 where id = 'telco'")
        changed = incremental.plan(con)
    assert not same.full and changed.full and changed.fingerprint != same.fingerprint
    assert "--full-refresh" in changed.dbt_args()


def test_merge_ranges_joins_overlapping_and_adjacent_days():
    d = dt.date.fromisoformat
    ranges = [(d("2026-03-05"), d("2026-03-07")), (d("2026-03-01"), d("2026-03-02")), (d("2026-03-08"), d("2026-03-09")),
              (d("2026-03-06"), d("2026-03-06")), (d("2026-03-20"), d("2026-03-21"))]  # fmt: skip
    assert incremental.merge_ranges(ranges) == (
        (d("2026-03-01"), d("2026-03-02")),
        (d("2026-03-05"), d("2026-03-09")),
        (d("2026-03-20"), d("2026-03-21")),
    )


def test_an_incremental_build_selects_the_models_of_the_changed_feeds(builds):
    with warehouse.connection() as con:
        con.execute("begin transaction")
        # as after a successful build of the current project and settings, its changes validated
        con.execute("insert into ops.builds values ('built', ?, false, '[]', now())", [incremental.fingerprint(con)])
        con.execute("update ops.changed_partitions set validated_run_id = 'gate' where validated_run_id is null")
        nothing = incremental.plan(con)
        qa_file = con.execute("select file_id from raw.manifest where feed = 'qa' order by file_id limit 1").fetchone()[0]
        con.execute(
            "insert into ops.changed_partitions values ('accept', ?, 'bank', ?, ?, now(), null)",
            [qa_file, CORRECTED_DAY, CORRECTED_DAY],
        )
        qa_only = incremental.plan(con)
        con.execute("insert into ops.changed_partitions values ('accept', null, 'bank', ?, ?, now(), null)",
                    [START, START])  # fmt: skip
        untraced = incremental.plan(con)
        con.execute("rollback")
    assert nothing.is_empty and not qa_only.is_empty
    assert qa_only.feeds == ("qa",)
    assert qa_only.selection("path:models/marts") == ["--select", "source:qa+,path:models/marts"]
    assert "of qa" in qa_only.describe()
    # a change that names no delivered file selects every model
    assert untraced.feeds is None and untraced.selection() == []
