"""The gate's rows of the period marts (``candidate_sql`` of expectations/suites/rpt_kpis_by_period.py and
rpt_tenant_benchmark.py): a changed tenant-day is checked in every period holding it, of its own tenant."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from callops.quality import gate

pytestmark = pytest.mark.gx

PERIODS = [  # tenant, grain, start, end
    ("a", "week", "2026-03-30", "2026-04-05"),
    ("a", "week", "2026-03-23", "2026-03-29"),
    ("a", "month", "2026-03-01", "2026-03-31"),
    ("a", "month", "2026-04-01", "2026-04-30"),
    ("a", "quarter", "2026-01-01", "2026-03-31"),
    ("a", "year", "2026-01-01", "2026-12-31"),
    ("b", "week", "2026-03-30", "2026-04-05"),
]


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.rpt_kpis_by_period as select tenant_id, period_grain, "
        "cast(period_start as date) as period_start, cast(period_end as date) as period_end "
        "from (values " + ", ".join(str(row) for row in PERIODS) + ") as t(tenant_id, period_grain, period_start, "
        "period_end)"
    )
    con.execute(
        "create table marts.rpt_tenant_benchmark as "
        "select tenant_id, period_grain, period_start, kpi_name from marts.rpt_kpis_by_period, "
        "(values ('answer_rate'), ('asa_seconds')) as k(kpi_name) "
        "union all select tenant, 'day', day, 'answer_rate' from (values ('a', date '2026-03-31'), "
        "('a', date '2026-03-30'), ('b', date '2026-03-31')) as d(tenant, day)"
    )
    # the gate's pending tenant-days: tenant a's 2026-03-31
    con.execute(f"create temp table {gate.PARTITIONS} as select 'a' as tenant_id, date '2026-03-31' as partition_date")
    yield con
    con.close()


def _suite(table: str):
    return {module.TABLE: module for module in gate.suite_modules()}[table]


def test_a_changed_day_is_checked_in_each_period_holding_it(con):
    frame = gate.candidate_frame(con, _suite("rpt_kpis_by_period"))
    found = sorted(zip(frame.tenant_id, frame.period_grain, frame.period_start.dt.date))
    assert found == [
        ("a", "month", dt.date(2026, 3, 1)),
        ("a", "quarter", dt.date(2026, 1, 1)),
        ("a", "week", dt.date(2026, 3, 30)),
        ("a", "year", dt.date(2026, 1, 1)),
    ]


def test_a_changed_day_is_checked_in_the_benchmark_of_its_day_and_periods_for_its_tenant(con):
    frame = gate.candidate_frame(con, _suite("rpt_tenant_benchmark"))
    found = sorted(set(zip(frame.tenant_id, frame.period_grain, frame.period_start.dt.date)))
    assert found == [
        ("a", "day", dt.date(2026, 3, 31)),
        ("a", "month", dt.date(2026, 3, 1)),
        ("a", "quarter", dt.date(2026, 1, 1)),
        ("a", "week", dt.date(2026, 3, 30)),
        ("a", "year", dt.date(2026, 1, 1)),
    ]
    assert len(frame) == 2 * 4 + 1  # two KPIs of each period, the day's one
