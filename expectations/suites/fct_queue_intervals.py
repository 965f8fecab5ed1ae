"""Publish gate for ``marts.fct_queue_intervals`` (one row per tenant x queue x interval).

Owner: callops. dbt owns the table's structure (keys, relationships, accepted values); this suite
owns its ranges: rates within [0, 1], counts, seconds, agents and money never negative, a part never
above its whole, no complete interval's interval_start_at in the future (one not complete, with its
reforecast, is the rest of today: in a zone behind UTC it may start after UTC's tomorrow). All
blocking. It runs on the changed tenant-days (callops.quality.gate). dbt holds the waiting stints'
bounds (part of the stints neither answered nor abandoned).
"""

from __future__ import annotations

TABLE = "fct_queue_intervals"
KEY_COLUMNS = ["tenant_id", "queue_id", "interval_start_at"]
PARTITION_COLUMNS = ("tenant_id", "interval_start_at")
PARTITION_GRAIN = "day"
RATE_COLUMNS = [
    "abandon_rate",
    "adherence_rate",
    "answer_rate",
    "occupancy_rate",
    "service_level_rate",
    "shrinkage_rate",
    "vip_service_level_rate",
]
NON_NEGATIVE_COLUMNS = [
    "abandoned_count",
    "abandoned_within_sl_count",
    "aht_seconds",
    "answered_count",
    "answered_within_sl_count",
    "asa_seconds",
    "available_agents",
    "erlang_a_agents",
    "erlang_c_agents",
    "forecast_aht_seconds",
    "forecast_offered_count",
    "interval_minutes",
    "logged_in_agents",
    "observed_patience_seconds",
    "offered_count",
    "reforecast_aht_seconds",
    "reforecast_erlang_a_agents",
    "reforecast_erlang_c_agents",
    "reforecast_offered_count",
    "required_agents_with_shrinkage",
    "scheduled_agents",
    "service_level_seconds",
    "short_abandoned_count",
    "vip_abandoned_within_sl_count",
    "vip_answered_count",
    "vip_answered_within_sl_count",
    "vip_offered_count",
    "vip_service_level_seconds",
    "vip_short_abandoned_count",
]
SUBSET_PAIRS = [
    ("offered_count", "answered_count"),
    ("offered_count", "abandoned_count"),
    ("abandoned_count", "short_abandoned_count"),
    ("answered_count", "answered_within_sl_count"),
    ("offered_count", "vip_offered_count"),
    ("vip_answered_count", "vip_answered_within_sl_count"),
]
PAST_COLUMN = "interval_start_at"
PAST_ONLY_WHERE = "is_interval_complete"
