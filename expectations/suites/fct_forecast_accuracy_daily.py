"""Publish gate for ``marts.fct_forecast_accuracy_daily`` (one row per tenant x queue x local day).

Owner: callops. dbt owns the table's structure (keys, relationships, accepted values); this suite
owns its ranges: rates within [0, 1], counts, seconds, agents and money never negative, a part never
above its whole, no forecast_date in the future. All blocking. It runs on the changed tenant-days
(callops.quality.gate).
"""

from __future__ import annotations

TABLE = "fct_forecast_accuracy_daily"
KEY_COLUMNS = ["tenant_id", "queue_id", "forecast_date"]
PARTITION_COLUMNS = ("tenant_id", "forecast_date")
PARTITION_GRAIN = "day"
RATE_COLUMNS: list[str] = []
NON_NEGATIVE_COLUMNS = [
    "actual_aht_seconds_sum",
    "actual_offered_count",
    "aht_absolute_error",
    "aht_interval_count",
    "aht_wape",
    "forecast_offered_count",
    "interval_count",
    "naive_aht_absolute_error",
    "naive_aht_wape",
    "naive_volume_absolute_error",
    "naive_volume_wape",
    "volume_absolute_error",
    "volume_wape",
]
SUBSET_PAIRS = [
    ("interval_count", "aht_interval_count"),
]
PAST_COLUMN = "forecast_date"
