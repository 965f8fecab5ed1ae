"""The publish gates of every other mart (expectations/suites/): a sound row passes; a rate above 1,
a negative count or duration, a part above its whole and a date in the future each fail exactly their
check and name the row's keys."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from callops.quality import gate, suites

pytestmark = pytest.mark.gx

AS_OF = dt.date(2026, 3, 31)
MODULES = {m.TABLE: m for m in gate.suite_modules() if m.TABLE != "rpt_daily_kpis"}  # its own test file


def sound_row(module) -> dict:
    """One row every check of the suite accepts: keys, rates 0.5, other values 1 (a part equals its whole)."""
    past = getattr(module, "PAST_COLUMN", None)
    row: dict = {key: "k" for key in module.KEY_COLUMNS}
    for key in [*module.KEY_COLUMNS, *([past] if past and past not in module.KEY_COLUMNS else [])]:
        if key.endswith("_date") or key == past:
            row[key] = pd.Timestamp("2026-03-02")
        elif key.endswith("_at"):
            row[key] = pd.Timestamp("2026-03-02 09:30")
    row |= {column: 0.5 for column in module.RATE_COLUMNS}
    row |= {column: 1.0 for column in module.NON_NEGATIVE_COLUMNS}
    row |= {column: (low + high) / 2 for column, (low, high) in getattr(module, "BOUNDED_COLUMNS", {}).items()}
    if hasattr(module, "PAST_ONLY_WHERE"):
        row[module.PAST_ONLY_WHERE] = True
    return row


def failed(module, frame) -> dict[tuple[str, str | None], list[str]]:
    return {(r.check, r.column): r.failing_keys for r in gate.validate_frame(module, frame, AS_OF) if not r.success}


def test_every_published_mart_has_a_gate_suite():
    assert set(MODULES) == {
        "fct_queue_intervals", "fct_forecast_accuracy_daily", "fct_staffing_plan", "rpt_capacity_daily",
        "fct_contact_value_daily", "fct_campaign_daily", "fct_agent_quality_monthly", "fct_qa_criteria_monthly",
        "fct_evaluator_calibration", "fct_headcount_monthly", "fct_headcount_monthly_by_team",
        "rpt_kpis_by_period", "rpt_tenant_benchmark", "fct_service_alerts", "fct_service_alert_steps",
    }  # fmt: skip
    for module in MODULES.values():
        # a suite with its own candidate rows (candidate_sql) needs no partition grain
        assert hasattr(module, "candidate_sql") or module.PARTITION_GRAIN in ("day", "month", "tenant")
        assert module.KEY_COLUMNS[0] == gate.TENANT_COLUMN  # the gate decides per tenant
        assert all(e.meta["severity"] == "blocking" for e in suites.suite_of(module, AS_OF).expectations)


@pytest.mark.parametrize("table", sorted(MODULES))
def test_a_sound_row_passes_and_each_kind_of_damage_fails_its_own_check(table):
    module = MODULES[table]
    good = pd.DataFrame([sound_row(module), sound_row(module) | {module.KEY_COLUMNS[0]: "other"}])
    assert failed(module, good) == {}
    checked = suites.checked_columns(suites.suite_of(module, AS_OF))
    assert checked >= set(module.RATE_COLUMNS) | set(module.NON_NEGATIVE_COLUMNS)

    bad = good.copy()
    expected = {}
    keys = gate._format_key(bad.iloc[0].to_dict(), module.KEY_COLUMNS)
    if module.RATE_COLUMNS:
        bad.loc[0, module.RATE_COLUMNS[0]] = 40.0  # a percentage slipped in
        expected[("expect_column_values_to_be_between", module.RATE_COLUMNS[0])] = [keys]
    pairs = getattr(module, "SUBSET_PAIRS", [])
    in_pairs = {column for pair in pairs for column in pair}
    negative = next(c for c in module.NON_NEGATIVE_COLUMNS if c not in in_pairs)
    bad.loc[0, negative] = -3.0
    expected[("expect_column_values_to_be_between", negative)] = [keys]
    if pairs:
        larger, smaller = pairs[0]
        bad.loc[0, smaller] = 2.0  # more of the part than of the whole
        expected[("expect_column_pair_values_a_to_be_greater_than_b", f"{larger}/{smaller}")] = [keys]
    past = getattr(module, "PAST_COLUMN", None)
    if past:
        bad.loc[0, past] = pd.Timestamp("2026-04-05")
        expected[("expect_column_values_to_be_between", past)] = [gate._format_key(bad.iloc[0].to_dict(),
                                                                                   module.KEY_COLUMNS)]
        for check in list(expected):
            expected[check] = expected[("expect_column_values_to_be_between", past)]
    assert failed(module, bad) == expected


@pytest.mark.parametrize("table", ["fct_headcount_monthly", "fct_headcount_monthly_by_team"])
def test_a_headcount_month_no_roster_covers_passes_with_its_figures_null(table):
    # its roster figures are null (dbt's row rules own when); the ranges hold on the covered months
    module = MODULES[table]
    uncovered = sound_row(module) | {column: None for column in module.NON_NEGATIVE_COLUMNS}
    uncovered |= {column: 0.0 for column in module.NON_NEGATIVE_COLUMNS if "evaluation_count" in column}
    uncovered |= {"dispatched_share_rate": None} if "dispatched_share_rate" in module.RATE_COLUMNS else {}
    frame = pd.DataFrame([sound_row(module), uncovered | {module.KEY_COLUMNS[0]: "other"}])
    assert frame.isna().sum().sum() >= 11
    assert failed(module, frame) == {}
    frame.loc[0, "headcount_end"] = -1.0  # a covered month is still checked
    assert list(failed(module, frame)) == [("expect_column_values_to_be_between", "headcount_end")]


def test_an_interval_not_complete_may_lie_ahead_a_complete_one_may_not():
    """The rest of today, reforecast, starts after UTC's tomorrow in a zone behind UTC (issue 22)."""
    module = MODULES["fct_queue_intervals"]
    ahead = pd.Timestamp(AS_OF) + pd.Timedelta(hours=27)  # 20:00 on AS_OF in America/Los_Angeles
    filling = sound_row(module) | {"interval_start_at": ahead, "is_interval_complete": False}
    complete = sound_row(module) | {"queue_id": "q2", "interval_start_at": ahead}
    assert failed(module, pd.DataFrame([filling])) == {}
    assert failed(module, pd.DataFrame([filling, complete])) == {
        ("expect_column_values_to_be_between", "interval_start_at"): [gate._format_key(complete, module.KEY_COLUMNS)]
    }
