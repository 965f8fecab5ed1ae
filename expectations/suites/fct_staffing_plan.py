"""Publish gate for ``marts.fct_staffing_plan`` (one row per tenant x queue x interval of the
14 days after the last loaded day).

The plan is in the future by design (no date check) and rebuilt whole: the gate reads every row of a
changed tenant.

Owner: callops. dbt owns the table's structure (keys, relationships, accepted values); this suite
owns its ranges: rates within [0, 1], counts, seconds, agents and money never negative. All
blocking. It runs on every row of the tenants with a change (callops.quality.gate).
"""

from __future__ import annotations

TABLE = "fct_staffing_plan"
KEY_COLUMNS = ["tenant_id", "queue_id", "interval_start_at"]
PARTITION_COLUMNS = ("tenant_id", None)
PARTITION_GRAIN = "tenant"
RATE_COLUMNS = [
    "service_level_target",
    "shrinkage_rate",
]
NON_NEGATIVE_COLUMNS = [
    "erlang_a_agents",
    "erlang_c_agents",
    "forecast_aht_seconds",
    "forecast_offered_count",
    "interval_minutes",
    "patience_seconds",
    "required_agents_with_shrinkage",
    "service_level_seconds",
]
