"""
### build_warehouse: loaded feeds -> dbt -> Great Expectations gate -> published marts

**Schedule**: the assets `raw_telephony`, `raw_qa`, `raw_hr`, `raw_marketing`
(any of them; the load DAGs emit them). Events that arrive while a run is going
are consumed together by the next run, so a burst of loads is built once.

1. **start_run**: opens the run record. Triggered by assets, it names the load
   runs it builds. Triggered with `start`/`end` (delivery days, UI form or
   `airflow dags trigger build_warehouse -c '{"start": ..., "end": ...}'`), it
   first loads that range exactly as `callops run` does: a backfill as one run.
2. **dbt**: one `dbt build` per model layer (staging, intermediate, marts),
   each with the data tests of its models; each task lists every model's status
   and its tests' results (log and XCom).
3. **validate**: the Great Expectations gate on the changed tenant-days.
4. **publish**: new file, fsync, rename; the only task that emits the asset
   `marts`, so its consumers fire only on a successful publish.
5. **finish**: closes the run record; fails naming every file, dbt node or check
   that failed, and raises the run's alert.

Every task writing the warehouse runs in the single-slot pool `duckdb_writer`,
after any load waiting for it. Owner: callops data engineering. Runbook:
docs/operations.md, "Scheduling with Airflow".
"""

import pendulum
from airflow.sdk import Param, TaskGroup, chain, dag, task

from callops import runs, scheduling, tasks

WRITER = {"pool": tasks.WRITER_POOL, "priority_weight": scheduling.BUILD_PRIORITY, "weight_rule": "absolute"}


@dag(
    dag_id=runs.BUILD_DAG_ID,
    schedule=scheduling.build_schedule(),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=tasks.default_args(),
    params={
        "start": Param(None, type=["null", "string"], format="date", description="first delivery day to load"),
        "end": Param(None, type=["null", "string"], format="date", description="last delivery day to load"),
    },
    tags=["callops", "warehouse", "dbt", "gx"],
    description="builds, gates and publishes the marts when a feed was loaded",
    doc_md=__doc__,
)
def build_warehouse():
    # The run's alert comes from finish, which names every failure of the run.
    @task(on_failure_callback=None, **WRITER)
    def start_run(**context):
        return tasks.start_build(context)

    with TaskGroup(group_id="dbt", tooltip="dbt build, one task per model layer") as dbt:
        layers = []
        for layer in runs.DBT_LAYERS:

            @task(task_id=layer, on_failure_callback=None, **WRITER)
            def build(layer: str, **context):
                return tasks.build(context, layer)

            layers.append(build(layer))
        chain(*layers)

    @task(on_failure_callback=None, **WRITER)
    def validate(**context):
        return tasks.validate(context)

    @task(outlets=[scheduling.marts_asset()], on_failure_callback=None, **WRITER)
    def publish(**context):
        return tasks.publish(context)

    @task(on_failure_callback=None, **WRITER)  # after a successful publish only (all_success)
    def serve(**context):
        return tasks.serve(context)

    @task(trigger_rule="all_done", retries=0, **WRITER)
    def finish(**context):
        return tasks.finish(context)

    chain(start_run(), dbt, validate(), publish(), serve(), finish())


build_warehouse()
