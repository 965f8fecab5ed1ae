"""The DAGs users trigger, and how callops names their runs.

Every layer that names a run names it here, the same way: the tasks record steps under it, the alerts
find a failed run's records by it, the scheduled loads emit it in their asset events. DAG files read
this module at parse time: it imports only the standard library and callops.yml's feed list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callops.config import SCHEDULED_FEEDS

PIPELINE_DAG_ID = "callops_pipeline"  # `callops run`, or a trigger with start/end
BUILD_DAG_ID = "build_warehouse"  # when a feed was loaded, or a trigger with start/end
LANDING_WATCH_DAG_ID = "load_landing"
DEADLINE_DAG_ID = "publish_deadline_watch"
LOAD_DAG_PREFIX = "load_"  # + <feed>__<tenant id>: one scheduled load DAG per tenant and feed

# dbt runs as one `dbt build` per layer in build_warehouse, in this order (each layer's tests run with
# it); callops_pipeline runs the same nodes in one `dbt build` (callops.pipeline.build_marts).
DBT_LAYERS = ("staging", "intermediate", "marts")


def load_dag_id(feed: str, tenant_id: str) -> str:
    return f"{LOAD_DAG_PREFIX}{feed}__{tenant_id}"


def parse_load_dag_id(dag_id: str) -> tuple[str, str] | None:
    """(feed, tenant id) of a scheduled load DAG's id, else None."""
    if not dag_id.startswith(LOAD_DAG_PREFIX) or "__" not in dag_id:
        return None
    feed, _, tenant_id = dag_id.removeprefix(LOAD_DAG_PREFIX).partition("__")
    return (feed, tenant_id) if feed in SCHEDULED_FEEDS and tenant_id else None


def run_id(context: Mapping[str, Any]) -> str:
    """callops' run id: the one `callops run` chose, else Airflow's own run id (prefixed with the DAG
    id outside callops_pipeline: Airflow's run ids are unique only within a DAG)."""
    conf = context["dag_run"].conf or {}
    if conf.get("callops_run_id"):
        return str(conf["callops_run_id"])
    dag = context.get("dag")
    if dag is not None and dag.dag_id != PIPELINE_DAG_ID:
        return f"{dag.dag_id}__{context['run_id']}"
    return str(context["run_id"])


def scheduled_run_id(context: Mapping[str, Any], suffix: str | None = None) -> str:
    """callops' run id of a scheduled DAG's run: DAG id and Airflow run id (Airflow's run ids are
    unique only within one DAG), plus ``suffix`` where one DAG run records several loads."""
    base = f"{context['dag'].dag_id}__{context['run_id']}"
    return f"{base}__{suffix}" if suffix else base
