"""Scheduling pieces without a running Airflow: config keys, plans, delivery days, the landing
watch's bookkeeping, the triggers and sensors, scheduled loads, the late-load guard, deadlines."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from callops import pipeline, runs, scheduling, settings, warehouse
from callops.config import ConfigError, load_config
from callops.sensors import DeliverySensor, LandingSensor
from callops.triggers import DeliveryTrigger, LandingTrigger
from tests.conftest import deliver

HEADER = "contact_id,queue_id,entered_at,outcome,wait_seconds,talk_seconds,hold_seconds,after_call_work_seconds\n"
GOOD = HEADER + "c1,cards,2026-03-01 09:00:00,answered,10,200,20,40\n"
UTC = dt.UTC


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "callops.yml"
    path.write_text(textwrap.dedent(body))
    return path


def aged(path: Path, seconds: float = 120) -> Path:
    """Make a delivered file look settled (written ``seconds`` ago)."""
    past = time.time() - seconds
    os.utime(path, (past, past))
    return path


# --- config ---------------------------------------------------------------------------------------


def test_scheduling_keys_have_defaults(tmp_path):
    tenant = load_config(write_config(tmp_path, "tenants:\n  - {id: a, name: A, timezone: UTC}\n")).tenant("a")
    assert (tenant.telephony_arrival, tenant.qa_arrival, tenant.hr_arrival, tenant.marketing_arrival) == (
        "02:00", "", "", ""
    )
    assert tenant.publish_deadline == "08:00"


def test_unquoted_yaml_times_are_read_as_written(tmp_path):
    # YAML 1.1 reads 6:30 as the base-60 number 390.
    path = write_config(
        tmp_path, "tenants:\n  - {id: a, name: A, timezone: UTC, qa_arrival: 6:30, publish_deadline: '9:05'}\n"
    )
    tenant = load_config(path).tenant("a")
    assert (tenant.qa_arrival, tenant.publish_deadline) == ("06:30", "09:05")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("telephony_arrival: '25:00'", "'telephony_arrival' must be a local time \"HH:MM\""),
        ("publish_deadline: noon", "'publish_deadline' must be a local time"),
        ("hr_arrival: true", "'hr_arrival' must be a local time"),
        ("telephony_arrival: '09:00', publish_deadline: '08:00'", "must be later than every arrival time"),
    ],
)
def test_bad_scheduling_keys_are_named(tmp_path, entry, message):
    path = write_config(tmp_path, f"tenants:\n  - {{id: a, name: A, timezone: UTC, {entry}}}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert message in str(raised.value) and "tenant 'a'" in str(raised.value)


def test_empty_times_switch_schedules_off(tmp_path):
    path = write_config(
        tmp_path,
        """
        tenants:
          - {id: a, name: A, timezone: Asia/Shanghai, telephony_arrival: "", qa_arrival: "05:00", publish_deadline: ""}
          - {id: b, name: B, timezone: Europe/Stockholm}
        """,
    )
    plans = scheduling.load_plans(load_config(path))
    assert [(p.dag_id, p.cron, p.timezone, p.deadline) for p in plans] == [
        ("load_qa__a", "0 5 * * *", "Asia/Shanghai", ""),
        ("load_telephony__b", "0 2 * * *", "Europe/Stockholm", "08:00"),
    ]
    assert runs.parse_load_dag_id("load_qa__a") == ("qa", "a")
    assert runs.parse_load_dag_id("load_landing") is None


# --- delivery days and waits ----------------------------------------------------------------------


def test_delivery_day_is_the_local_date_of_the_interval_start():
    # Asia/Shanghai is UTC+8: the interval [2026-03-29 02:00, 2026-03-30 02:00) local starts 03-28 18:00 UTC.
    start = dt.datetime(2026, 3, 28, 18, tzinfo=UTC)
    assert scheduling.delivery_day({"data_interval_start": start}, "Asia/Shanghai") == dt.date(2026, 3, 29)
    assert scheduling.delivery_day({"data_interval_start": start, "params": {"day": "2026-01-05"}}, "UTC") == dt.date(
        2026, 1, 5
    )
    run = SimpleNamespace(run_after=dt.datetime(2026, 3, 30, 1, tzinfo=UTC))
    assert scheduling.delivery_day({"data_interval_start": None, "dag_run": run}, "Asia/Shanghai") == dt.date(
        2026, 3, 29
    )


def test_the_sensor_waits_until_the_local_publish_deadline_of_the_next_day():
    plan = scheduling.LoadPlan("telephony", "t", "T", "Europe/Stockholm", "02:00", "08:00")
    day = dt.date(2026, 3, 28)
    early = dt.datetime(2026, 3, 29, 0, 5, tzinfo=UTC)
    # 2026-03-29 08:00 in Stockholm is already summer time (UTC+2).
    assert plan.wait_until(day, early) == dt.datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    late = dt.datetime(2026, 3, 30, 12, tzinfo=UTC)
    assert plan.wait_until(day, late) == late + scheduling.MIN_WAIT
    open_ended = scheduling.LoadPlan("qa", "t", "T", "UTC", "05:00", "")
    assert open_ended.wait_until(day, early) == (
        dt.datetime(2026, 3, 29, 5, tzinfo=UTC) + scheduling.WAIT_WITHOUT_DEADLINE
    )


# --- the landing zone -----------------------------------------------------------------------------


def test_landing_scan_skips_hidden_in_flight_and_unsettled_files(home):
    good = aged(deliver(home, "shanghai_bank", "2026-03-01", "contacts.csv", GOOD))
    aged(deliver(home, "shanghai_bank", "2026-03-01", "next.csv.part", GOOD))
    aged(deliver(home, "shanghai_bank", "2026-03-01", ".hidden", GOOD))
    deliver(home, "shanghai_bank", "not-a-day", "x.csv", GOOD)
    fresh = deliver(home, "stockholm_telco", "2026-03-01", "contacts.csv", GOOD)
    files = scheduling.landing_files()
    assert [f.path for f in files] == [good, fresh]
    assert [f.display for f in scheduling.settled(files, 30)] == [
        "landing/telephony/shanghai_bank/2026-03-01/contacts.csv"
    ]


def test_remembered_files_are_pending_again_only_when_their_content_changes(home):
    path = aged(deliver(home, "shanghai_bank", "2026-03-01", "contacts.csv", GOOD))
    assert [f.path for f in scheduling.pending_files(settle_seconds=30)] == [path]
    scheduling.remember(scheduling.pending_files(settle_seconds=30))
    assert scheduling.pending_files(settle_seconds=30) == []
    path.write_text(GOOD + "c2,cards,2026-03-01 10:00:00,answered,5,60,0,0\n")
    aged(path, 60)
    assert [f.path for f in scheduling.pending_files(settle_seconds=30)] == [path]
    assert json.loads(settings.landing_index_path().read_text())["version"] == 1


# Three 15-minute chunks of one queue_log day (shanghai_bank, Asia/Shanghai), named as a source rotating
# every 15 minutes names them: call 1 enters the queue in the 09:00 chunk and is answered in the 09:15 one.
CHUNKS = {
    "queue_log-20260301-20260301-0900": "1772327690|1.1|cards|NONE|ENTERQUEUE||+8613800000001|1\n",
    "queue_log-20260301-20260301-0915": "1772327720|1.1|cards|Agent/7|CONNECT|30|1772327715.2|4\n"
    "1772327820|1.1|cards|Agent/7|COMPLETECALLER|30|100|1\n",
    "queue_log-20260301-20260301-0930": "1772328660|2.1|cards|NONE|ENTERQUEUE||+8613800000002|1\n"
    "1772328665|2.1|cards|Agent/7|CONNECT|5|1772328661.3|1\n"
    "1772328780|2.1|cards|Agent/7|COMPLETEAGENT|5|115|1\n",
}


def test_the_landing_watch_loads_each_queue_log_chunk_once_it_settles(home):
    """Issue 22: telephony arrives as rotated chunks; the watch loads each one when it settles (not in
    transfer, unchanged for the poll time), once, and never a chunk still being written."""
    from airflow.sdk.exceptions import TaskDeferred

    day = "2026-03-01"
    first, second, third = CHUNKS
    landing, index = str(home / "landing"), str(settings.landing_index_path())
    sensor = LandingSensor(task_id="wait_for_new_files", quiet_after=dt.timedelta(minutes=5), poll_seconds=30)

    def new() -> list[str]:
        """What the watch sees as new: its sensor's first look, its trigger's, and the load's own."""
        trigger = LandingTrigger(landing, index, time.time() + 60, 0.05, 30)
        seen = [f.display for f in trigger.new_files()]
        assert [f.display for f in scheduling.pending_files(settle_seconds=30)] == seen
        try:
            assert sensor.execute({})["files"] == seen
        except TaskDeferred:
            assert seen == []
        return [name.rsplit("/", 1)[1] for name in seen]

    aged(deliver(home, "shanghai_bank", day, first, CHUNKS[first]))
    assert new() == [first]
    assert scheduling.load_pending("load_landing__r1__telephony", "telephony")["changed"] == 1
    # the next chunk still in transfer (its in-flight name), the one after written in place just now
    in_flight = aged(deliver(home, "shanghai_bank", day, f"{second}.part", CHUNKS[second]))
    deliver(home, "shanghai_bank", day, third, CHUNKS[third])
    assert new() == []
    assert scheduling.load_pending("load_landing__r2__telephony", "telephony") is None
    # renamed into place, the transfer done a while ago: settled, and the only new file
    in_flight.rename(in_flight.with_name(second))
    assert new() == [second]
    assert scheduling.load_pending("load_landing__r2__telephony", "telephony")["changed"] == 1
    assert new() == []
    aged(home / "landing" / "telephony" / "shanghai_bank" / day / third, 31)  # unchanged for the poll time
    assert new() == [third]
    assert scheduling.load_pending("load_landing__r3__telephony", "telephony")["changed"] == 1
    assert new() == []
    with warehouse.session(read_only=True) as con:
        loaded = con.execute(
            "select run_id, file_name, rows_loaded from ops.run_files where action = 'loaded' order by run_id"
        ).fetchall()
        events = con.execute(
            "select file_name, count(*) from raw.queue_log_events inner join raw.manifest using (file_id) "
            "where callid = '1.1' group by 1 order by 1"
        ).fetchall()
    assert loaded == [
        ("load_landing__r1__telephony", first, 1),
        ("load_landing__r2__telephony", second, 2),
        ("load_landing__r3__telephony", third, 3),
    ]
    assert events == [(first, 1), (second, 2)]  # the call split across two chunks, each line loaded once


def test_delivery_trigger_fires_on_a_settled_file_or_reports_missing(home):
    folder = home / "landing" / "telephony" / "shanghai_bank" / "2026-03-01"
    trigger = DeliveryTrigger(str(folder), "telephony", "shanghai_bank", "2026-03-01", time.time() + 0.3, 0.05, 30)
    assert _first_event(trigger) == {"status": "missing", "folder": str(folder)}
    aged(deliver(home, "shanghai_bank", "2026-03-01", "contacts.csv", GOOD))
    classpath, kwargs = trigger.serialize()
    assert classpath == "callops.triggers.DeliveryTrigger"
    assert _first_event(DeliveryTrigger(**kwargs)) == {
        "status": "arrived",
        "files": ["landing/telephony/shanghai_bank/2026-03-01/contacts.csv"],
    }


def test_landing_trigger_fires_on_untried_files_or_reports_quiet(home):
    landing, index = str(home / "landing"), str(settings.landing_index_path())
    assert _first_event(LandingTrigger(landing, index, time.time() + 0.3, 0.05, 30)) == {"status": "quiet"}
    aged(deliver(home, "variant_tenant", "2026-03-04", "x.csv", GOOD, feed="qa"))
    classpath, kwargs = LandingTrigger(landing, index, time.time() + 5, 0.05, 30).serialize()
    assert classpath == "callops.triggers.LandingTrigger"
    event = _first_event(LandingTrigger(**kwargs))
    assert event == {
        "status": "new", "count": 1, "feeds": ["qa"], "files": ["landing/qa/variant_tenant/2026-03-04/x.csv"]
    }


def _first_event(trigger) -> dict:
    async def first():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(asyncio.wait_for(first(), timeout=10))


# --- sensors --------------------------------------------------------------------------------------


def test_delivery_sensor_defers_to_the_triggerer_and_names_what_is_missing(home):
    from airflow.sdk.exceptions import AirflowSensorTimeout, TaskDeferred

    plan = scheduling.LoadPlan("telephony", "shanghai_bank", "S", "Asia/Shanghai", "02:00", "08:00")
    sensor = DeliverySensor(task_id="wait_for_delivery", plan=plan, poll_seconds=30)
    context = {"data_interval_start": dt.datetime(2026, 2, 28, 18, tzinfo=UTC), "params": {}}
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, DeliveryTrigger)
    assert trigger.folder == str(home / "landing" / "telephony" / "shanghai_bank" / "2026-03-01")
    assert deferred.value.method_name == "execute_complete"
    with pytest.raises(AirflowSensorTimeout) as timed_out:
        sensor.execute_complete(context, {"status": "missing"}, **deferred.value.kwargs)
    assert str(timed_out.value).startswith(
        "no telephony delivery from tenant shanghai_bank for delivery day 2026-03-01: nothing arrived in "
        "landing/telephony/shanghai_bank/2026-03-01/ by "
    )
    aged(deliver(home, "shanghai_bank", "2026-03-01", "contacts.csv", GOOD))
    assert sensor.execute(context) == ["landing/telephony/shanghai_bank/2026-03-01/contacts.csv"]


def test_landing_sensor_defers_then_skips_when_quiet(home):
    from airflow.sdk.exceptions import AirflowSkipException, TaskDeferred

    sensor = LandingSensor(task_id="wait_for_new_files", quiet_after=dt.timedelta(minutes=5), poll_seconds=30)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    assert isinstance(deferred.value.trigger, LandingTrigger)
    with pytest.raises(AirflowSkipException):
        sensor.execute_complete({}, {"status": "quiet"})
    aged(deliver(home, "shanghai_bank", "2026-03-01", "contacts.csv", GOOD))
    assert sensor.execute({})["feeds"] == ["telephony"]


# --- scheduled loads ------------------------------------------------------------------------------


def test_a_scheduled_load_loads_its_folder_as_a_closed_run_and_names_bad_files(home):
    aged(deliver(home, "shanghai_bank", "2026-03-01", "contacts.csv", GOOD))
    aged(deliver(home, "shanghai_bank", "2026-03-01", "broken.csv", "not,a,contact,file\n1,2,3,4\n"))
    aged(deliver(home, "stockholm_telco", "2026-03-01", "contacts.csv", GOOD))  # another tenant: not this DAG's
    plan = scheduling.LoadPlan("telephony", "shanghai_bank", "S", "Asia/Shanghai", "02:00", "08:00")
    summary = scheduling.load_day("load_telephony__shanghai_bank__r1", plan, dt.date(2026, 3, 1))
    assert (summary["files"], summary["changed"], summary["tenants"], summary["days"]) == (
        2, 1, ["shanghai_bank"], ["2026-03-01"]
    )
    (problem,) = scheduling.load_problems([summary])
    assert problem.startswith("landing/telephony/shanghai_bank/2026-03-01/broken.csv: ")
    with warehouse.session(read_only=True) as con:
        run = con.execute("select status, start_date, finished_at is not null from ops.runs").fetchall()
        step = con.execute("select step, status from ops.run_steps").fetchall()
    assert run == [("failed", dt.date(2026, 3, 1), True)] and step == [("load", "failed")]
    # The landing watch will not try them again, but does pick up the other tenant's file.
    assert [f.display for f in scheduling.pending_files(settle_seconds=30)] == [
        "landing/telephony/stockholm_telco/2026-03-01/contacts.csv"
    ]
    again = scheduling.load_pending("load_landing__r2__telephony", "telephony")
    assert (again["changed"], again["failed"]) == (1, [])
    assert scheduling.load_pending("load_landing__r3__telephony", "telephony") is None


def test_load_tasks_emit_the_feed_asset_only_when_something_new_was_loaded(home):
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from callops import tasks

    class Events(dict):
        def __missing__(self, key):
            self[key] = SimpleNamespace(extra={})
            return self[key]

    def context(run: str) -> dict:
        return {"dag": SimpleNamespace(dag_id="load_landing"), "run_id": run, "outlet_events": Events()}

    aged(deliver(home, "shanghai_bank", "2026-03-01", "contacts.csv", GOOD))
    first = context("r1")
    assert tasks.load_new(first, "telephony")["changed"] == 1
    (event,) = first["outlet_events"].values()
    assert event.extra == {
        "run_id": "load_landing__r1__telephony",
        "feed": "telephony",
        "tenants": ["shanghai_bank"],
        "days": ["2026-03-01"],
        "files": 1,
    }
    with pytest.raises(AirflowSkipException):
        tasks.load_new(context("r2"), "telephony")
    aged(deliver(home, "nobody", "2026-03-02", "contacts.csv", GOOD))
    with pytest.raises(AirflowFailException) as failed:
        tasks.load_new(context("r3"), "telephony")
    assert (
        "landing/telephony/nobody/2026-03-02/contacts.csv: tenant 'nobody' is not in callops.yml" in str(failed.value)
    )
    with pytest.raises(AirflowFailException):
        tasks.check_load({"failed": ["landing/x: broken"], "held": []})
    assert tasks.check_load({"failed": [], "held": [], "files": 2}) == {"files": 2, "problems": 0}


# --- the late-load guard --------------------------------------------------------------------------


def test_a_load_between_build_and_gate_is_built_before_the_gate(home, monkeypatch):
    calls = []
    monkeypatch.setattr(pipeline, "build_marts", lambda run_id: calls.append(("build", run_id)))
    monkeypatch.setattr(pipeline, "validate_marts", lambda run_id: calls.append(("validate", run_id)) or {})
    built = dt.datetime(2026, 3, 1, 12)
    with warehouse.session() as con:
        con.execute("insert into ops.run_steps values ('b1', 'build', 'success', ?, '{}')", [built])
        con.execute("insert into ops.changed_partitions values ('l0', 'f0', 't', '2026-03-01', '2026-03-02', ?, null)",
                    [built - dt.timedelta(minutes=5)])
    assert pipeline.validate_after_build("b1") == {}
    assert calls == [("validate", "b1")]
    with warehouse.session() as con:
        con.execute("insert into ops.changed_partitions values ('l1', 'f1', 't', '2026-03-01', '2026-03-02', ?, null)",
                    [built + dt.timedelta(minutes=1)])
    assert pipeline.validate_after_build("b1") == {"rebuilt_for_late_loads": 1}
    assert calls[1:] == [("build", "b1"), ("validate", "b1")]


# --- deadlines ------------------------------------------------------------------------------------


def test_deadlines_alert_once_per_tenant_day_and_not_before_watching(home, tmp_path, monkeypatch):
    from callops import alerts

    sent = []
    monkeypatch.setattr(alerts, "send", lambda alert: sent.append(alert) or {"logged": True})
    config = load_config(
        write_config(
            tmp_path,
            """
            tenants:
              - {id: shanghai_bank, name: S, timezone: Asia/Shanghai, publish_deadline: "08:00"}
              - {id: stockholm_telco, name: T, timezone: Europe/Stockholm, publish_deadline: "08:00"}
              - {id: variant_tenant, name: V, timezone: UTC, publish_deadline: ""}
            """,
        )
    )
    # shanghai_bank's day is loaded but never built; stockholm_telco sends nothing.
    aged(deliver(home, "shanghai_bank", "2026-03-01", "contacts.csv", GOOD))
    pipeline.load_selected("l1", [f.delivery() for f in scheduling.landing_files()])
    # First watched before the deadlines of day 2026-03-01 (08:00 local on 03-02).
    assert scheduling.check_deadlines(dt.datetime(2026, 3, 1, 12, tzinfo=UTC), config) == []
    # 2026-03-02 00:30 UTC is 08:30 in Shanghai: its deadline passed; Stockholm's (07:00 UTC) not yet.
    due = scheduling.check_deadlines(dt.datetime(2026, 3, 2, 0, 30, tzinfo=UTC), config)
    assert [(a["tenant"], a["day"], a["check"]) for a in due] == [("shanghai_bank", "2026-03-01", "publish_deadline")]
    assert "not published by 08:00 Asia/Shanghai" in due[0]["text"] and "not published yet" in due[0]["message"]
    assert scheduling.check_deadlines(dt.datetime(2026, 3, 2, 0, 45, tzinfo=UTC), config) == []
    # At 07:15 UTC Stockholm's deadline has passed too, and nothing of its day was loaded.
    due = scheduling.check_deadlines(dt.datetime(2026, 3, 2, 7, 15, tzinfo=UTC), config)
    assert [(a["tenant"], a["message"]) for a in due] == [("stockholm_telco", "no delivery of that day was loaded")]
    assert [a["tenant"] for a in sent] == ["shanghai_bank", "stockholm_telco"]


def test_a_day_published_before_its_deadline_raises_nothing(home, tmp_path, monkeypatch):
    from callops import alerts

    monkeypatch.setattr(alerts, "send", lambda alert: pytest.fail(f"unexpected alert {alert['text']}"))
    config = load_config(write_config(tmp_path, "tenants:\n  - {id: shanghai_bank, name: S, timezone: UTC}\n"))
    aged(deliver(home, "shanghai_bank", "2026-03-01", "contacts.csv", GOOD))
    pipeline.load_selected("l1", [f.delivery() for f in scheduling.landing_files()])
    with warehouse.session() as con:
        loaded_at = con.execute("select max(loaded_at) from raw.manifest").fetchone()[0]
        con.execute("insert into ops.run_steps values ('b1', 'build', 'success', ?, '{}')", [loaded_at])
        con.execute("insert into ops.run_steps values ('b1', 'publish', 'success', ?, '{}')", [loaded_at])
    scheduling.check_deadlines(dt.datetime(2026, 3, 1, 0, 0, tzinfo=UTC), config)  # starts watching
    with warehouse.session(read_only=True) as con:
        status = scheduling.publish_status(con, "shanghai_bank", dt.date(2026, 3, 1))
    assert status["files"] == 1 and status["published_at"] == loaded_at
    deadline_passed = loaded_at.replace(tzinfo=UTC) + dt.timedelta(days=3)
    monkeypatch.setattr(scheduling, "last_deadline", lambda tenant, now: (dt.date(2026, 3, 1), deadline_passed))
    assert scheduling.check_deadlines(deadline_passed + dt.timedelta(minutes=5), config) == []


def test_day_completeness_waits_for_a_build_by_this_release_after_an_upgrade(home):
    """A warehouse the previous release built holds the coverage model under its old name
    (intermediate.int_telephony__coverage): the deadline watch, which may run before the upgraded
    home's first build, finds no completeness yet instead of failing on the missing table."""
    with warehouse.session() as con:
        con.execute("create schema if not exists marts")
        con.execute("create schema if not exists intermediate")
        con.execute(
            "create table marts.rpt_daily_kpis as select 'shanghai_bank' as tenant_id, date '2026-03-01' as kpi_date, "
            "false as is_day_complete, 3 as offered_count"
        )
        con.execute(
            "create table intermediate.int_telephony__coverage as select 'shanghai_bank' as tenant_id, "
            "timestamp '2026-03-01 12:00' as last_event_at, date '2026-03-01' as last_delivery_date"
        )
    with warehouse.session(read_only=True) as con:
        assert scheduling.day_completeness(con, "shanghai_bank", dt.date(2026, 3, 1)) is None
    with warehouse.session() as con:  # built by this release: the model under its new name
        con.execute("alter table intermediate.int_telephony__coverage rename to int_telephony_feeds_measured")
    with warehouse.session(read_only=True) as con:
        assert scheduling.day_completeness(con, "shanghai_bank", dt.date(2026, 3, 1)) == {
            "is_day_complete": False,
            "offered_count": 3,
            "last_event_at": dt.datetime(2026, 3, 1, 12, 0),
            "last_delivery_date": dt.date(2026, 3, 1),
        }


def test_a_failing_watch_load_is_retried_by_airflow_but_not_forever(home, monkeypatch):
    aged(deliver(home, "shanghai_bank", "2026-03-01", "contacts.csv", GOOD))

    def broken(run_id, deliveries, skipped=None):
        raise OSError("disk full")

    monkeypatch.setattr(pipeline, "load_selected", broken)
    with pytest.raises(OSError):
        scheduling.load_pending("r1", "telephony", last_try=False)
    assert len(scheduling.pending_files(settle_seconds=30)) == 1, "a retry left: tried again"
    with pytest.raises(OSError):
        scheduling.load_pending("r1", "telephony", last_try=True)
    assert scheduling.pending_files(settle_seconds=30) == [], "no retry left: not again until it changes"

    def bad_config(run_id, deliveries, skipped=None):
        raise pipeline.DataProblem("callops.yml: not valid YAML")

    aged(deliver(home, "stockholm_telco", "2026-03-01", "contacts.csv", GOOD))
    monkeypatch.setattr(pipeline, "load_selected", bad_config)
    with pytest.raises(pipeline.DataProblem):
        scheduling.load_pending("r2", "telephony", last_try=False)
    assert scheduling.pending_files(settle_seconds=30) == []
