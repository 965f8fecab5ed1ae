"""Publish gate for ``marts.rpt_daily_kpis`` (one row per tenant per local date).

Owner: callops. dbt owns structure (key not null and unique, tenant relationship,
the column contract); this suite owns what must hold before BI users see a
figure. It runs on the tenant-days that changed since the gate last passed
(``candidate_sql``), so its cost follows the day's data, not the history.

Blocking (a table that breaks them is wrong, and serving it would mislead a
floor manager; nothing is published):

- Rates are 0-1 (a percentage or a broken denominator shows up as > 1 or < 0).
- Counts and durations are >= 0 (a negative wait means clock or parsing trouble).
- Answered, abandoned and answered-within-SL never exceed what they are part of;
  nor do the additive components (handled, within 10/20/30 s, abandoned within
  5 s, top-box surveys, resolved first contacts, the QA scores' sum).
- No KPI date lies in the future (a timezone or date-format slip).
- A day's offered count within x/÷ ``volume_blocking_ratio`` (tenant setting,
  default 3) of the median of the same weekday over the four weeks before, when
  at least two of them have data: a truncated, duplicated or misfiled delivery.
  Below the band only a complete day (``is_day_complete``) is blocked: a
  partial one (the calls after midnight a rotated log spilled over, a day the
  loaded telephony has not finished) is small by nature. Above it any day is:
  a partial day is never legitimately larger.
- Every agent who answered is on the tenant's roster that day.

Warnings (published, and reported with the run):

- The volume outside x/÷ ``volume_warning_ratio`` (default 1.5), below it only
  for a complete day, as for the blocking band.
- A tenant that sends no roster: its agents cannot be checked.
"""

from __future__ import annotations

import datetime as dt

import great_expectations as gx

from callops.quality import suites

TABLE = "rpt_daily_kpis"
KEY_COLUMNS = ["tenant_id", "kpi_date"]
PARTITION_COLUMNS = ("tenant_id", "kpi_date")
# Same-weekday history the volume band compares with: the 4 weeks before, at least 2 with data.
TRAILING_WEEKS = 4
MIN_TRAILING_DAYS = 2
RATE_COLUMNS = [
    "answer_rate",
    "service_level_rate",
    "abandon_rate",
    "vip_service_level_rate",
    "csat_rate",
    "fcr_rate",
    "occupancy_rate",
    "qa_score",
    "common_service_level_rate",
]
DURATION_COLUMNS = [
    "asa_seconds",
    "aht_seconds",
    "answered_wait_seconds_sum",
    "handle_seconds_sum",
    "occupancy_handle_seconds_sum",
    "occupancy_idle_seconds_sum",
]
COUNT_COLUMNS = [
    "offered_count",
    "answered_count",
    "abandoned_count",
    "short_abandoned_count",
    "answered_within_sl_count",
    "vip_offered_count",
    "vip_answered_count",
    "vip_answered_within_sl_count",
    "vip_short_abandoned_count",
    "vip_abandoned_within_sl_count",
    "handled_count",
    "answered_within_10s_count",
    "answered_within_20s_count",
    "answered_within_30s_count",
    "abandoned_within_5s_count",
    "csat_response_count",
    "csat_top_box_count",
    "qa_evaluation_count",
    "fcr_contact_count",
    "fcr_resolved_count",
]
OTHER_NON_NEGATIVE_COLUMNS = ["forecast_wape", "qa_score_sum"]
# (larger, smaller): the smaller count is a subset of the larger one.
SUBSET_PAIRS = suites.KPI_COMPONENT_SUBSETS
BLOCKING, WARNING = suites.BLOCKING, suites.WARNING


def candidate_sql(partitions: str) -> str:
    """The changed tenant-days with what the band and roster checks compare them with."""
    weeks = ", ".join(f"candidate.kpi_date - {7 * week}" for week in range(1, TRAILING_WEEKS + 1))
    return f"""
    with candidate as (
        select kpis.* from marts.rpt_daily_kpis as kpis
        semi join {partitions} as p on kpis.tenant_id = p.tenant_id and kpis.kpi_date = p.partition_date
    ),
    weekday_history as (
        select candidate.tenant_id, candidate.kpi_date,
            median(history.offered_count) as trailing_weekday_offered_count,
            count(*) as trailing_days
        from candidate
        inner join marts.rpt_daily_kpis as history
            on history.tenant_id = candidate.tenant_id and history.kpi_date in ({weeks})
        group by 1, 2
    )
    select candidate.*,
        weekday_history.trailing_weekday_offered_count,
        case when weekday_history.trailing_days >= {MIN_TRAILING_DAYS}
                and weekday_history.trailing_weekday_offered_count > 0
            then candidate.offered_count / weekday_history.trailing_weekday_offered_count end as volume_ratio,
        volume_ratio <= tenants.volume_blocking_ratio
            and (volume_ratio >= 1 / tenants.volume_blocking_ratio or not candidate.is_day_complete)
            as is_volume_within_blocking_band,
        volume_ratio <= tenants.volume_warning_ratio
            and (volume_ratio >= 1 / tenants.volume_warning_ratio or not candidate.is_day_complete)
            as is_volume_within_warning_band,
        candidate.unrostered_agent_count is not null as has_roster
    from candidate
    left join weekday_history using (tenant_id, kpi_date)
    left join raw.tenants as tenants on tenants.id = candidate.tenant_id
    """


def build_suite(as_of: dt.date | None = None) -> gx.ExpectationSuite:
    """The suite, with "the future" measured from ``as_of`` (default: today, UTC)."""
    expectations = suites.ranges(RATE_COLUMNS, COUNT_COLUMNS + DURATION_COLUMNS + OTHER_NON_NEGATIVE_COLUMNS)
    expectations += suites.subsets(SUBSET_PAIRS)
    expectations += suites.not_in_future("kpi_date", as_of)
    expectations += [
        gx.expectations.ExpectColumnValuesToBeInSet(
            column="is_volume_within_blocking_band",
            value_set=[True],
            notes="offered count within x/÷ volume_blocking_ratio of the same weekday's median of the 4 weeks "
            "before (a truncated, duplicated or misfiled delivery; below it only a complete day)",
            meta=BLOCKING,
        ),
        gx.expectations.ExpectColumnValuesToBeBetween(
            column="unrostered_agent_count",
            max_value=0,
            notes="every agent who answered is on the tenant's roster that day",
            meta=BLOCKING,
        ),
        gx.expectations.ExpectColumnValuesToBeInSet(
            column="is_volume_within_warning_band",
            value_set=[True],
            notes="offered count within x/÷ volume_warning_ratio of the same weekday's median of the 4 weeks "
            "before (below it only a complete day)",
            meta=WARNING,
        ),
        gx.expectations.ExpectColumnValuesToBeInSet(
            column="has_roster",
            value_set=[True],
            notes="the tenant sends no roster: answering agents are not checked against one",
            meta=WARNING,
        ),
    ]
    return gx.ExpectationSuite(name=TABLE, expectations=expectations)
