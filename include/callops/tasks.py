"""What the Airflow tasks call: one function per task, given the task context.

Each task calls the one implementation of its step in callops.pipeline (load, build, validate,
publish, finish), whichever DAG it is in: callops_pipeline (`callops run`, or a trigger with start/end)
and build_warehouse (when a feed was loaded, or a trigger with start/end) wire the same steps.

DAG files import this module at parse time, so it imports nothing heavy; the
pipeline (DuckDB, dbt, Great Expectations) is imported when a task runs. Bad
data and a full disk end a task with ``AirflowFailException`` (no retries:
retrying cannot fix a file, nor empty a disk); other errors are faults and get
the DAG's retries. Either way the step's failure says why (callops.failures).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from callops import alerts, failures, private, progress, runs, scheduling, settings

WRITER_POOL = "duckdb_writer"
OWNER = "callops"


def default_args(**overrides: Any) -> dict:
    """Every callops DAG's default_args: owner, retries for faults (data problems never retry), and
    the alert callback (callops.alerts) on failure."""
    return {
        "owner": OWNER,
        "retries": 2,
        "retry_delay": dt.timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "on_failure_callback": alerts.on_failure,
    } | overrides


def delivery_range(context: Mapping[str, Any]) -> tuple[dt.date, dt.date]:
    """Delivery days [start, end] from the run's params; default: the run's logical day (UTC)."""
    params = context.get("params") or {}
    fallback = (context.get("logical_date") or context.get("data_interval_start") or dt.datetime.now(dt.UTC)).date()
    start = dt.date.fromisoformat(params["start"]) if params.get("start") else fallback
    end = dt.date.fromisoformat(params["end"]) if params.get("end") else start
    if end < start:
        _fail(f"end {end} is before start {start}")
    return start, end


def _fail(message: str, alerted: bool = False, cause: str = "") -> NoReturn:
    """Fail without retrying; ``alerted``: the task already sent its alert (the callback stays quiet);
    ``cause``: "data" (a DataProblem, which the step recorded itself) or "disk" (a full disk)."""
    from airflow.sdk.exceptions import AirflowFailException

    error = AirflowFailException(message)
    error.callops_alerted = alerted
    error.callops_cause = cause
    raise error


# What each step does, for a full disk the step did not name itself (callops.failures.DiskFull).
DOING = {
    "load": "loading the deliveries",
    "build": "building the marts (dbt)",
    "validate": "checking the candidate marts (Great Expectations)",
    "publish": "writing the published files",
    "serve": "serving the marts from PostgreSQL",
    "finish": "closing the run record",
}


def _guard(step: Callable[..., dict], *args: Any, name: str = "", **kwargs: Any) -> dict:
    """Run a pipeline step. Bad data and a full disk fail the task without retrying (retrying cannot fix
    a file, and a disk seldom empties itself within the retry delay); anything else is a fault and
    gets the DAG's retries."""
    from callops.pipeline import DataProblem

    _harden_once(private)
    try:
        return step(*args, **kwargs)
    except DataProblem as problem:
        _fail(str(problem), cause="data")
    except Exception as error:
        full = failures.disk_full(error, DOING.get(name, f"running {step.__name__}"), settings.home())
        if full is None:
            raise
        _fail(str(full), cause="disk")


def _step(context: Mapping[str, Any], name: str, step: Callable[..., dict], *args: Any, **kwargs: Any) -> dict:
    """One step of a run (callops_pipeline's or build_warehouse's): its progress to the run's progress
    file, and its failure named: in ``ops.run_steps`` as far as the disk allows (a data problem the step
    records itself; finish's problems are in ``ops.runs``), and to the `callops run` that waits
    (callops.failures.report, through a pipe: it needs no disk), saying whether the build warehouse has it."""
    from callops import pipeline

    run = runs.run_id(context)
    started = pipeline.utc_now()
    with progress.step(run, name):
        try:
            result = _guard(step, run, *args, name=name, **kwargs)
        except Exception as error:
            cause = getattr(error, "callops_cause", None)
            message = str(error) if cause is not None else f"{type(error).__name__}: {error}"
            recorded = cause == "data"  # the step recorded its data problem itself (finish: in ops.runs)
            if not recorded:
                try:
                    pipeline.record_failure(run, name, message, started)
                    recorded = True
                except Exception:  # noqa: BLE001 - a full disk: the report carries it
                    pass
            failures.report(name, message, recorded)
            raise
    failures.report(name, None)
    return result


_HARDENED: list[bool] = []


def _harden_once(private) -> None:
    """A task in a scheduler's worker (not under `callops`, which does it at every command): the owner-only
    folders of CALLOPS_HOME are made so once per process (callops.private)."""
    if not _HARDENED:
        private.harden()
        _HARDENED.append(True)


# callops_pipeline's tasks report their progress (callops.progress) to the `callops run` that waits.

ONE_PROCESS_ENV = "CALLOPS_ONE_PROCESS_RUN"  # set by `callops run`: every task in this one process
WARMED_UP = ("dbt.cli.main", "great_expectations")


def _warm_up(modules: tuple[str, ...] = WARMED_UP) -> None:
    """Import the later steps' libraries on a background thread while this step waits on DuckDB
    (which releases the GIL). Under `callops run` every task runs in one process, where importing
    dbt (~1.5 s) and Great Expectations (~2.5 s) would otherwise add to a daily run's wall time.
    A task in its own process (the served scheduler) gains nothing from it: skipped there."""
    import os

    if os.environ.get(ONE_PROCESS_ENV) != "1":
        return
    import importlib
    import threading

    def run() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # the step that needs it imports it again and reports the error
                return

    threading.Thread(target=run, name="callops-warm-up", daemon=True).start()


def load(context: Mapping[str, Any]) -> dict:
    from callops import pipeline

    _warm_up()
    return _step(context, "load", pipeline.load_deliveries, *delivery_range(context))


def build(context: Mapping[str, Any], layer: str | None = None) -> dict:
    """The build step: one ``dbt build`` of the plan (callops_pipeline), or one model layer of it
    (build_warehouse's dbt tasks, in ``runs.DBT_LAYERS`` order), listing each model's status and its
    tests' results."""
    from callops import pipeline

    result = _step(context, "build", pipeline.build_marts, layer=layer)
    for model, status in result.get("models", {}).items():
        print(f"  {layer:12s} {model:45s} {status}")
    return result


def validate(context: Mapping[str, Any]) -> dict:
    from callops import pipeline

    # Scheduled loads may take the writer pool between build and validate: build them in first.
    return _step(context, "validate", pipeline.validate_after_build)


def publish(context: Mapping[str, Any]) -> dict:
    from callops import pipeline

    return _step(context, "publish", pipeline.publish_marts)


def serve(context: Mapping[str, Any]) -> dict:
    from callops import pipeline

    return _step(context, "serve", pipeline.serve_marts)


def finish(context: Mapping[str, Any]) -> dict:
    from callops import pipeline

    return _step(context, "finish", pipeline.finish_run)


# --- the scheduled DAGs (docs/operations.md "Scheduling with Airflow") ------------------------------------------


def _skip(message: str) -> NoReturn:
    from airflow.sdk.exceptions import AirflowSkipException

    raise AirflowSkipException(message)


def _loaded(context: Mapping[str, Any], feed: str, run: str, summary: dict | None, what: str) -> dict:
    """A load's outcome: the feed's asset event (its extra names the run, tenants and days) when
    something new reached the raw layer; skipped (no event, no build) when nothing did; failed when
    nothing loaded because every file failed or was held back."""
    if summary is None:
        _skip(f"no new {feed} file in the landing zone")
    if not summary["changed"]:
        problems = scheduling.load_problems([summary])
        if problems:
            _fail(f"nothing of {what} loaded: " + "; ".join(problems))
        _skip(f"nothing new in {what}: {summary['files']} file(s) already loaded with the same content")
    context["outlet_events"][scheduling.feed_asset(feed)].extra = {
        "run_id": run,
        "feed": feed,
        "tenants": summary["tenants"],
        "days": summary["days"],
        "files": summary["changed"],
    }
    return summary


def load_scheduled(context: Mapping[str, Any], plan) -> dict:
    """A scheduled load DAG's load: the tenant's feed folder of the run's delivery day."""
    day = scheduling.delivery_day(context, plan.timezone)
    run = runs.scheduled_run_id(context)
    summary = _guard(scheduling.load_day, run, plan, day, name="load")
    return _loaded(context, plan.feed, run, summary, f"landing/{plan.feed}/{plan.tenant_id}/{day}/")


def load_new(context: Mapping[str, Any], feed: str) -> dict:
    """The landing watch's load of one feed: every settled file whose content was not tried yet."""
    run = runs.scheduled_run_id(context, feed)
    ti = context.get("ti")
    last_try = ti is None or ti.try_number > (getattr(ti, "max_tries", None) or 0)
    summary = _guard(scheduling.load_pending, run, feed, last_try, name="load")
    return _loaded(context, feed, run, summary, f"the new {feed} files")


def check_load(summary: dict | None) -> dict:
    """Fail naming every file of the load that failed or was held back (the rest was loaded, and its
    asset event already triggered the build)."""
    problems = scheduling.load_problems([summary])
    if problems:
        _fail(f"{len(problems)} file(s) not loaded: " + "; ".join(problems))
    return {"files": (summary or {}).get("files", 0), "problems": 0}


def start_build(context: Mapping[str, Any]) -> dict:
    """build_warehouse's first task, its load step: a start/end range is loaded first, exactly as
    callops_pipeline's load (a backfill as one run); an asset-triggered run records the loads that
    triggered it."""
    from callops import pipeline

    params = context.get("params") or {}
    if params.get("start") or params.get("end"):
        start, end = delivery_range(context)
        return {"loaded_range": [start.isoformat(), end.isoformat()]} | load(context)
    events = [event for events in (context.get("triggering_asset_events") or {}).values() for event in events]
    first, last, loads = scheduling.event_days(events)
    return _step(context, "load", pipeline.record_loads, first, last, loads, len(events))


def check_deadlines(context: Mapping[str, Any]) -> dict:
    """The deadline watch: alert (once per tenant-day) each tenant whose last delivery day was not
    published by its publish_deadline, or was but is still partial then, as of this run's scheduled
    time; fails when it alerted."""
    import pendulum

    now = context.get("logical_date") or getattr(context.get("dag_run"), "run_after", None) or pendulum.now("UTC")
    sent = scheduling.check_deadlines(now)
    if sent:
        _fail("publish deadline missed: " + "; ".join(alert["text"] for alert in sent), alerted=True)
    return {"checked_at": now.isoformat(), "alerts": 0}
