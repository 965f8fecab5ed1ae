"""
### publish_deadline_watch: was each tenant's day published in time?

Every 15 minutes: for each tenant with a `publish_deadline` (callops.yml, a local
time of the tenant on the day after the delivery day), once that time has
passed, its delivery day must have reached the published marts: a successful
publish whose build ran after the day's last loaded file. Otherwise it raises a
deadline alert naming the tenant, the day, the deadline and why (no delivery
loaded, loaded but not published, published late, or still partial: its loaded
telephony does not reach the day's last interval and no later delivery day is
loaded), once per tenant-day, and this task fails so the miss shows in the grid. Deadlines that passed before this
CALLOPS_HOME was first watched are not alerted.

Reads the build warehouse only (no pool). Owner: callops data engineering.
Runbook: docs/operations.md, "Scheduling with Airflow".
"""

import pendulum
from airflow.sdk import dag, task

from callops import runs, tasks


@dag(
    dag_id=runs.DEADLINE_DAG_ID,
    schedule="*/15 * * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=tasks.default_args(),
    tags=["callops", "alerts"],
    description="alerts when a tenant's marts are not published by its local deadline",
    doc_md=__doc__,
)
def publish_deadline_watch():
    @task(retries=0)
    def check_deadlines(**context):
        return tasks.check_deadlines(context)

    check_deadlines()


publish_deadline_watch()
