"""Publish gate for ``marts.rpt_daily_kpis`` (one row per tenant per local date).

Owner: callops. dbt owns structure (key not null and unique, tenant relationship,
the column contract); this suite owns what must hold before BI users see a
figure. Every check here is *blocking*: a KPI table that breaks any of them is
wrong, not merely surprising, and serving it would mislead a floor manager.

- Rates are 0-1 (a percentage or a broken denominator shows up as > 1 or < 0).
- Counts and durations are >= 0 (a negative wait means clock or parsing trouble).
- Answered, abandoned and answered-within-SL never exceed what they are part of.
- No KPI date lies in the future (a timezone or date-format slip).
"""

from __future__ import annotations

import datetime as dt

import great_expectations as gx
import pandas as pd

TABLE = "rpt_daily_kpis"
KEY_COLUMNS = ["tenant_id", "kpi_date"]
RATE_COLUMNS = ["answer_rate", "service_level_rate", "abandon_rate", "vip_service_level_rate"]
DURATION_COLUMNS = ["asa_seconds", "aht_seconds"]
COUNT_COLUMNS = [
    "offered_count",
    "answered_count",
    "abandoned_count",
    "short_abandoned_count",
    "answered_within_sl_count",
]
# (larger, smaller): the smaller count is a subset of the larger one.
SUBSET_PAIRS = [
    ("offered_count", "answered_count"),
    ("offered_count", "abandoned_count"),
    ("abandoned_count", "short_abandoned_count"),
    ("answered_count", "answered_within_sl_count"),
]
# Local dates run up to 14 hours ahead of UTC (Pacific/Kiritimati).
MAX_DAYS_AHEAD_OF_UTC = 1

BLOCKING = {"severity": "blocking", "owner": "callops"}


def build_suite(as_of: dt.date | None = None) -> gx.ExpectationSuite:
    """The suite, with "the future" measured from ``as_of`` (default: today, UTC)."""
    as_of = as_of or dt.datetime.now(dt.UTC).date()
    latest = pd.Timestamp(as_of + dt.timedelta(days=MAX_DAYS_AHEAD_OF_UTC))
    expectations = []
    for column in RATE_COLUMNS:
        expectations.append(
            gx.expectations.ExpectColumnValuesToBeBetween(
                column=column, min_value=0, max_value=1, notes=f"{column} is a 0-1 rate", meta=BLOCKING
            )
        )
    for column in COUNT_COLUMNS + DURATION_COLUMNS:
        expectations.append(
            gx.expectations.ExpectColumnValuesToBeBetween(
                column=column, min_value=0, notes=f"{column} cannot be negative", meta=BLOCKING
            )
        )
    for larger, smaller in SUBSET_PAIRS:
        expectations.append(
            gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=larger,
                column_B=smaller,
                or_equal=True,
                ignore_row_if="either_value_is_missing",
                notes=f"{smaller} is part of {larger}",
                meta=BLOCKING,
            )
        )
    expectations.append(
        gx.expectations.ExpectColumnValuesToBeBetween(
            column="kpi_date", max_value=latest, notes="no KPI date in the future", meta=BLOCKING
        )
    )
    return gx.ExpectationSuite(name=TABLE, expectations=expectations)
