"""Publish gate for ``marts.rpt_tenant_benchmark`` (one row per tenant x period grain x period start x
KPI: the tenant's value beside the center's quartiles and best).

Owner: callops. dbt owns the table's structure (keys, enumerations, how ranks, counts and quartiles
hang together, is_center_shareable against the project var); the KPIs' own ranges are gated on
rpt_daily_kpis and rpt_kpis_by_period, which this table copies. This suite owns that no value or
center figure is negative (every KPI here is a rate or a number of seconds) and that no period
starts in the future. All blocking. It runs on the rows of the periods holding a changed
tenant-day (``candidate_sql``), each attributed to its tenant.
"""

from __future__ import annotations

TABLE = "rpt_tenant_benchmark"
KEY_COLUMNS = ["tenant_id", "period_grain", "period_start", "kpi_name"]
PARTITION_COLUMNS = ("tenant_id", "period_start")
RATE_COLUMNS: list[str] = []  # kpi_value holds seconds too (asa_seconds); its sources check the rates
NON_NEGATIVE_COLUMNS = [
    "kpi_value",
    "center_p25",
    "center_median",
    "center_p75",
    "center_best",
]
PAST_COLUMN = "period_start"


def candidate_sql(partitions: str) -> str:
    """The tenant's rows of every period (day, week, month, quarter, year) holding a changed tenant-day."""
    return f"""
    select candidate.* from marts.{TABLE} as candidate
    semi join {partitions} as p
        on candidate.tenant_id = p.tenant_id
        and candidate.period_start = cast(date_trunc(candidate.period_grain, p.partition_date) as date)
    """
