"""The period and benchmark marts on a real build: simulated weeks of three tenants -> dbt build ->
marts.rpt_kpis_by_period and marts.rpt_tenant_benchmark, checked against marts.rpt_daily_kpis.

The formulas have dbt unit tests on hand-computed values (models/marts/executive/_executive__models.yml);
this file checks the whole path on data none of them was written for: every count of a period is the
sum of its days' (null when a day's is), every rate is its formula over those sums (written again here,
from docs/kpis.md, not taken from the macros), each agent counts once per period, and each benchmark
row ranks and summarises the tenants' values of its period.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

import numpy as np
import pytest
import yaml

from callops import dbt, pipeline, settings, warehouse
from callops.config import load_config
from callops.simulate.run import simulate

pytestmark = pytest.mark.dbt

START = dt.date(2026, 3, 2)  # a Monday: five weeks, March into April (a new month and quarter)
DAYS = 38
END = START + dt.timedelta(days=DAYS)  # one more delivery day: calls still going at midnight
GRAINS = ("week", "month", "quarter", "year")
COMPONENTS = (
    "offered_count", "answered_count", "abandoned_count", "short_abandoned_count", "answered_within_sl_count",
    "abandoned_within_sl_count", "ivr_contained_count", "answered_wait_seconds_sum", "handle_seconds_sum",
    "handled_count", "answered_within_10s_count", "answered_within_20s_count", "answered_within_30s_count",
    "abandoned_within_5s_count", "vip_offered_count", "vip_answered_count", "vip_short_abandoned_count",
    "vip_answered_within_sl_count", "vip_abandoned_within_sl_count", "csat_response_count", "csat_top_box_count",
    "qa_evaluation_count", "qa_score_sum", "fcr_contact_count", "fcr_resolved_count",
    "occupancy_handle_seconds_sum", "occupancy_idle_seconds_sum",
)  # fmt: skip
RATES = (
    "answer_rate", "service_level_rate", "common_service_level_rate", "abandon_rate", "asa_seconds", "aht_seconds",
    "vip_service_level_rate", "csat_rate", "qa_score", "fcr_rate", "occupancy_rate",
)  # fmt: skip
BENCHMARKED = {  # KPI: higher is better
    "answer_rate": True, "service_level_rate": True, "common_service_level_rate": True, "abandon_rate": False,
    "asa_seconds": False, "csat_rate": True, "qa_score": True, "fcr_rate": True,
}  # fmt: skip


def rows(con, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("periods")
    config = root / "callops.yml"
    config.write_text(
        "tenants:\n"
        "  - {id: bank, name: Bank, timezone: Asia/Shanghai, service_level_seconds: 10}\n"
        "  - {id: telco, name: Telco, timezone: Europe/Stockholm, service_level_variant: all_abandons_negative}\n"
        "  - {id: utility, name: Utility, timezone: America/New_York, short_abandon_seconds: 10}\n"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CALLOPS_HOME", str(root / "data"))
        patch.setenv("CALLOPS_CONFIG", str(config))
        simulate(
            load_config().tenants, tenants=3, days=DAYS, start=START, calls_per_day=60, seed=11,
            landing=settings.landing_dir(), workers=2, progress=None,
        )  # fmt: skip
        pipeline.load_deliveries("periods", START, END)
        result = dbt.build()
        assert result.success, result.failures
        with warehouse.connection(read_only=True) as con:
            yield {
                "result": result,
                "days": rows(con, "select * from marts.rpt_daily_kpis"),
                "periods": rows(con, "select * from marts.rpt_kpis_by_period"),
                "benchmark": rows(con, "select * from marts.rpt_tenant_benchmark"),
                "agent_days": rows(con, "select * from intermediate.int_agent_days_answered"),
            }


# --- the formulas, written again from docs/kpis.md -------------------------------------------------


def divide(numerator, denominator):
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def minus(a, b):
    return None if a is None or b is None else a - b


def service_level(variant: str, within, abandoned_within, short_abandoned, answered, offered):
    if within is None:
        return None
    return {
        "exclude_short_abandons": lambda: divide(within, minus(offered, short_abandoned)),
        "abandons_within_threshold_positive": lambda: divide(
            None if abandoned_within is None else within + abandoned_within, offered
        ),
        "ignore_abandons": lambda: divide(within, answered),
        "all_abandons_negative": lambda: divide(within, offered),
        "exclude_abandons_within_threshold": lambda: divide(within, minus(offered, abandoned_within)),
    }[variant]()


def rates_of(row: dict, variant: str) -> dict:
    """Every rate from a row's components."""
    occupied = row["occupancy_handle_seconds_sum"]
    idle = row["occupancy_idle_seconds_sum"]
    return {
        "answer_rate": divide(row["answered_count"], row["offered_count"]),
        "service_level_rate": service_level(
            variant,
            row["answered_within_sl_count"],
            row["abandoned_within_sl_count"],
            row["short_abandoned_count"],
            row["answered_count"],
            row["offered_count"],
        ),  # fmt: skip
        "common_service_level_rate": divide(
            row["answered_within_20s_count"], minus(row["offered_count"], row["abandoned_within_5s_count"])
        ),
        "abandon_rate": divide(
            minus(row["abandoned_count"], row["short_abandoned_count"]),
            minus(row["offered_count"], row["short_abandoned_count"]),
        ),
        "asa_seconds": divide(row["answered_wait_seconds_sum"], row["answered_count"]),
        "aht_seconds": divide(row["handle_seconds_sum"], row["handled_count"]),
        "vip_service_level_rate": service_level(
            variant,
            row["vip_answered_within_sl_count"],
            row["vip_abandoned_within_sl_count"],
            row["vip_short_abandoned_count"],
            row["vip_answered_count"],
            row["vip_offered_count"],
        ),  # fmt: skip
        "csat_rate": divide(row["csat_top_box_count"], row["csat_response_count"]),
        "qa_score": divide(row["qa_score_sum"], row["qa_evaluation_count"]),
        "fcr_rate": divide(row["fcr_resolved_count"], row["fcr_contact_count"]),
        "occupancy_rate": divide(occupied, None if occupied is None or idle is None else occupied + idle),
    }


def same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def period_start(grain: str, day: dt.date) -> dt.date:
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return dt.date(day.year, 1, 1)


def shifted(grain: str, start: dt.date, months: int) -> dt.date:
    month = start.year * 12 + start.month - 1 + months
    return dt.date(month // 12, month % 12 + 1, 1)


def previous(grain: str, start: dt.date) -> tuple[dt.date, dt.date]:
    """The previous period's start and the start of the same period a year earlier."""
    if grain == "week":
        return start - dt.timedelta(days=7), start - dt.timedelta(days=364)
    back = {"month": 1, "quarter": 3, "year": 12}[grain]
    return shifted(grain, start, -back), shifted(grain, start, -12)


def period_end(grain: str, start: dt.date) -> dt.date:
    if grain == "week":
        return start + dt.timedelta(days=6)
    return shifted(grain, start, {"month": 1, "quarter": 3, "year": 12}[grain]) - dt.timedelta(days=1)


# --- the tests ------------------------------------------------------------------------------------


def test_the_build_has_both_marts_and_their_data_tests_pass(built):
    assert {(row["tenant_id"], row["period_grain"]) for row in built["periods"]} == {
        (tenant, grain) for tenant in ("bank", "telco", "utility") for grain in GRAINS
    }
    ran = [name for name in built["result"].tests if "by_period" in name or "benchmark" in name]
    assert len(ran) >= 4, ran  # row rules and the key of each mart
    assert "assert_rpt_daily_kpis_rates_are_their_components" in built["result"].tests
    assert built["result"].test_failures == []


def test_every_daily_rate_is_its_formula_over_the_days_components(built):
    checked = 0
    for day in built["days"]:
        expected = rates_of(day, day["service_level_variant"])
        for rate, value in expected.items():
            assert same(day[rate], value), (day["tenant_id"], day["kpi_date"], rate, day[rate], value)
            checked += value is not None
    assert checked > 3 * DAYS * 8  # most rates of most days are known


def test_period_counts_are_sums_of_the_days_and_rates_the_formulas_over_the_sums(built):
    by_period: dict[tuple, list[dict]] = defaultdict(list)
    for day in built["days"]:
        for grain in GRAINS:
            by_period[(day["tenant_id"], grain, period_start(grain, day["kpi_date"]))].append(day)
    periods = {(row["tenant_id"], row["period_grain"], row["period_start"]): row for row in built["periods"]}
    assert periods.keys() == by_period.keys()
    averaged_differs = 0
    for key, days in by_period.items():
        row = periods[key]
        assert row["day_count"] == len(days), key
        assert (row["first_kpi_date"], row["last_kpi_date"]) == (
            min(d["kpi_date"] for d in days),
            max(d["kpi_date"] for d in days),
        )
        assert row["period_end"] == period_end(key[1], key[2])
        for component in COMPONENTS:
            values = [d[component] for d in days]
            expected = None if None in values else sum(values)
            assert same(row[component], expected), (key, component, row[component], expected)
        for rate, value in rates_of(row, row["service_level_variant"]).items():
            assert same(row[rate], value), (key, rate, row[rate], value)
        daily = [d["answer_rate"] for d in days if d["answer_rate"] is not None]
        if len(daily) > 1 and not same(row["answer_rate"], sum(daily) / len(daily)):
            averaged_differs += 1
    assert averaged_differs > 10  # the data tells the two apart: a sum's rate is not a mean of rates
    # what a format cannot express stays unknown over a period: Connect and the contact CSV carry the
    # queue wait, every tenant's weeks have a known service level
    assert all(row["service_level_rate"] is not None for row in built["periods"] if row["period_grain"] == "week")


def test_each_agent_counts_once_per_period(built):
    days = {(d["tenant_id"], d["kpi_date"]) for d in built["days"]}
    agents: dict[tuple, dict[str, bool | None]] = defaultdict(dict)
    for agent_day in built["agent_days"]:
        if (agent_day["tenant_id"], agent_day["contact_date"]) not in days:
            continue
        for grain in GRAINS:
            key = (agent_day["tenant_id"], grain, period_start(grain, agent_day["contact_date"]))
            seen = agents[key].get(agent_day["agent_id"], True)
            on_roster = agent_day["is_on_roster"]
            agents[key][agent_day["agent_id"]] = None if on_roster is None else (seen and on_roster)
    summed_exceeds = 0
    for row in built["periods"]:
        key = (row["tenant_id"], row["period_grain"], row["period_start"])
        assert row["answering_agent_count"] == len(agents[key]), key
        flags = list(agents[key].values())
        assert row["unrostered_agent_count"] == (None if None in flags else flags.count(False)), key
        daily_sum = sum(
            d["answering_agent_count"] for d in built["days"]
            if d["tenant_id"] == row["tenant_id"]
            and period_start(row["period_grain"], d["kpi_date"]) == row["period_start"]
        )  # fmt: skip
        summed_exceeds += daily_sum > row["answering_agent_count"]
    assert summed_exceeds > 10  # agents work several days of a week: a sum of days would count them again


def test_previous_period_previous_year_and_completeness(built):
    periods = {(row["tenant_id"], row["period_grain"], row["period_start"]): row for row in built["periods"]}
    complete = defaultdict(list)
    for day in built["days"]:
        if day["is_day_complete"]:
            complete[day["tenant_id"]].append(day["kpi_date"])
    found_previous = 0
    for (tenant, grain, start), row in periods.items():
        before, year_before = previous(grain, start)
        for rate in RATES:
            earlier = periods.get((tenant, grain, before))
            assert same(row[f"{rate}_previous_period"], earlier and earlier[rate]), (tenant, grain, start, rate)
            a_year = periods.get((tenant, grain, year_before))
            assert same(row[f"{rate}_previous_year"], a_year and a_year[rate])
        found_previous += (tenant, grain, before) in periods
        days = complete[tenant]
        expected = bool(days) and start >= min(days) and row["period_end"] <= max(days)
        assert row["is_period_complete"] == expected, (tenant, grain, start)
        if not expected:
            assert row["is_answer_rate_target_met"] is None
        elif row["answer_rate"] is not None:
            assert row["is_answer_rate_target_met"] == (row["answer_rate"] >= row["answer_rate_target"])
    assert found_previous >= 3 * (4 + 1)  # weeks 2-5 and April of each tenant
    assert any(row["is_period_complete"] for row in periods.values())
    assert not all(row["is_period_complete"] for row in periods.values())


def test_benchmark_ranks_and_summarises_each_periods_tenants(built):
    values: dict[tuple, dict[str, float | None]] = defaultdict(dict)
    for day in built["days"]:
        for kpi in BENCHMARKED:
            values[("day", day["kpi_date"], kpi)][day["tenant_id"]] = day[kpi]
    for row in built["periods"]:
        for kpi in BENCHMARKED:
            values[(row["period_grain"], row["period_start"], kpi)][row["tenant_id"]] = row[kpi]
    benchmark = built["benchmark"]
    assert len(benchmark) == sum(len(tenants) for tenants in values.values())
    # the one place the threshold is set: the dbt project's var
    shareable_threshold = yaml.safe_load((settings.dbt_project_dir() / "dbt_project.yml").read_text())["vars"][
        "benchmark_min_tenants"
    ]
    assert shareable_threshold == 5
    for row in benchmark:
        key = (row["period_grain"], row["period_start"], row["kpi_name"])
        tenants = values[key]
        known = [value for value in tenants.values() if value is not None]
        higher = BENCHMARKED[row["kpi_name"]]
        assert same(row["kpi_value"], tenants[row["tenant_id"]]), row
        assert row["is_higher_better"] == higher
        assert row["tenants_with_value"] == len(known)
        assert row["is_center_shareable"] == (len(known) >= shareable_threshold)
        if known:
            p25, median, p75 = np.quantile(known, [0.25, 0.5, 0.75])  # linear: quantile_cont
            assert [same(row["center_p25"], p25), same(row["center_median"], median),
                    same(row["center_p75"], p75)] == [True] * 3, row  # fmt: skip
            assert same(row["center_best"], max(known) if higher else min(known))
        else:
            assert row["center_median"] is None and row["center_best"] is None
        if row["kpi_name"] == "service_level_rate":
            assert row["tenant_rank"] is None and row["tenants_ranked"] is None
            continue
        assert row["tenants_ranked"] == len(known)
        value = row["kpi_value"]
        if value is None:
            assert row["tenant_rank"] is None
        else:
            better = [
                other for other in known if (other > value if higher else other < value) and not same(other, value)
            ]
            assert row["tenant_rank"] == 1 + len(better), row
