"""The expectations every gated mart shares, for the suite modules of ``expectations/suites/``.

A suite module declares its table's 0-1 rates (``RATE_COLUMNS``), its values that cannot be negative
(``NON_NEGATIVE_COLUMNS``: counts, seconds, agents, money), other bounds (``BOUNDED_COLUMNS``), the
pairs where one count is part of another (``SUBSET_PAIRS``) and the date of a past figure
(``PAST_COLUMN``; ``PAST_ONLY_WHERE``: a boolean column, the rows that must be past, when others may
lie ahead); ``suite_of`` turns them into a Great Expectations suite whose expectations carry
their severity in ``meta`` (callops.quality.gate). A module with checks of its own writes
``build_suite(as_of)`` instead, from ``ranges``, ``subsets`` and ``not_in_future``.
dbt keeps the structure of the same tables (keys, relationships, accepted values); a range is checked
here only, never in both places.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from types import ModuleType

import great_expectations as gx
import pandas as pd
from great_expectations.expectations.row_conditions import Column

BLOCKING = {"severity": "blocking", "owner": "callops"}
WARNING = {"severity": "warning", "owner": "callops"}
# The day KPI components' part-of relations (larger, smaller): rpt_daily_kpis's, and rpt_kpis_by_period's,
# whose components are the days' sums.
KPI_COMPONENT_SUBSETS = [
    ("offered_count", "answered_count"),
    ("offered_count", "abandoned_count"),
    ("abandoned_count", "short_abandoned_count"),
    ("answered_count", "answered_within_sl_count"),
    ("vip_offered_count", "vip_answered_count"),
    ("vip_answered_count", "vip_answered_within_sl_count"),
    ("short_abandoned_count", "vip_short_abandoned_count"),
    ("answered_count", "handled_count"),
    ("answered_count", "answered_within_30s_count"),
    ("answered_within_30s_count", "answered_within_20s_count"),
    ("answered_within_20s_count", "answered_within_10s_count"),
    ("abandoned_count", "abandoned_within_5s_count"),
    ("csat_response_count", "csat_top_box_count"),
    ("qa_evaluation_count", "qa_score_sum"),  # each score is at most 1
    ("fcr_contact_count", "fcr_resolved_count"),
]
# Local dates run up to 14 hours ahead of UTC (Pacific/Kiritimati).
MAX_DAYS_AHEAD_OF_UTC = 1


def latest_allowed(as_of: dt.date | None = None) -> pd.Timestamp:
    """The latest date or time a past figure may carry: tomorrow, UTC, for the zones ahead of it."""
    as_of = as_of or dt.datetime.now(dt.UTC).date()
    return pd.Timestamp(as_of + dt.timedelta(days=MAX_DAYS_AHEAD_OF_UTC))


def ranges(
    rates: Iterable[str] = (),
    non_negative: Iterable[str] = (),
    bounded: Mapping[str, tuple[float | None, float | None]] | None = None,
) -> list:
    """Blocking range expectations: rates within [0, 1], values >= 0, and other (min, max) bounds."""
    expectations = [
        gx.expectations.ExpectColumnValuesToBeBetween(
            column=column, min_value=0, max_value=1, notes=f"{column} is a 0-1 rate", meta=BLOCKING
        )
        for column in rates
    ]
    expectations += [
        gx.expectations.ExpectColumnValuesToBeBetween(
            column=column, min_value=0, notes=f"{column} cannot be negative", meta=BLOCKING
        )
        for column in non_negative
    ]
    expectations += [
        gx.expectations.ExpectColumnValuesToBeBetween(
            column=column, min_value=low, max_value=high, notes=f"{column} lies within [{low}, {high}]", meta=BLOCKING
        )
        for column, (low, high) in (bounded or {}).items()
    ]
    return expectations


def subsets(pairs: Iterable[tuple[str, str]]) -> list:
    """Blocking: in each (larger, smaller) pair the smaller count is part of the larger one."""
    return [
        gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=larger,
            column_B=smaller,
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            notes=f"{smaller} is part of {larger}",
            meta=BLOCKING,
        )
        for larger, smaller in pairs
    ]


def not_in_future(column: str, as_of: dt.date | None = None, only_where: str | None = None) -> list:
    """Blocking: a past figure's date or time is not in the future (a timezone or date-format slip); with
    ``only_where`` (a boolean column), on the rows where it is true only."""
    condition = {} if only_where is None else {"row_condition": Column(only_where) == True}  # noqa: E712
    notes = f"no {column} in the future" + (f" where {only_where}" if only_where else "")
    return [
        gx.expectations.ExpectColumnValuesToBeBetween(
            column=column, max_value=latest_allowed(as_of), notes=notes, meta=BLOCKING, **condition
        )
    ]


def build(
    table: str,
    *,
    rates: Iterable[str] = (),
    non_negative: Iterable[str] = (),
    bounded: Mapping[str, tuple[float | None, float | None]] | None = None,
    subset_pairs: Iterable[tuple[str, str]] = (),
    past_column: str | None = None,
    as_of: dt.date | None = None,
    more: Iterable = (),
    past_only_where: str | None = None,
) -> gx.ExpectationSuite:
    """One table's suite: its ranges, subset pairs, no future date, and any ``more`` expectations."""
    expectations = ranges(rates, non_negative, bounded) + subsets(subset_pairs)
    if past_column:
        expectations += not_in_future(past_column, as_of, past_only_where)
    return gx.ExpectationSuite(name=table, expectations=[*expectations, *more])


def suite_of(module: ModuleType, as_of: dt.date | None = None) -> gx.ExpectationSuite:
    """A suite module's suite: its own ``build_suite``, else ``build`` from its declarations."""
    if hasattr(module, "build_suite"):
        return module.build_suite(as_of)
    return build(
        module.TABLE,
        rates=getattr(module, "RATE_COLUMNS", ()),
        non_negative=getattr(module, "NON_NEGATIVE_COLUMNS", ()),
        bounded=getattr(module, "BOUNDED_COLUMNS", None),
        subset_pairs=getattr(module, "SUBSET_PAIRS", ()),
        past_column=getattr(module, "PAST_COLUMN", None),
        as_of=as_of,
        past_only_where=getattr(module, "PAST_ONLY_WHERE", None),
    )


def checked_columns(suite: gx.ExpectationSuite) -> set[str]:
    """The columns a suite's expectations name (tests/dbt/test_columns_tested.py counts them as tested)."""
    named: set[str] = set()
    for expectation in suite.expectations:
        for key in ("column", "column_A", "column_B"):
            value = getattr(expectation, key, None)
            if value:
                named.add(value)
    return named
