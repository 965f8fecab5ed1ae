"""
### callops_pipeline: landing files -> DuckDB -> dbt -> Great Expectations -> published marts

One run covers a whole range of delivery days (params `start`, `end`, as
`YYYY-MM-DD`; default: the run's logical day), so its cost follows the data,
not the number of days. `callops run --start --end` triggers it.

1. **load**: every file in `landing/<feed>/<tenant>/<day>/` for the range, into
   the private build warehouse (validated rows; rejected rows quarantined).
2. **build**: `dbt build` staging -> marts (models and data tests).
3. **validate**: the Great Expectations suites of `expectations/suites/`.
4. **publish**: new file, fsync, rename onto `published/callops.duckdb`.
5. **serve**: when `CALLOPS_SERVING_URL` is set, the published marts into that
   PostgreSQL's schema `marts` (changed tenant-days only, one transaction).
6. **finish**: closes the run record; fails naming every file or step that failed.

Every task writing the warehouse runs in the single-slot pool `duckdb_writer`.
A failed run raises one alert, from **finish**, naming every file, dbt node and
check that failed (callops.alerts). A backfill from the UI or CLI is one run:
`airflow dags trigger callops_pipeline -c '{"start": "...", "end": "..."}'`.
Owner: callops data engineering. Runbook: docs/operations.md, "Running the pipeline".
"""

import pendulum
from airflow.sdk import Param, chain, dag, task

from callops import runs, tasks

DEFAULT_ARGS = tasks.default_args()
# The run's alert comes from finish, which names every failure of the run.
STEP = {"pool": tasks.WRITER_POOL, "on_failure_callback": None}


@dag(
    dag_id=runs.PIPELINE_DAG_ID,
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={
        "start": Param(None, type=["null", "string"], format="date", description="first delivery day"),
        "end": Param(None, type=["null", "string"], format="date", description="last delivery day"),
    },
    tags=["callops", "warehouse", "dbt", "gx"],
    doc_md=__doc__,
)
def callops_pipeline():
    @task(**STEP)
    def load(**context):
        return tasks.load(context)

    @task(**STEP)
    def build(**context):
        return tasks.build(context)

    @task(**STEP)
    def validate(**context):
        return tasks.validate(context)

    @task(**STEP)
    def publish(**context):
        return tasks.publish(context)

    @task(**STEP)  # after a successful publish only (all_success)
    def serve(**context):
        return tasks.serve(context)

    @task(pool=tasks.WRITER_POOL, trigger_rule="all_done", retries=0)
    def finish(**context):
        return tasks.finish(context)

    chain(load(), build(), validate(), publish(), serve(), finish())


callops_pipeline()
