"""The scheduled DAGs (docs/operations.md "Scheduling with Airflow"): they parse quickly, run on the right
schedules, wait with deferrable sensors, emit the right assets, and write only through the pool."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pendulum
import pytest

from callops import pipeline, runs, scheduling, settings, tasks
from callops.config import load_config
from callops.sensors import DeliverySensor, LandingSensor

REPO = Path(__file__).resolve().parents[2]
FEED_ASSETS = {f"callops://raw/{feed}" for feed in scheduling.FEEDS}
# Tasks that open the build warehouse read-write.
WRITERS = {
    "callops_pipeline": {"load", "build", "validate", "publish", "serve", "finish"},
    "build_warehouse": {
        "start_run", "dbt.staging", "dbt.intermediate", "dbt.marts", "validate", "publish", "serve", "finish"
    },
    "load_landing": {f"{feed}.load" for feed in scheduling.FEEDS},
}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(settings.dags_dir()))


@pytest.fixture(scope="module")
def config():
    return load_config()


def _uris(assets) -> set[str]:
    return {asset.uri for asset in assets}


@pytest.mark.airflow
def test_every_dag_parses_quickly_and_is_there(dagbag, config):
    assert dagbag.import_errors == {}
    loads = {
        f"load_{feed}__{t.id}" for t in config.tenants for feed in scheduling.FEEDS if getattr(t, f"{feed}_arrival")
    }
    assert loads, "the repository's callops.yml schedules at least the telephony feed"
    fixed = {"callops_pipeline", "build_warehouse", "load_landing", "publish_deadline_watch"}
    assert set(dagbag.dag_ids) == fixed | loads
    for stat in dagbag.dagbag_stats:
        assert stat.duration < dt.timedelta(seconds=2), stat


@pytest.mark.airflow
def test_every_dag_alerts_on_failure_and_retries_faults(dagbag):
    from callops import alerts

    for dag_id, dag in dagbag.dags.items():
        assert dag.default_args["on_failure_callback"] is alerts.on_failure, dag_id
        assert dag.default_args["retries"] >= 2, dag_id
        assert dag.default_args["owner"] == tasks.OWNER, dag_id
        assert dag.max_active_runs == 1, dag_id
        assert dag.catchup is False, dag_id
        assert "callops" in dag.tags, dag_id


@pytest.mark.airflow
def test_load_dags_run_daily_at_the_tenants_local_arrival_time(dagbag, config):
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable

    for plan in scheduling.load_plans(config):
        dag = dagbag.dags[plan.dag_id]
        tenant = config.tenant(plan.tenant_id)
        assert type(dag.timetable).__name__ == "CronDataIntervalTimetable", plan.dag_id
        assert str(dag.timetable.timezone) == tenant.timezone
        hour, minute = getattr(tenant, f"{plan.feed}_arrival").split(":")
        assert dag.timetable.expression == f"{int(minute)} {int(hour)} * * *"
        assert {plan.feed, plan.tenant_id, "load"} <= set(dag.tags)
        assert set(dag.params.keys()) == {"day"}
        # A real, one-day data interval: its start's local date is the delivery day.
        core = decode_timetable(encode_timetable(dag.timetable))
        interval = core.infer_manual_data_interval(run_after=pendulum.datetime(2026, 3, 30, 12, tz="UTC"))
        assert interval.end - interval.start in (dt.timedelta(hours=23), dt.timedelta(hours=24), dt.timedelta(hours=25))
        context = {"data_interval_start": interval.start, "params": {}}
        local = interval.end.in_timezone(tenant.timezone)
        assert scheduling.delivery_day(context, tenant.timezone) == local.date() - dt.timedelta(days=1)


def test_a_spring_forward_day_is_still_one_delivery_day():
    plan = scheduling.LoadPlan("telephony", "x", "X", "Europe/Stockholm", "02:30", "08:00")
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable

    core = decode_timetable(encode_timetable(plan.timetable()))
    interval = core.infer_manual_data_interval(run_after=pendulum.datetime(2026, 3, 30, 12, tz="UTC"))
    # [2026-03-29 02:30 local, 2026-03-30 02:30 local): 02:30 does not exist on the 29th in Stockholm.
    assert scheduling.delivery_day({"data_interval_start": interval.start}, "Europe/Stockholm") == dt.date(2026, 3, 29)


@pytest.mark.airflow
def test_load_dags_wait_with_a_deferrable_sensor_then_load_in_the_pool_and_emit_the_feed(dagbag, config):
    for plan in scheduling.load_plans(config):
        dag = dagbag.dags[plan.dag_id]
        assert [t.task_id for t in dag.topological_sort()] == ["wait_for_delivery", "load", "check"]
        sensor = dag.get_task("wait_for_delivery")
        assert isinstance(sensor, DeliverySensor) and sensor.deferrable
        assert sensor.pool != tasks.WRITER_POOL, "a waiting sensor must not hold the writer slot"
        load = dag.get_task("load")
        assert load.pool == tasks.WRITER_POOL
        assert _uris(load.outlets) == {f"callops://raw/{plan.feed}"}
        assert load.priority_weight > dagbag.dags["build_warehouse"].get_task("start_run").priority_weight
        check = dag.get_task("check")
        assert check.pool != tasks.WRITER_POOL and check.retries == 0 and not check.outlets


@pytest.mark.airflow
def test_landing_watch_runs_continuously_and_emits_each_feed_from_its_own_load(dagbag):
    dag = dagbag.dags["load_landing"]
    assert type(dag.timetable).__name__ == "ContinuousTimetable"
    sensor = dag.get_task("wait_for_new_files")
    assert isinstance(sensor, LandingSensor) and sensor.deferrable and sensor.soft_fail
    for feed in scheduling.FEEDS:
        load = dag.get_task(f"{feed}.load")
        assert load.upstream_task_ids == {"wait_for_new_files"}
        assert _uris(load.outlets) == {f"callops://raw/{feed}"}
        assert dag.get_task(f"{feed}.check").upstream_task_ids == {f"{feed}.load"}


@pytest.mark.airflow
def test_build_runs_on_any_loaded_feed_and_only_publish_emits_the_marts(dagbag):
    dag = dagbag.dags["build_warehouse"]
    condition = dag.timetable.asset_condition
    assert type(condition).__name__ == "AssetAny"
    assert _uris(condition.objects) == FEED_ASSETS
    assert [t.task_id for t in dag.topological_sort()] == [
        "start_run", "dbt.staging", "dbt.intermediate", "dbt.marts", "validate", "publish", "serve", "finish"
    ]
    assert set(dag.params.keys()) == {"start", "end"}
    assert dag.get_task("finish").trigger_rule == "all_done"
    assert dag.get_task("serve").trigger_rule == "all_success"
    emitters = [
        (dag_id, task.task_id)
        for dag_id, other in dagbag.dags.items()
        for task in other.tasks
        if scheduling.MARTS_ASSET_URI in _uris(task.outlets)
    ]
    assert emitters == [("build_warehouse", "publish")]
    # One alert per failed run: finish names every failure; the steps stay quiet.
    for task in dag.tasks:
        expected = task.task_id == "finish"
        assert bool(task.on_failure_callback) is expected, task.task_id


@pytest.mark.airflow
def test_every_warehouse_writer_is_in_the_single_writer_pool(dagbag, config):
    writers = dict(WRITERS) | {plan.dag_id: {"load"} for plan in scheduling.load_plans(config)}
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            in_pool = task.pool == tasks.WRITER_POOL
            assert in_pool is (task.task_id in writers.get(dag_id, set())), (dag_id, task.task_id, task.pool)


@pytest.mark.airflow
def test_deadline_watch_runs_every_quarter_hour(dagbag):
    dag = dagbag.dags["publish_deadline_watch"]
    assert type(dag.timetable).__name__ == "CronTriggerTimetable"
    assert dag.timetable.expression == "*/15 * * * *"
    assert [t.task_id for t in dag.tasks] == ["check_deadlines"]


def test_both_dags_wire_the_same_step_functions(dagbag, home, monkeypatch):
    """One implementation of each step (issue 17): callops_pipeline's tasks, and build_warehouse's run by a
    start/end trigger or by the load DAGs' assets, call the same functions of callops.pipeline."""
    calls = []

    def recording(step):
        def record(run_id, *args, **kwargs):
            calls.append((step, run_id, *args, *kwargs.values()))
            return {}

        return record

    steps = ("load_deliveries", "record_loads", "build_marts", "validate_after_build", "publish_marts", "serve_marts",
             "finish_run")
    for step in steps:
        monkeypatch.setattr(pipeline, step, recording(step))

    def run(dag_id: str, run_id: str, params: dict | None = None, events: dict | None = None) -> None:
        dag = dagbag.dags[dag_id]
        context = {
            "dag": dag, "run_id": run_id, "dag_run": SimpleNamespace(conf={}), "params": params or {},
            "triggering_asset_events": events or {},
        }
        for task in dag.topological_sort():
            task.python_callable(*task.op_args, **task.op_kwargs, **context)

    first, last = dt.date(2026, 3, 1), dt.date(2026, 3, 2)
    days = {"start": first.isoformat(), "end": last.isoformat()}
    loaded = SimpleNamespace(extra={"run_id": "load_telephony__a__r0", "days": [first.isoformat()]})
    run("callops_pipeline", "manual__1", days)
    run("build_warehouse", "manual__2", days)
    run("build_warehouse", "asset_triggered__3", events={"raw_telephony": [loaded]})

    def after_build(run_id: str) -> list[tuple]:
        return [("validate_after_build", run_id), ("publish_marts", run_id), ("serve_marts", run_id),
                ("finish_run", run_id)]

    backfill, triggered = "build_warehouse__manual__2", "build_warehouse__asset_triggered__3"
    assert calls == [
        ("load_deliveries", "manual__1", first, last),
        ("build_marts", "manual__1", None),
        *after_build("manual__1"),
        ("load_deliveries", backfill, first, last),
        *[("build_marts", backfill, layer) for layer in runs.DBT_LAYERS],
        *after_build(backfill),
        ("record_loads", triggered, first, first, ["load_telephony__a__r0"], 1),
        *[("build_marts", triggered, layer) for layer in runs.DBT_LAYERS],
        *after_build(triggered),
    ]


def test_dbt_layers_cover_every_model_in_order():
    models = REPO / "dbt_project" / "models"
    found = {path.relative_to(models).parts[0] for path in models.rglob("*") if path.suffix in (".sql", ".py")}
    assert found == set(runs.DBT_LAYERS)
    assert runs.DBT_LAYERS == ("staging", "intermediate", "marts")


def test_scheduled_feeds_are_the_loaders_feeds():
    from callops.load import registry

    assert registry.feeds() == scheduling.FEEDS


def test_dag_files_import_only_the_sdk_and_callops():
    for path in settings.dags_dir().glob("*.py"):
        for line in path.read_text().splitlines():
            if line.startswith(("import ", "from ")):
                module = line.split()[1]
                assert module.split(".")[0] in ("pendulum", "datetime", "callops") or module == "airflow.sdk", (
                    path.name,
                    line,
                )



def _paused_dags() -> dict[str, int]:
    """Each DAG of the home's Airflow metadata DB and whether it is paused (1) or not (0)."""
    import contextlib
    import sqlite3

    with contextlib.closing(sqlite3.connect(settings.airflow_home() / "airflow.db")) as con:
        return dict(con.execute("select dag_id, is_paused from dag").fetchall())

@pytest.mark.airflow
def test_dags_first_registered_outside_make_airflow_are_unpaused(home):
    """`callops run` (its `airflow dags test`) registers every DAG in the metadata DB, so on a home that ran
    it first `callops airflow` never sees a DAG for the first time: they must be created unpaused there too,
    or the landing watch would never run (Airflow unpauses a DAG only at its creation)."""
    from callops import airflow_runner

    airflow_runner.ensure_metadata_db()
    done = airflow_runner._airflow("dags", "reserialize", "--bundle-name", airflow_runner.DAGS_BUNDLE)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    paused = _paused_dags()
    assert runs.LANDING_WATCH_DAG_ID in paused and runs.BUILD_DAG_ID in paused
    assert not any(paused.values()), paused


@pytest.mark.airflow
def test_a_home_whose_dags_an_earlier_release_left_paused_is_unpaused_once(home):
    """An earlier release's `callops run` created every DAG paused: the first `callops airflow` of this
    release unpauses those never served (no run but `dags test` ones); a pause made after that stays."""
    from callops import airflow_runner

    paused = _paused_dags
    airflow_runner.ensure_metadata_db()
    earlier = {"AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True"}
    done = airflow_runner._airflow(
        "dags", "reserialize", "--bundle-name", airflow_runner.DAGS_BUNDLE, extra_env=earlier
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert paused() and all(paused().values())

    assert airflow_runner.unpause_dags_created_paused() == sorted(paused())
    assert not any(paused().values())
    done = airflow_runner._airflow("dags", "pause", "--yes", runs.LANDING_WATCH_DAG_ID)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert airflow_runner.unpause_dags_created_paused() == []
    assert paused()[runs.LANDING_WATCH_DAG_ID] == 1
