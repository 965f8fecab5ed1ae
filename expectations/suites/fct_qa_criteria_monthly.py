"""Publish gate for ``marts.fct_qa_criteria_monthly`` (one row per tenant x local month x form x criterion).

Owner: callops. dbt owns the table's structure (keys, relationships, accepted values); this suite
owns its ranges: rates within [0, 1], counts, seconds, agents and money never negative, no
month_start_date in the future. All blocking. It runs on the months of the changed tenant-days
(callops.quality.gate).
"""

from __future__ import annotations

TABLE = "fct_qa_criteria_monthly"
KEY_COLUMNS = ["tenant_id", "month_start_date", "form_id", "criterion_id"]
PARTITION_COLUMNS = ("tenant_id", "month_start_date")
PARTITION_GRAIN = "month"
RATE_COLUMNS = [
    "failure_rate",
    "new_hire_failure_rate",
    "tenured_failure_rate",
]
NON_NEGATIVE_COLUMNS = [
    "evaluation_count",
    "failure_count",
    "fatal_failure_count",
    "new_hire_evaluation_count",
    "new_hire_failure_count",
    "not_applicable_count",
    "tenured_evaluation_count",
    "tenured_failure_count",
]
PAST_COLUMN = "month_start_date"
