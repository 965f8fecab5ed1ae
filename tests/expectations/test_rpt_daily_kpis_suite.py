"""The publish gate of marts.rpt_daily_kpis: a good table passes, each kind of damage is caught."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from callops.quality import gate

pytestmark = pytest.mark.gx

AS_OF = dt.date(2026, 3, 31)


@pytest.fixture(scope="module")
def suite():
    modules = {m.TABLE: m for m in gate.suite_modules()}
    return modules["rpt_daily_kpis"]


def good_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tenant_id": ["a", "a", "b"],
            "kpi_date": pd.to_datetime(["2026-03-29", "2026-03-30", "2026-03-30"]),
            "offered_count": [12, 0, 5],
            "answered_count": [6, 0, 2],
            "abandoned_count": [4, 0, 2],
            "short_abandoned_count": [2, 0, 1],
            "answered_within_sl_count": [4, 0, 1],
            "answer_rate": [0.5, None, 0.4],
            "service_level_rate": [0.4, None, 0.25],
            "abandon_rate": [0.2, None, 0.25],
            "asa_seconds": [20.0, None, 27.5],
            "aht_seconds": [350.0, None, 100.0],
            "vip_service_level_rate": [1.0, None, 0.5],
            "vip_offered_count": [2, 0, 2],
            "vip_answered_count": [1, 0, 2],
            "vip_answered_within_sl_count": [1, 0, 1],
            "csat_rate": [0.8, None, None],
            "fcr_rate": [0.7, None, 0.5],
            "occupancy_rate": [0.85, None, 0.6],
            "qa_score": [0.9, None, None],
            "forecast_wape": [0.12, None, 0.3],
            "unrostered_agent_count": [0, 0, None],
            "is_volume_within_blocking_band": [True, None, True],
            "is_volume_within_warning_band": [True, None, True],
            "has_roster": [True, True, True],
            # the additive components (12 offered: 6 answered, 4 abandoned, ...)
            "answered_wait_seconds_sum": [120.0, 0.0, 55.0],
            "handle_seconds_sum": [2100.0, 0.0, 200.0],
            "handled_count": [6, 0, 2],
            "answered_within_10s_count": [2, 0, 1],
            "answered_within_20s_count": [4, 0, 1],
            "answered_within_30s_count": [5, 0, 2],
            "abandoned_within_5s_count": [2, 0, 1],
            "common_service_level_rate": [0.4, None, 0.25],
            "vip_short_abandoned_count": [1, 0, 0],
            "vip_abandoned_within_sl_count": [1, 0, 0],
            "csat_response_count": [5, 0, 0],
            "csat_top_box_count": [4, 0, 0],
            "qa_evaluation_count": [2, 0, 0],
            "qa_score_sum": [1.8, 0.0, 0.0],
            "fcr_contact_count": [10, 0, 2],
            "fcr_resolved_count": [7, 0, 1],
            "occupancy_handle_seconds_sum": [8500.0, None, 600.0],
            "occupancy_idle_seconds_sum": [1500.0, None, 400.0],
        }
    )


def failed(results) -> dict[tuple[str, str | None], list[str]]:
    return {(r.check, r.column): r.failing_keys for r in results if not r.success}


def test_good_table_passes(suite):
    results = gate.validate_frame(suite, good_frame(), AS_OF)
    assert failed(results) == {}
    assert len(results) == 57
    assert sum(r.severity == "blocking" for r in results) == 55


def test_each_kind_of_damage_fails_exactly_its_check_and_names_tenant_and_day(suite):
    frame = good_frame()
    frame.loc[0, "service_level_rate"] = 40.0  # a percentage slipped in
    frame.loc[2, "asa_seconds"] = -3.0
    frame.loc[2, "vip_service_level_rate"] = 1.5
    frame.loc[2, "answered_count"] = 7  # more answered than offered
    frame.loc[1, "kpi_date"] = pd.Timestamp("2026-04-05")  # in the future
    frame.loc[0, "occupancy_rate"] = 1.2
    frame.loc[2, "vip_answered_within_sl_count"] = 3  # more within SL than answered
    frame.loc[0, "answered_within_20s_count"] = 6  # more within 20 s than within 30 s
    frame.loc[1, "qa_score_sum"] = -0.5
    results = failed(gate.validate_frame(suite, frame, AS_OF))
    assert results == {
        ("expect_column_values_to_be_between", "service_level_rate"): ["a 2026-03-29"],
        ("expect_column_values_to_be_between", "asa_seconds"): ["b 2026-03-30"],
        ("expect_column_values_to_be_between", "vip_service_level_rate"): ["b 2026-03-30"],
        ("expect_column_pair_values_a_to_be_greater_than_b", "offered_count/answered_count"): ["b 2026-03-30"],
        ("expect_column_values_to_be_between", "kpi_date"): ["a 2026-04-05"],
        ("expect_column_values_to_be_between", "occupancy_rate"): ["a 2026-03-29"],
        ("expect_column_pair_values_a_to_be_greater_than_b", "vip_answered_count/vip_answered_within_sl_count"): [
            "b 2026-03-30"
        ],
        ("expect_column_pair_values_a_to_be_greater_than_b", "answered_within_30s_count/answered_within_20s_count"): [
            "a 2026-03-29"
        ],
        ("expect_column_values_to_be_between", "qa_score_sum"): ["a 2026-04-05"],
    }


def test_volume_out_of_band_and_unrostered_agents_block_a_missing_roster_warns(suite):
    frame = good_frame()
    frame.loc[0, "is_volume_within_blocking_band"] = False  # a third of the usual Monday
    frame.loc[0, "is_volume_within_warning_band"] = False
    frame.loc[1, "unrostered_agent_count"] = 2
    frame.loc[2, "has_roster"] = False
    results = {
        (r.check, r.column): (r.severity, r.failing_keys)
        for r in gate.validate_frame(suite, frame, AS_OF)
        if not r.success
    }
    assert results == {
        ("expect_column_values_to_be_in_set", "is_volume_within_blocking_band"): ("blocking", ["a 2026-03-29"]),
        ("expect_column_values_to_be_in_set", "is_volume_within_warning_band"): ("warning", ["a 2026-03-29"]),
        ("expect_column_values_to_be_between", "unrostered_agent_count"): ("blocking", ["a 2026-03-30"]),
        ("expect_column_values_to_be_in_set", "has_roster"): ("warning", ["b 2026-03-30"]),
    }


def test_the_volume_band_blocks_a_small_day_only_when_complete_and_a_large_one_always(suite):
    """``candidate_sql`` on a hand-made mart: each tenant's candidate Monday against four Mondays of 40
    offered (band x/÷ 3 blocking, x/÷ 1.5 warning)."""
    import duckdb

    day = pd.Timestamp("2026-03-30")
    cases = {  # tenant: (offered, is_day_complete)
        "small_complete": (2, True),  # a truncated delivery
        "small_partial": (2, False),  # the calls after midnight of a log rotated a little later
        "large_partial": (130, False),  # more than the band allows: never legitimate, partial or not
        "large_complete": (130, True),
        "slightly_small_partial": (20, False),  # below the warning band, partial: not even a warning
        "slightly_small_complete": (20, True),
    }
    derived = ["is_volume_within_blocking_band", "is_volume_within_warning_band", "has_roster"]  # candidate_sql's
    template = good_frame().iloc[[0]].drop(columns=derived).assign(unrostered_agent_count=0, is_day_complete=True)
    rows = []
    for tenant, (offered, complete) in cases.items():
        for week in range(1, 5):
            rows.append(template.assign(tenant_id=tenant, kpi_date=day - pd.Timedelta(weeks=week), offered_count=40))
        rows.append(template.assign(tenant_id=tenant, kpi_date=day, offered_count=offered, is_day_complete=complete))
    parts = ["handled_count", "answered_within_10s_count", "answered_within_20s_count", "answered_within_30s_count",
             "abandoned_within_5s_count", "vip_short_abandoned_count"]  # fmt: skip
    kpis = pd.concat(rows, ignore_index=True).assign(answered_count=0, abandoned_count=0, short_abandoned_count=0,
                                                     answered_within_sl_count=0, **dict.fromkeys(parts, 0))  # fmt: skip
    con = duckdb.connect()
    con.register("kpis", kpis)
    con.execute("create schema marts; create schema raw")
    con.execute("create table marts.rpt_daily_kpis as select * replace (cast(kpi_date as date) as kpi_date) from kpis")
    con.execute("create table raw.tenants as select unnest($1) as id, 3.0::double as volume_blocking_ratio, "
                "1.5::double as volume_warning_ratio", [list(cases)])  # fmt: skip
    con.execute(f"create temp table {gate.PARTITIONS} as select tenant_id, cast(kpi_date as date) as partition_date "
                "from marts.rpt_daily_kpis where kpi_date = ?", [day])  # fmt: skip
    frame = gate.candidate_frame(con, suite)
    assert len(frame) == len(cases)
    results = {
        (r.column, r.severity): r.failing_keys for r in gate.validate_frame(suite, frame, AS_OF) if not r.success
    }
    assert results == {
        ("is_volume_within_blocking_band", "blocking"): [
            "large_complete 2026-03-30", "large_partial 2026-03-30", "small_complete 2026-03-30"
        ],
        ("is_volume_within_warning_band", "warning"): [
            "large_complete 2026-03-30", "large_partial 2026-03-30", "slightly_small_complete 2026-03-30",
            "small_complete 2026-03-30",
        ],
    }
