"""Publish gate for ``marts.fct_evaluator_calibration`` (one row per tenant x calibration session x
evaluator).

A session has no date of its own here: the gate reads every row of a changed tenant.

Owner: callops. dbt owns the table's structure (keys, relationships, accepted values); this suite
owns its ranges: rates within [0, 1], counts, seconds, agents and money never negative. All
blocking. It runs on every row of the tenants with a change (callops.quality.gate).
"""

from __future__ import annotations

TABLE = "fct_evaluator_calibration"
KEY_COLUMNS = ["tenant_id", "calibration_id", "evaluator_id"]
PARTITION_COLUMNS = ("tenant_id", None)
PARTITION_GRAIN = "tenant"
RATE_COLUMNS = [
    "mean_absolute_deviation",
]
NON_NEGATIVE_COLUMNS = [
    "criteria_compared_count",
    "not_applicable_mismatch_count",
]
BOUNDED_COLUMNS = {"signed_bias": (-1, 1)}
