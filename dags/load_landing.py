"""
### load_landing: the landing watch, loading whatever lands

Runs continuously (`@continuous`, one run at a time). Its sensor waits, deferred
in the triggerer, until the landing zone holds a settled file whose content no
scheduled load has tried yet: a late or corrected re-delivery, a feed without an
arrival time, a back-dated drop. Then, per feed:

1. **&lt;feed&gt;.load**: those files into the build warehouse (pool `duckdb_writer`);
   emits the asset `raw_<feed>` when something new was loaded (which triggers
   `build_warehouse`), skipped when there is nothing for that feed.
2. **&lt;feed&gt;.check**: fails naming each file that failed or was held back.

After an hour without news the run ends skipped and the next one starts. What
was tried is remembered in `CALLOPS_HOME/warehouse/landing_seen.json` (path,
size, mtime): a file is retried only when its content changes. Owner: callops
data engineering. Runbook: docs/operations.md, "Scheduling with Airflow".
"""

from datetime import timedelta

import pendulum
from airflow.sdk import TaskGroup, dag, task

from callops import runs, scheduling, tasks
from callops.sensors import LandingSensor


@dag(
    dag_id=runs.LANDING_WATCH_DAG_ID,
    schedule="@continuous",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=tasks.default_args(),
    tags=["callops", "load", "landing"],
    description="loads any new delivery in the landing zone soon after it settles",
    doc_md=__doc__,
)
def load_landing():
    wait = LandingSensor(task_id="wait_for_new_files", quiet_after=timedelta(hours=1))

    for feed in scheduling.FEEDS:
        with TaskGroup(group_id=feed):

            @task(
                task_id="load",
                pool=tasks.WRITER_POOL,
                outlets=[scheduling.feed_asset(feed)],
                priority_weight=scheduling.LOAD_PRIORITY,
                weight_rule="absolute",
            )
            def load(feed: str, **context):
                return tasks.load_new(context, feed)

            @task(task_id="check", retries=0)
            def check(summary: dict):
                return tasks.check_load(summary)

            loaded = load(feed)
            wait >> loaded
            check(loaded)


load_landing()
