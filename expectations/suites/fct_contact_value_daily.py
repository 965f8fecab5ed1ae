"""Publish gate for ``marts.fct_contact_value_daily`` (one row per tenant x local day x value tier).

Owner: callops. dbt owns the table's structure (keys, relationships, accepted values); this suite
owns its ranges: rates within [0, 1], counts, seconds, agents and money never negative, a part never
above its whole, no contact_date in the future. All blocking. It runs on the changed tenant-days
(callops.quality.gate).
"""

from __future__ import annotations

TABLE = "fct_contact_value_daily"
KEY_COLUMNS = ["tenant_id", "contact_date", "value_tier"]
PARTITION_COLUMNS = ("tenant_id", "contact_date")
PARTITION_GRAIN = "day"
RATE_COLUMNS = [
    "answer_rate",
    "average_value_score",
    "contact_share_rate",
    "service_level_rate",
]
NON_NEGATIVE_COLUMNS = [
    "abandoned_count",
    "aht_seconds",
    "answered_count",
    "ivr_contained_count",
    "offered_count",
    "revenue",
]
SUBSET_PAIRS = [
    ("offered_count", "answered_count"),
    ("offered_count", "abandoned_count"),
]
PAST_COLUMN = "contact_date"
