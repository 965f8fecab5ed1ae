"""
### load_&lt;feed&gt;__&lt;tenant&gt;: one tenant's daily delivery of one feed

Generated from `callops.yml`: one DAG per tenant and feed with an arrival time
(`telephony_arrival: "02:00"`, `qa_arrival`, `hr_arrival`, `marketing_arrival`;
local times of the tenant on the day after the delivery day). One DAG per tenant
*and* feed, not per feed: each tenant delivers in its own time zone at its own
times, a cron timetable has one zone, and a late or broken delivery of one
tenant must not hold up or hide the others.

- **schedule**: `CronDataIntervalTimetable` at the arrival time in the tenant's
  zone. The run for delivery day D covers [D arrival, D+1 arrival) and starts at
  D+1's arrival time; D is the local date of its data interval's start. A manual
  run takes the param `day` (YYYY-MM-DD) to (re)load another day.
1. **wait_for_delivery**: deferrable sensor (waits in the triggerer) until
   `landing/<feed>/<tenant>/<D>/` holds a settled file; fails with an alert naming
   tenant, feed and day if nothing arrived by the tenant's `publish_deadline`.
2. **load**: that folder's files into the build warehouse (pool `duckdb_writer`);
   emits the feed's asset `raw_<feed>` when something new was loaded, which
   triggers `build_warehouse`; skipped when every file was already loaded.
3. **check**: fails naming each file that failed or was held back (the rest is
   loaded and built).

Files arriving at other times are loaded by `load_landing`. Owner: callops data
engineering. Runbook: docs/operations.md, "Scheduling with Airflow".
"""

import pendulum
from airflow.sdk import Param, chain, dag, task

from callops import scheduling, tasks
from callops.sensors import DeliverySensor


def load_dag(plan: scheduling.LoadPlan):
    @dag(
        dag_id=plan.dag_id,
        schedule=plan.timetable(),
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        default_args=tasks.default_args(),
        params={"day": Param(None, type=["null", "string"], format="date", description="delivery day to load")},
        tags=["callops", "load", plan.feed, plan.tenant_id],
        description=plan.describe(),
        doc_md=__doc__,
    )
    def load_feed():
        wait = DeliverySensor(task_id="wait_for_delivery", plan=plan)

        @task(
            pool=tasks.WRITER_POOL,
            outlets=[scheduling.feed_asset(plan.feed)],
            priority_weight=scheduling.LOAD_PRIORITY,
            weight_rule="absolute",
        )
        def load(**context):
            return tasks.load_scheduled(context, plan)

        @task(retries=0)
        def check(summary: dict):
            return tasks.check_load(summary)

        loaded = load()
        chain(wait, loaded, check(loaded))

    return load_feed()


for load_plan in scheduling.load_plans():
    load_dag(load_plan)
