"""Publish gate for ``marts.fct_campaign_daily`` (one row per tenant x campaign x local day).

Owner: callops. dbt owns the table's structure (keys, relationships, accepted values); this suite
owns its ranges: rates within [0, 1], counts, seconds, agents and money never negative, no
offer_date in the future. All blocking. It runs on the changed tenant-days (callops.quality.gate).
"""

from __future__ import annotations

TABLE = "fct_campaign_daily"
KEY_COLUMNS = ["tenant_id", "campaign_id", "offer_date"]
PARTITION_COLUMNS = ("tenant_id", "offer_date")
PARTITION_GRAIN = "day"
RATE_COLUMNS = [
    "acceptance_rate",
    "conversion_rate",
    "pitch_rate",
]
NON_NEGATIVE_COLUMNS = [
    "accepted_count",
    "commission_cost",
    "cost",
    "cost_trailing_7d",
    "pitch_seconds",
    "pitched_count",
    "revenue",
    "revenue_trailing_7d",
    "roi",
    "roi_pause_threshold",
    "roi_trailing_7d",
    "shown_count",
    "staff_cost",
]
PAST_COLUMN = "offer_date"
