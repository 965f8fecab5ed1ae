"""The mart gate on the build warehouse: it checks the tenant-days that changed, blocks on a volume far
outside the same weekday's history, keeps failed days pending until they pass, and records every result."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from callops import dbt, pipeline, warehouse
from callops.quality import gate, suites
from tests.conftest import deliver

pytestmark = [pytest.mark.dbt, pytest.mark.gx]

HEADER = "contact_id,queue_id,entered_at,outcome,wait_seconds,talk_seconds,answered_at\n"
MONDAYS = [dt.date(2026, 3, 2) + dt.timedelta(weeks=week) for week in range(5)]


def contacts(day: dt.date, count: int, prefix: str = "c") -> str:
    return HEADER + "".join(
        f"{prefix}{day:%m%d}_{i},q1,{day} 09:{i:02d}:00,answered,5,100,\n" for i in range(count)
    )


def whole_day(day: dt.date, count: int) -> str:
    """``count`` contacts, the last at 23:45 local: the day's data reaches its last interval (it is complete,
    so the volume band judges it even without a later delivery day)."""
    return contacts(day, count - 1) + f"c{day:%m%d}_late,q1,{day} 23:45:00,answered,5,100,\n"


def query(sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connection(read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def run(run_id: str, start: dt.date, end: dt.date) -> dict:
    pipeline.load_deliveries(run_id, start, end)
    assert dbt.run_models().success
    return pipeline.validate_marts(run_id)


def test_a_day_far_below_its_weekday_history_blocks_and_stays_pending_until_corrected(home):
    for day in MONDAYS[:4]:
        deliver(home, "shanghai_bank", day.isoformat(), "contacts.csv", contacts(day, 12))
    last = deliver(home, "shanghai_bank", MONDAYS[4].isoformat(), "contacts.csv", whole_day(MONDAYS[4], 3))
    with pytest.raises(pipeline.DataProblem) as failure:
        run("r1", MONDAYS[0], MONDAYS[4])
    message = str(failure.value)
    assert "nothing published" in message
    assert "expect_column_values_to_be_in_set on is_volume_within_blocking_band" in message
    assert "shanghai_bank 2026-03-30" in message and "volume_blocking_ratio" in message
    recorded = query(
        "select check_name, column_name, severity, success, failing_keys from ops.check_results "
        "where run_id = 'r1' and not success order by column_name"
    )
    assert recorded == [
        ("expect_column_values_to_be_in_set", "has_roster", "warning", False,
         [f"shanghai_bank {day}" for day in MONDAYS]),
        ("expect_column_values_to_be_in_set", "is_volume_within_blocking_band", "blocking", False,
         ["shanghai_bank 2026-03-30"]),
        ("expect_column_values_to_be_in_set", "is_volume_within_warning_band", "warning", False,
         ["shanghai_bank 2026-03-30"]),
    ]
    # Data Docs of the failed run, offline.
    [docs] = query("select detail->>'data_docs' from ops.run_steps where run_id = 'r1' and step = 'validate'")[0]
    assert Path(docs).is_file() and Path(docs).parent.name == "r1"

    # A run with nothing new checks the failed days again and fails again.
    with pytest.raises(pipeline.DataProblem, match="2026-03-30"):
        run("r2", MONDAYS[4], MONDAYS[4])

    # The corrected re-delivery passes; the gate then has nothing pending.
    last.write_text(whole_day(MONDAYS[4], 11))
    passed = run("r3", MONDAYS[4], MONDAYS[4])
    assert passed["partitions"] > 0
    assert query("select count(*) from ops.changed_partitions where validated_run_id is null") == [(0,)]
    assert query("select distinct validated_run_id from ops.changed_partitions") == [("r3",)]


def test_the_gate_checks_only_the_days_that_changed(home):
    for day in MONDAYS[:4]:
        deliver(home, "shanghai_bank", day.isoformat(), "contacts.csv", contacts(day, 12))
    run("r1", MONDAYS[0], MONDAYS[3])
    late = MONDAYS[1] + dt.timedelta(days=2)  # a late file for an old Wednesday
    deliver(home, "stockholm_telco", late.isoformat(), "late.csv", contacts(late, 4, "s"))
    outcome = run("r2", MONDAYS[0], MONDAYS[4])
    # the Wednesday's UTC date, a day either side: 3 tenant-days of one tenant, not the month
    assert outcome["partitions"] == 3
    checked = query(
        "select table_name, count(*) from ops.check_results where run_id = 'r2' group by 1 order by 1"
    )
    # every expectation of the KPI suite; a mart without rows on those days is not validated at all
    modules = {module.TABLE: module for module in gate.suite_modules()}
    for table in ("rpt_daily_kpis", "fct_queue_intervals"):
        assert (table, len(suites.suite_of(modules[table]).expectations)) in checked
    assert not any(table.startswith(("fct_qa_", "fct_evaluator_", "fct_campaign_")) for table, _ in checked)
    [keys] = query(
        "select failing_keys from ops.check_results where run_id = 'r2' and column_name = 'has_roster'"
    )[0]
    assert keys == ["stockholm_telco 2026-03-11"]
