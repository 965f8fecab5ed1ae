"""Publish gate for ``marts.rpt_kpis_by_period`` (one row per tenant x period grain x period start:
week, month, quarter, year).

Owner: callops. dbt owns the table's structure (keys, enumerations, when a figure is null); this
suite owns its ranges: rates within [0, 1], counts, seconds and agents never negative, a part never
above its whole, no last_kpi_date in the future. A rate's ``_previous_period`` and ``_previous_year``
are other rows' rates, checked in their own rows: not again here (each check costs the gate about
10 ms on every run that changes a day). All
blocking: a period's figure is what a manager compares a month with the last. It runs on the
periods holding a changed tenant-day (``candidate_sql``): a day changes its week, month, quarter
and year.
"""

from __future__ import annotations

from callops.quality import suites

TABLE = "rpt_kpis_by_period"
KEY_COLUMNS = ["tenant_id", "period_grain", "period_start"]
PARTITION_COLUMNS = ("tenant_id", "period_start")
_RATES = [
    "answer_rate",
    "service_level_rate",
    "common_service_level_rate",
    "abandon_rate",
    "vip_service_level_rate",
    "csat_rate",
    "qa_score",
    "fcr_rate",
    "occupancy_rate",
]
_DURATIONS = ["asa_seconds", "aht_seconds"]
RATE_COLUMNS = _RATES
NON_NEGATIVE_COLUMNS = [
    *_DURATIONS,
    "day_count",
    "offered_count",
    "answered_count",
    "abandoned_count",
    "short_abandoned_count",
    "answered_within_sl_count",
    "abandoned_within_sl_count",
    "ivr_contained_count",
    "answered_wait_seconds_sum",
    "handle_seconds_sum",
    "handled_count",
    "answered_within_10s_count",
    "answered_within_20s_count",
    "answered_within_30s_count",
    "abandoned_within_5s_count",
    "vip_offered_count",
    "vip_answered_count",
    "vip_short_abandoned_count",
    "vip_answered_within_sl_count",
    "vip_abandoned_within_sl_count",
    "csat_response_count",
    "csat_top_box_count",
    "qa_evaluation_count",
    "qa_score_sum",
    "fcr_contact_count",
    "fcr_resolved_count",
    "occupancy_handle_seconds_sum",
    "occupancy_idle_seconds_sum",
    "answering_agent_count",
    "unrostered_agent_count",
]
# (larger, smaller): the smaller count is a subset of the larger one (a period's are the days' sums).
SUBSET_PAIRS = suites.KPI_COMPONENT_SUBSETS
PAST_COLUMN = "last_kpi_date"


def candidate_sql(partitions: str) -> str:
    """The periods (of every grain) holding a changed tenant-day."""
    return f"""
    select candidate.* from marts.{TABLE} as candidate
    semi join {partitions} as p
        on candidate.tenant_id = p.tenant_id
        and p.partition_date between candidate.period_start and candidate.period_end
    """
