"""Publish gate for ``marts.fct_service_alert_steps`` (one row per service-alert episode and ladder step).

Owner: callops. dbt owns the table's structure (the key, the step's action, whole agents where a step
brings people); this suite owns its ranges: the predicted service level a 0-1 rate, the agents a step
brings and those on the queue after it never negative, the step between 1 and 6, no episode starting in
the future. All blocking. It runs on the changed tenant-days (callops.quality.gate).
"""

from __future__ import annotations

TABLE = "fct_service_alert_steps"
KEY_COLUMNS = ["tenant_id", "queue_id", "interval_start_at", "step"]
PARTITION_COLUMNS = ("tenant_id", "interval_start_at")
PARTITION_GRAIN = "day"
RATE_COLUMNS = ["service_level_after"]
NON_NEGATIVE_COLUMNS = [
    "agents",
    "ladder_agents",
]
BOUNDED_COLUMNS = {"step": (1, 6)}
# an episode opens on stints already loaded: its first interval is never in the future
PAST_COLUMN = "interval_start_at"
