"""Staffing marts on hand-computed deliveries and on six simulated weeks.

Contact, schedule, attendance and agent-state files go through the loaders and dbt into
marts.fct_queue_intervals, fct_staffing_plan, fct_forecast_accuracy_daily and rpt_capacity_daily;
the Erlang columns are recomputed with callops.staffing and must agree exactly.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from callops import dbt, pipeline, settings, staffing, warehouse
from callops.config import load_config
from callops.simulate.run import simulate
from tests.conftest import TEST_CONFIG, deliver

pytestmark = pytest.mark.dbt

CONTACTS = (
    "contact_id,queue_id,direction,entered_at,outcome,wait_seconds,talk_seconds,hold_seconds,"
    "after_call_work_seconds,agent_id\n"
)


def build(run_id: str, start: str, end: str) -> None:
    pipeline.load_deliveries(run_id, dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    result = dbt.run_models()
    assert result.success, result.failures or result.error


def rows(sql: str, params: list | None = None) -> list[dict]:
    with warehouse.connection(read_only=True) as con:
        cursor = con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


@pytest.fixture(scope="module")
def hand_home(tmp_path_factory: pytest.TempPathFactory):
    """One CALLOPS_HOME (the conftest tenants) shared by the hand-computed tests: one dbt build."""
    root = tmp_path_factory.mktemp("hand")
    config = root / "callops.yml"
    config.write_text(TEST_CONFIG)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CALLOPS_HOME", str(root / "data"))
        patch.setenv("CALLOPS_CONFIG", str(config))
        yield root / "data"


@pytest.fixture(scope="module")
def hand_built(hand_home):
    home = hand_home
    # shanghai_bank: Asia/Shanghai (UTC+8, no DST), T = 20 s, short abandon < 5 s; local times.
    day = "2026-03-02"
    deliver(
        home, "shanghai_bank", day, "contacts.csv",
        CONTACTS
        + "c1,q1,inbound,2026-03-02 09:05:00,answered,10,100,0,20,a1\n"
        + "c2,q1,inbound,2026-03-02 09:10:00,abandoned,30,,,,\n"
        + "c3,q1,inbound,2026-03-02 09:20:00,overflow,60,,,,\n"
        + "c3,q2,inbound,2026-03-02 09:21:00,answered,5,200,,,a1\n"  # same contact, second queue
        + "c4,q1,inbound,2026-03-02 09:40:00,answered,4,50,,,\n",
    )  # fmt: skip
    deliver(
        home, "shanghai_bank", day, "shifts.csv",
        "agent_id,shift_date,activity,starts_at,ends_at,queue_id,is_paid\n"
        "a1,2026-03-02,work,2026-03-02 09:00:00,2026-03-02 09:30:00,q1,true\n"
        "a1,2026-03-02,break,2026-03-02 09:30:00,2026-03-02 09:45:00,,true\n"
        "a1,2026-03-02,work,2026-03-02 09:45:00,2026-03-02 10:00:00,q1,true\n"
        "a2,2026-03-02,work,2026-03-02 09:00:00,2026-03-02 10:00:00,q1,true\n",
        feed="hr",
    )  # fmt: skip
    deliver(
        home, "shanghai_bank", day, "attendance.csv",
        "agent_id,work_date,status,clock_in_at,clock_out_at\n"
        "a1,2026-03-02,present,2026-03-02 08:55:00,2026-03-02 10:05:00\n"
        "a2,2026-03-02,absent,,\n",
        feed="hr",
    )  # fmt: skip
    deliver(
        home, "shanghai_bank", day, "agent_states.csv",
        "agent_id,state,event_at,queue_id,reason\n"
        "a1,logged_in,2026-03-02 09:00:00,,\n"
        "a1,paused,2026-03-02 09:30:00,,Break\n"
        "a1,ready,2026-03-02 09:50:00,,\n"
        "a1,logged_out,2026-03-02 10:00:00,,\n",
    )  # fmt: skip
    # stockholm_telco sends contacts only (no HR, no agent states), up to the eve of the fall-back night.
    lines = "".join(
        f"s{d}{h},q1,inbound,2026-10-{d:02d} {h:02d}:10:00,answered,5,120,,,\n" for d in range(18, 25) for h in (9, 14)
    )
    deliver(home, "stockholm_telco", "2026-10-24", "contacts.csv", CONTACTS + lines)
    build("r1", day, "2026-10-24")
    return home


def interval(tenant: str, queue: str, local: str) -> dict:
    found = rows(
        "select * from marts.fct_queue_intervals where tenant_id = ? and queue_id = ? and interval_start_local = ?",
        [tenant, queue, dt.datetime.fromisoformat(local)],
    )
    assert len(found) == 1, found
    return found[0]


def test_queue_interval_counts_stints_and_agents(hand_built):
    first = interval("shanghai_bank", "q1", "2026-03-02 09:00:00")
    # c1, c2 and c3's first stint: 3 offered, 1 answered within 20 s, 1 abandoned (not short).
    assert first["interval_start_at"] == dt.datetime(2026, 3, 2, 1, 0)
    assert (first["offered_count"], first["answered_count"], first["abandoned_count"]) == (3, 1, 1)
    assert (first["short_abandoned_count"], first["answered_within_sl_count"]) == (0, 1)
    assert first["service_level_rate"] == pytest.approx(1 / 3)
    assert first["answer_rate"] == pytest.approx(1 / 3) and first["abandon_rate"] == pytest.approx(1 / 3)
    assert first["asa_seconds"] == 10 and first["aht_seconds"] == 120
    assert first["observed_patience_seconds"] == pytest.approx((10 + 30 + 60) / 1)
    # a1 works 09:00-09:30, a2 too but is absent: 2 scheduled, 1 logged in.
    assert first["scheduled_agents"] == pytest.approx(2.0) and first["logged_in_agents"] == pytest.approx(1.0)
    # a1 handled c1 (120 s) and c3 in q2 (200 s) while available 1800 s.
    assert first["occupancy_rate"] == pytest.approx(320 / 1800)
    assert first["shrinkage_rate"] == pytest.approx(0.5)  # a2's absent half of the paid time
    assert first["adherence_rate"] == pytest.approx(0.5)  # a1 in state, a2 not
    second_queue = interval("shanghai_bank", "q2", "2026-03-02 09:00:00")
    assert (second_queue["offered_count"], second_queue["answered_count"], second_queue["asa_seconds"]) == (1, 1, 5)

    later = interval("shanghai_bank", "q1", "2026-03-02 09:30:00")
    assert later["offered_count"] == 1
    assert later["scheduled_agents"] == pytest.approx((900 + 1800) / 1800)
    assert later["logged_in_agents"] == pytest.approx(1.0)  # paused time is logged in
    assert later["occupancy_rate"] == 0.0  # ready 600 s, handled nothing
    assert later["shrinkage_rate"] == pytest.approx((900 + 1800) / 3600)  # a1's break, a2's absence
    # a1 on break while paused (900 s), working while ready 09:50-10:00 (600 s); a2 never.
    assert later["adherence_rate"] == pytest.approx((900 + 600) / 3600)

    quiet = interval("shanghai_bank", "q1", "2026-03-02 03:00:00")  # a day has every interval
    assert (quiet["offered_count"], quiet["answer_rate"], quiet["scheduled_agents"]) == (0, None, 0.0)
    assert len(rows("select 1 from marts.fct_queue_intervals where tenant_id = 'shanghai_bank' "
                    "and queue_id = 'q1' and interval_date = '2026-03-02'")) == 48  # fmt: skip


def test_tenant_without_hr_or_agent_states_gets_rows_with_nulls(hand_built):
    found = interval("stockholm_telco", "q1", "2026-10-20 09:00:00")
    assert (found["offered_count"], found["answered_count"], found["aht_seconds"]) == (1, 1, 120)
    for column in ("scheduled_agents", "logged_in_agents", "occupancy_rate", "shrinkage_rate", "adherence_rate"):
        assert found[column] is None, column
    capacity = rows("select * from marts.rpt_capacity_daily where tenant_id = 'stockholm_telco' "
                    "and capacity_date = '2026-10-20'")[0]  # fmt: skip
    assert capacity["workload_seconds"] == pytest.approx(2 * 120) and capacity["capacity_seconds"] is None


def test_staffing_plan_has_14_days_and_the_fall_back_day_has_50_intervals(hand_built):
    per_day = rows(
        "select interval_date, count(*) as n from marts.fct_staffing_plan "
        "where tenant_id = 'stockholm_telco' and queue_id = 'q1' group by 1 order by 1"
    )
    assert [r["interval_date"] for r in per_day] == [dt.date(2026, 10, 25) + dt.timedelta(days=k) for k in range(14)]
    assert [r["n"] for r in per_day] == [50] + [48] * 13


def test_erlang_columns_agree_exactly_with_callops_staffing(hand_built):
    plan = rows("select * from marts.fct_staffing_plan where tenant_id = 'stockholm_telco' "
                "and forecast_offered_count > 0 order by interval_start_at")  # fmt: skip
    assert plan
    calls = np.array([r["forecast_offered_count"] for r in plan], dtype=float)
    aht = np.array([r["forecast_aht_seconds"] for r in plan], dtype=float)
    expected_c = staffing.erlang_c_agents(calls, 1800, aht, 0.8, 20)
    assert [r["erlang_c_agents"] for r in plan] == expected_c.tolist()
    shrink = np.array([r["shrinkage_rate"] for r in plan], dtype=float)
    assert [r["required_agents_with_shrinkage"] for r in plan] == staffing.scheduled_agents(expected_c, shrink).tolist()
    past = [
        r for r in rows("select * from marts.fct_queue_intervals where offered_count > 0 and aht_seconds is not null")
    ]
    got = [r["erlang_c_agents"] for r in past]
    target = [0.8 if r["tenant_id"] == "shanghai_bank" else 0.8 for r in past]
    within = [r["service_level_seconds"] for r in past]
    expected = staffing.erlang_c_agents(
        np.array([r["offered_count"] for r in past], dtype=float), 1800,
        np.array([r["aht_seconds"] for r in past], dtype=float), np.array(target), np.array(within, dtype=float),
    )  # fmt: skip
    assert got == expected.tolist()
    # Erlang A in the plan: patience is the stockholm queue's (none abandoned: null -> NaN -> null)
    assert all(r["erlang_a_agents"] is None for r in plan if r["patience_seconds"] is None)


RECONCILIATIONS = (  # dbt singular tests (dbt_project/tests/marts/staffing), run by every dbt build
    "assert_every_staged_stint_in_exactly_one_queue_interval",
    "assert_offered_is_answered_abandoned_or_flowed_out_per_queue_interval",
)


def failed_reconciliations() -> list[str]:
    """The reconciliations that fail: each a blocking test of the damaged tenant's day alone."""
    result = dbt.invoke("test", "--select", *RECONCILIATIONS)
    assert result.nodes == len(RECONCILIATIONS) and result.success and not result.error, result
    for failure in result.test_failures:
        assert (failure.severity, failure.tenant_id, failure.failing_keys) == (
            "blocking",
            "shanghai_bank",
            ["shanghai_bank 2026-03-02"],
        ), failure
    return sorted({failure.test for failure in result.test_failures})


def test_queue_intervals_reconcile_with_the_staged_stints_and_a_miscount_fails(hand_built):
    # 09:00 Shanghai (01:00 UTC), q1: c1 answered, c2 abandoned, c3 overflowed to q2 (a flow-out).
    interval = "tenant_id = 'shanghai_bank' and queue_id = 'q1' and interval_start_at = '2026-03-02 01:00:00'"
    assert failed_reconciliations() == []
    try:
        with warehouse.connection() as con:  # one stint too many offered
            con.execute(f"update marts.fct_queue_intervals set offered_count = offered_count + 1 where {interval}")
        assert failed_reconciliations() == sorted(RECONCILIATIONS)
        with warehouse.connection() as con:  # offered right, a stint counted in no outcome
            con.execute(
                "update marts.fct_queue_intervals set offered_count = offered_count - 1, "
                f"answered_count = answered_count - 1 where {interval}"
            )
        assert failed_reconciliations() == [RECONCILIATIONS[1]]
    finally:
        with warehouse.connection() as con:
            con.execute(f"update marts.fct_queue_intervals set answered_count = 1, offered_count = 3 where {interval}")
    assert failed_reconciliations() == []


def test_dbt_unit_tests_of_the_staffing_formulas_pass(home):
    warehouse.connect().close()
    assert dbt.invoke("run", "--empty").success
    result = dbt.invoke("test", "--select", "test_type:unit,path:models/intermediate/staffing",
                        "test_type:unit,path:models/marts/staffing")  # fmt: skip
    assert result.success, result.failures
    assert result.nodes >= 4


# --- six simulated weeks of one tenant -------------------------------------------------------------

SIM_START = dt.date(2026, 9, 21)  # a Monday; the fall-back night (2026-10-25) is inside
SIM_DAYS = 42


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("staffing")
    config = root / "callops.yml"
    config.write_text("tenants:\n  - {id: telco, name: Telco, timezone: Europe/Stockholm}\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CALLOPS_HOME", str(root / "data"))
        patch.setenv("CALLOPS_CONFIG", str(config))
        simulate(load_config().tenants, tenants=1, days=SIM_DAYS, start=SIM_START, calls_per_day=300, seed=3,
                 landing=settings.landing_dir(), workers=2, progress=None)  # fmt: skip
        pipeline.load_deliveries("sim", SIM_START, SIM_START + dt.timedelta(days=SIM_DAYS))
        result = dbt.run_models()
        assert result.success, result.failures or result.error
        yield {
            "accuracy": rows(
                "select sum(volume_absolute_error) / sum(actual_offered_count) as wape, "
                "sum(naive_volume_absolute_error) / sum(actual_offered_count) as naive_wape, "
                "sum(aht_absolute_error) / sum(actual_aht_seconds_sum) as aht_wape, "
                "sum(naive_aht_absolute_error) / sum(actual_aht_seconds_sum) as naive_aht_wape "
                "from marts.fct_forecast_accuracy_daily where forecast_date > ? and forecast_date <= ?",
                [SIM_START + dt.timedelta(days=SIM_DAYS - 15), SIM_START + dt.timedelta(days=SIM_DAYS - 1)],
            )[0],
            "plan": rows("select queue_id, count(distinct interval_date) as days, count(*) as n, "
                         "count(erlang_c_agents) as staffed, min(interval_date) as first "
                         "from marts.fct_staffing_plan group by 1 order by 1"),
            "agents": rows("select queue_id, avg(scheduled_agents) as scheduled, avg(logged_in_agents) as logged_in, "
                           "count(occupancy_rate) as occupancy, count(adherence_rate) as adherence "
                           "from marts.fct_queue_intervals group by 1 order by 1"),
            "fall_back": rows("select count(*) as n from marts.fct_queue_intervals "
                              "where queue_id = 'general' and interval_date = '2026-10-25'")[0]["n"],
            "capacity": rows("select count(capacity_seconds) as n, avg(workload_seconds) as workload "
                             "from marts.rpt_capacity_daily")[0],
        }  # fmt: skip


def test_forecast_beats_seasonal_naive_over_the_last_two_weeks(simulated):
    accuracy = simulated["accuracy"]
    assert accuracy["wape"] < accuracy["naive_wape"]
    assert accuracy["aht_wape"] < accuracy["naive_aht_wape"]


def test_staffing_plan_covers_14_future_days_per_queue(simulated):
    plan = simulated["plan"]
    assert [p["queue_id"] for p in plan] == ["billing", "general", "vip"]
    for queue in plan:
        assert queue["days"] == 14 and queue["n"] == 14 * 48 and queue["staffed"] == queue["n"]
        assert queue["first"] == SIM_START + dt.timedelta(days=SIM_DAYS)


def test_simulated_queue_intervals_have_scheduled_and_logged_in_agents(simulated):
    for queue in simulated["agents"]:
        assert queue["scheduled"] > 0 and queue["logged_in"] > 0, queue
        assert queue["occupancy"] > 0 and queue["adherence"] > 0, queue
    assert simulated["fall_back"] == 50
    assert simulated["capacity"]["n"] > 30
