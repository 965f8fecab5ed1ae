"""Publish gate for ``marts.fct_service_alerts`` (one row per service-alert episode).

Owner: callops. dbt owns the table's structure (the episode key, the rule names, open vs closed, the
breach against its threshold); this suite owns its ranges: the breached value, its threshold and the
breaching intervals and the ladder's starting agents never negative, the predicted service level a 0-1
rate, the dispatch ladder's step between 1 and 6, no episode starting in the future. All blocking. It
runs on the changed tenant-days (callops.quality.gate).
"""

from __future__ import annotations

TABLE = "fct_service_alerts"
KEY_COLUMNS = ["tenant_id", "queue_id", "interval_start_at"]
PARTITION_COLUMNS = ("tenant_id", "interval_start_at")
PARTITION_GRAIN = "day"
# kpi_value is a rate or seconds (asa_seconds): dbt bounds it per kpi_name
RATE_COLUMNS = ["service_level_before"]
NON_NEGATIVE_COLUMNS = [
    "agents_before",
    "breaching_interval_count",
    "kpi_value",
    "threshold_value",
]
BOUNDED_COLUMNS = {"recommended_step": (1, 6)}
# an episode opens on stints already loaded: its first interval is never in the future
PAST_COLUMN = "interval_start_at"
