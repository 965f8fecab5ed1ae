"""What the Airflow tasks call: one function per task, given the task context.

DAG files import this module at parse time, so it imports nothing heavy; the
pipeline (DuckDB, dbt, Great Expectations) is imported when a task runs. Bad
data ends a task with ``AirflowFailException`` (no retries: retrying cannot fix
a file); other errors are faults and get the DAG's retries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

DAG_ID = "callops_pipeline"
WRITER_POOL = "duckdb_writer"


def run_id(context: Mapping[str, Any]) -> str:
    """callops' run id: the one `callops run` chose, else Airflow's own run id."""
    conf = context["dag_run"].conf or {}
    return str(conf.get("callops_run_id") or context["run_id"])


def delivery_range(context: Mapping[str, Any]) -> tuple[dt.date, dt.date]:
    """Delivery days [start, end] from the run's params; default: the run's logical day (UTC)."""
    params = context.get("params") or {}
    fallback = (context.get("logical_date") or context.get("data_interval_start") or dt.datetime.now(dt.UTC)).date()
    start = dt.date.fromisoformat(params["start"]) if params.get("start") else fallback
    end = dt.date.fromisoformat(params["end"]) if params.get("end") else start
    if end < start:
        _fail(f"end {end} is before start {start}")
    return start, end


def _fail(message: str) -> NoReturn:
    from airflow.sdk.exceptions import AirflowFailException

    raise AirflowFailException(message)


def _guard(step: Callable[..., dict], *args: Any) -> dict:
    from callops.pipeline import DataProblem

    try:
        return step(*args)
    except DataProblem as problem:
        _fail(str(problem))


def load(context: Mapping[str, Any]) -> dict:
    from callops import pipeline

    return _guard(pipeline.load_deliveries, run_id(context), *delivery_range(context))


def build(context: Mapping[str, Any]) -> dict:
    from callops import pipeline

    return _guard(pipeline.build_marts, run_id(context))


def validate(context: Mapping[str, Any]) -> dict:
    from callops import pipeline

    return _guard(pipeline.validate_marts, run_id(context))


def publish(context: Mapping[str, Any]) -> dict:
    from callops import pipeline

    return _guard(pipeline.publish_marts, run_id(context))


def finish(context: Mapping[str, Any]) -> dict:
    from callops import pipeline

    return _guard(pipeline.finish_run, run_id(context))
