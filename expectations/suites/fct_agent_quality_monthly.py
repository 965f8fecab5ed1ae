"""Publish gate for ``marts.fct_agent_quality_monthly`` (one row per tenant x local month x grain:
agent, team, tenant).

Owner: callops. dbt owns the table's structure (keys, relationships, accepted values); this suite
owns its ranges: rates within [0, 1], counts, seconds, agents and money never negative, a part never
above its whole, no month_start_date in the future. All blocking. It runs on the months of the
changed tenant-days (callops.quality.gate).
"""

from __future__ import annotations

TABLE = "fct_agent_quality_monthly"
KEY_COLUMNS = ["tenant_id", "month_start_date", "grain", "team_id", "agent_id"]
PARTITION_COLUMNS = ("tenant_id", "month_start_date")
PARTITION_GRAIN = "month"
RATE_COLUMNS = [
    "csat_rate",
    "csat_score",
    "fatal_error_rate",
    "fcr_rate",
    "qa_coverage_rate",
    "qa_score",
]
NON_NEGATIVE_COLUMNS = [
    "evaluated_contact_count",
    "evaluation_count",
    "fatal_error_count",
    "fcr_contact_count",
    "fcr_resolved_count",
    "handled_contact_count",
    "handled_count",
    "survey_count",
    "top_two_box_count",
]
SUBSET_PAIRS = [
    ("evaluation_count", "fatal_error_count"),
    ("handled_contact_count", "evaluated_contact_count"),
    ("survey_count", "top_two_box_count"),
    ("fcr_contact_count", "fcr_resolved_count"),
]
PAST_COLUMN = "month_start_date"
