"""Publish gate for ``marts.rpt_capacity_daily`` (one row per tenant x local day).

Owner: callops. dbt owns the table's structure (keys, relationships, accepted values); this suite
owns its ranges: rates within [0, 1], counts, seconds, agents and money never negative, no
capacity_date in the future. All blocking. It runs on the changed tenant-days
(callops.quality.gate).
"""

from __future__ import annotations

TABLE = "rpt_capacity_daily"
KEY_COLUMNS = ["tenant_id", "capacity_date"]
PARTITION_COLUMNS = ("tenant_id", "capacity_date")
PARTITION_GRAIN = "day"
RATE_COLUMNS = [
    "answer_rate",
    "attendance_rate",
    "recommendation_rate",
    "redundancy_loss_rate",
    "service_share",
]
NON_NEGATIVE_COLUMNS = [
    "call_count",
    "capacity_seconds",
    "marketing_aht_seconds",
    "marketing_workload_seconds",
    "online_utilisation_rate",
    "popup_rate",
    "scheduled_agent_count",
    "service_aht_seconds",
    "service_workload_seconds",
    "shift_seconds",
    "workload_seconds",
]
PAST_COLUMN = "capacity_date"
