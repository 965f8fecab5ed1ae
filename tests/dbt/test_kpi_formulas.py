"""KPI figures on hand-computed deliveries: loader -> dbt build -> marts.rpt_daily_kpis.

The formulas themselves also have dbt unit tests (models/*/_*.yml); this file
runs them and checks the whole path on real files: local dates and daylight
saving, multi-stint contacts, duplicates across files, late rows, variants.
"""

from __future__ import annotations

import datetime as dt

import pytest

from callops import dbt, pipeline, warehouse
from tests.conftest import REPO, deliver

pytestmark = pytest.mark.dbt

COLUMNS = (
    "offered_count, answered_count, abandoned_count, short_abandoned_count, answered_within_sl_count, "
    "answer_rate, service_level_rate, abandon_rate, asa_seconds, aht_seconds"
)
FULL_HEADER = (
    "contact_id,queue_id,direction,entered_at,outcome,wait_seconds,talk_seconds,hold_seconds,after_call_work_seconds\n"
)


def build(run_id: str, start: str, end: str) -> None:
    pipeline.load_deliveries(run_id, dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    result = dbt.run_models()
    assert result.success, result.failures


def kpis(tenant: str) -> dict[dt.date, tuple]:
    with warehouse.connection(read_only=True) as con:
        rows = con.execute(
            f"select kpi_date, {COLUMNS} from marts.rpt_daily_kpis where tenant_id = ? order by kpi_date", [tenant]
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def test_dbt_unit_tests_of_every_kpi_formula_pass(home):
    result = dbt.unit_tests()
    assert result.success, result.failures
    assert result.nodes == len(_declared_unit_tests()) >= 4


def _declared_unit_tests() -> list[str]:
    import yaml

    names = []
    for path in (REPO / "dbt_project" / "models").rglob("*.yml"):
        names += [test["name"] for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", [])]
    return names


def test_tenant_day_kpis_on_a_spring_forward_day(home):
    # stockholm_telco: T = 10 s, short abandon < 3 s; local times without offset (CET -> CEST at 02:00).
    deliver(
        home,
        "stockholm_telco",
        "2026-03-29",
        "contacts.csv",
        FULL_HEADER
        + "a1,q1,inbound,2026-03-28 23:50:00,answered,5,100,20,30\n"  # previous local date
        + "a2,q1,inbound,2026-03-29 00:30:00,answered,12,200,,\n"
        + "a3,q1,inbound,2026-03-29 03:30:00,abandoned,2,,,\n"  # short abandon
        + "a4,q1,inbound,2026-03-29 10:00:00,abandoned,40,,,\n"
        + "a5,q1,inbound,2026-03-29 11:00:00,timeout,300,,,\n"
        + "a6,q1,inbound,2026-03-29 23:30:00,answered,8,60,,10\n"
        + "a7,q1,inbound,2026-03-29 12:00:00,overflow,20,,,\n"
        + "a7,q2,inbound,2026-03-29 12:00:20,answered,5,90,,\n"  # same contact, second stint
        + "i1,,inbound,2026-03-29 13:00:00,ivr_contained,,,,\n"
        + "o1,out,outbound,2026-03-29 14:00:00,answered,0,300,,\n",
    )
    # An overlapping re-export carries a2 again: it counts once.
    deliver(
        home, "stockholm_telco", "2026-03-29", "overlap.csv",
        FULL_HEADER + "a2,q1,inbound,2026-03-29 00:30:00,answered,12,200,,\n",
    )
    build("r1", "2026-03-29", "2026-03-29")
    result = kpis("stockholm_telco")
    # 03-28: a1 only. offered 1, answered 1 within 10 s, ASA 5, AHT 100+20+30.
    assert result[dt.date(2026, 3, 28)] == pytest.approx((1, 1, 0, 0, 1, 1.0, 1.0, 0.0, 5.0, 150.0))
    # 03-29: offered a2..a7 = 6, answered a2 a6 a7 = 3, abandoned a3 a4 = 2 (a3 short), within 10 s: a6.
    # SL 1/(6-1), abandon (2-1)/(6-1), ASA (12+8+25)/3, AHT (200+70+90)/3.
    assert result[dt.date(2026, 3, 29)] == pytest.approx((6, 3, 2, 1, 1, 0.5, 0.2, 0.2, 15.0, 120.0))


def test_fall_back_day_and_late_file_for_an_old_day(home):
    # 2026-10-25 has 25 hours in Stockholm; 02:30 happens twice (offsets tell them apart).
    deliver(
        home,
        "stockholm_telco",
        "2026-10-25",
        "contacts.csv",
        FULL_HEADER
        + "b0,q1,inbound,2026-10-24T23:30:00+02:00,answered,4,60,,\n"
        + "b1,q1,inbound,2026-10-25T02:30:00+02:00,answered,4,60,,\n"
        + "b2,q1,inbound,2026-10-25T02:30:00+01:00,answered,20,120,,\n"
        + "b3,q1,inbound,2026-10-25T23:30:00+01:00,abandoned,50,,,\n",
    )
    build("r1", "2026-10-25", "2026-10-25")
    first = kpis("stockholm_telco")
    assert first[dt.date(2026, 10, 24)] == pytest.approx((1, 1, 0, 0, 1, 1.0, 1.0, 0.0, 4.0, 60.0))
    assert first[dt.date(2026, 10, 25)] == pytest.approx((3, 2, 1, 0, 1, 2 / 3, 1 / 3, 1 / 3, 12.0, 90.0))
    # A file delivered four days later still holds a contact of 2026-10-25: that date is recomputed.
    deliver(
        home, "stockholm_telco", "2026-10-29", "late.csv",
        FULL_HEADER + "b4,q1,inbound,2026-10-25 15:00:00,answered,2,30,,\n",
    )
    build("r2", "2026-10-29", "2026-10-29")
    second = kpis("stockholm_telco")
    assert second[dt.date(2026, 10, 24)] == first[dt.date(2026, 10, 24)]
    assert second[dt.date(2026, 10, 25)] == pytest.approx((4, 3, 1, 0, 2, 0.75, 0.5, 0.25, 26 / 3, 70.0))


def test_zero_denominators_give_null_and_variant_is_applied(home):
    deliver(
        home,
        "shanghai_bank",
        "2026-03-02",
        "ivr_only.csv",
        FULL_HEADER + "i1,,inbound,2026-03-02 09:00:00,ivr_contained,,,,\n",
    )
    deliver(
        home,
        "variant_tenant",
        "2026-03-02",
        "contacts.csv",
        FULL_HEADER
        + "v1,q1,inbound,2026-03-02 09:00:00,answered,5,100,,\n"
        + "v2,q1,inbound,2026-03-02 09:01:00,answered,50,100,,\n"
        + "v3,q1,inbound,2026-03-02 09:02:00,abandoned,1,,,\n"
        + "v4,q1,inbound,2026-03-02 09:03:00,abandoned,30,,,\n",
    )
    build("r1", "2026-03-02", "2026-03-02")
    assert kpis("shanghai_bank")[dt.date(2026, 3, 2)] == (0, 0, 0, 0, 0, None, None, None, None, None)
    # all_abandons_negative: SL = A_t / O = 1/4; abandon rate (2-1)/(4-1).
    assert kpis("variant_tenant")[dt.date(2026, 3, 2)] == pytest.approx((4, 2, 2, 1, 1, 0.5, 0.25, 1 / 3, 27.5, 100.0))
