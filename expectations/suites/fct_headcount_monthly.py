"""Publish gate for ``marts.fct_headcount_monthly`` (one row per tenant x month).

A roster snapshot can change any month, so the gate reads every row of a changed tenant.

Owner: callops. dbt owns the table's structure (keys, relationships, accepted values); this suite
owns its ranges: rates within [0, 1], counts, seconds, agents and money never negative, no
month_start_date in the future. All blocking. It runs on every row of the tenants with a change
(callops.quality.gate). A month no roster snapshot covers has its roster figures null (dbt's row rules
check that), which a range check skips.
"""

from __future__ import annotations

TABLE = "fct_headcount_monthly"
KEY_COLUMNS = ["tenant_id", "month_start_date"]
PARTITION_COLUMNS = ("tenant_id", None)
PARTITION_GRAIN = "tenant"
RATE_COLUMNS = [
    "dispatched_share_rate",
    "trained_qa_score_rate",
    "untrained_qa_score_rate",
]
NON_NEGATIVE_COLUMNS = [
    "annualised_attrition_rate",
    "attrition_rate",
    "average_headcount",
    "dispatched_headcount_end",
    "headcount_end",
    "headcount_start",
    "hires_count",
    "leavers_count",
    "tenure_1_to_2_years_count",
    "tenure_3_to_12_months_count",
    "tenure_over_2_years_count",
    "tenure_under_3_months_count",
    "trained_evaluation_count",
    "untrained_evaluation_count",
]
PAST_COLUMN = "month_start_date"
