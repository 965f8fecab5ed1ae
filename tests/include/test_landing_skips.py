"""What below the landing root is not a delivery is skipped by name, with its reason, never silently.

Day folders whose names are not dates, hidden (dot) folders, unknown feed folders, files outside a
day folder, folders inside one, pipes and sockets: none is a failure (the run's result is what it
would be without them), but each is named in the run summary and in the load step's detail, in a
few lines (one per reason, five paths and "and N more"); files still in transfer and hidden files
are counted. A tenant folder not in callops.yml still fails its files by name, as before. The
scheduled loads and the landing watch skip and say the same.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import pytest

from callops import landing, pipeline, report, scheduling, warehouse
from tests.conftest import deliver

DAY = dt.date(2026, 3, 2)
HEADER = "contact_id,queue_id,entered_at,outcome,wait_seconds,talk_seconds,answered_at\n"
ROWS = "c1,q1,2026-03-02 09:00:00,answered,10,100,\nc2,q1,2026-03-02 09:05:00,abandoned,30,,\n"

NOT_A_DATE = "not a date folder (YYYY-MM-DD)"
OUTSIDE = "a file outside a day folder (deliveries go in landing/<feed>/<tenant>/<YYYY-MM-DD>/)"
UNKNOWN_FEED = "unknown feed (known: telephony, qa, hr, marketing)"
HIDDEN = "hidden (a dot name)"
NESTED = "a folder inside a day folder (only its files are read)"
NOT_REGULAR = "not a regular file (a pipe, socket or device)"


def query(sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connection(read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def aged(path: Path, seconds: float = 120) -> Path:
    past = time.time() - seconds
    os.utime(path, (past, past))
    return path


def cluttered(home: Path) -> Path:
    """A landing zone holding one good delivery of 2026-03-02 amid everything that is not one."""
    folder = deliver(home, "shanghai_bank", "2026-03-02", "calls.csv", HEADER + ROWS).parent
    tenant = folder.parent
    deliver(home, "shanghai_bank", "2026-3-2", "calls.csv", HEADER + ROWS)  # not an ISO date: never loaded
    (tenant / "20260302").mkdir()
    (tenant / "march").mkdir()
    (tenant / "calls.csv").write_text(HEADER + ROWS)  # beside the day folders, not in one
    deliver(home, ".stockholm_telco", "2026-03-02", "calls.csv", HEADER + ROWS)  # a hidden tenant folder
    deliver(home, "shanghai_bank", "2026-03-02", "b.csv", HEADER + ROWS, feed="crm")  # a feed callops has no loader for
    deliver(home, "acme_unknown", "2026-03-02", "x.csv", HEADER + ROWS)  # a tenant not in callops.yml
    deliver(home, "shanghai_bank", "2026-02-01", "old.csv", HEADER + ROWS)  # out of the range: not skipped, not in it
    os.mkfifo(folder / "pipe.csv")  # opening it to read would block the load
    (folder / "archive").mkdir()
    (folder / "next.csv.part").write_text(HEADER)
    (folder / "more.csv.tmp").write_text(HEADER)
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return folder


def test_what_is_not_a_delivery_is_skipped_by_name_with_its_reason_and_the_good_delivery_loads(home):
    cluttered(home)

    summary = pipeline.load_deliveries("r1", DAY, DAY)

    expected = [
        f"{NOT_A_DATE}: landing/telephony/shanghai_bank/2026-3-2, landing/telephony/shanghai_bank/20260302, "
        "landing/telephony/shanghai_bank/march",
        f"{OUTSIDE}: landing/telephony/shanghai_bank/calls.csv",
        f"{UNKNOWN_FEED}: landing/crm",
        f"{HIDDEN}: landing/telephony/.stockholm_telco",
        f"{NESTED}: landing/telephony/shanghai_bank/2026-03-02/archive",
        f"{NOT_REGULAR}: landing/telephony/shanghai_bank/2026-03-02/pipe.csv",
        "2 file(s) still in transfer (.tmp, .part, .partial, .filepart, .crdownload): they load once renamed",
        "1 hidden file(s) (dot names: .DS_Store, transfer temporaries)",
    ]
    assert summary["landing_skipped"] == expected
    # the good delivery loads; the unknown tenant's file fails by name as it always did; nothing else is tried
    assert summary["rows_loaded"] == 2 and summary["files"] == 2
    assert summary["failed"] == [
        "landing/telephony/acme_unknown/2026-03-02/x.csv: tenant 'acme_unknown' is not in callops.yml "
        "(configured: shanghai_bank, stockholm_telco, variant_tenant)"
    ]
    assert query("select file_name, status from raw.manifest order by 1") == [
        ("calls.csv", "loaded"),
        ("x.csv", "failed"),
    ]
    assert query("select tenant_id, delivery_date, count(*) from raw.telephony_contacts group by all") == [
        ("shanghai_bank", DAY, 2)
    ]
    # the run log keeps the same lines (ops.run_steps, load detail)
    (detail,) = query("select detail from ops.run_steps where run_id = 'r1' and step = 'load'")[0]
    assert json.loads(detail)["landing_skipped"] == expected

    # the run summary `callops run` prints names each, with its reason, in a section of its own
    text = report.run_summary("r1").text
    section = text.split("skipped in the landing zone (not deliveries, the run does not fail for them):\n")[1]
    assert section.splitlines()[: len(expected)] == [f"  - {line}" for line in expected]
    assert "landing/telephony/shanghai_bank/2026-02-01" not in text


def test_the_skipped_paths_of_a_reason_are_capped_at_five(home):
    tenant = deliver(home, "shanghai_bank", "2026-03-02", "calls.csv", HEADER + ROWS).parent.parent
    for name in ("a", "b", "c", "d", "e", "f", "g"):
        (tenant / f"2026-03-0{name}").mkdir()
    summary = pipeline.load_deliveries("r1", DAY, DAY)
    assert summary["landing_skipped"] == [
        f"{NOT_A_DATE}: "
        + ", ".join(f"landing/telephony/shanghai_bank/2026-03-0{name}" for name in "abcde")
        + " and 2 more"
    ]


def test_a_run_with_nothing_skipped_records_no_skipped_lines(home):
    deliver(home, "shanghai_bank", "2026-03-02", "calls.csv", HEADER + ROWS)
    summary = pipeline.load_deliveries("r1", DAY, DAY)
    assert "landing_skipped" not in summary
    assert "skipped in the landing zone" not in report.run_summary("r1").text


def test_a_scheduled_load_says_what_it_skipped_and_its_sensor_names_a_misnamed_day_folder(home, monkeypatch):
    from airflow.sdk.exceptions import AirflowSensorTimeout, TaskDeferred

    from callops.sensors import DeliverySensor

    monkeypatch.setenv("CALLOPS_LANDING_POLL_SECONDS", "0")
    plan = scheduling.LoadPlan("telephony", "shanghai_bank", "S", "Asia/Shanghai", "02:00", "08:00")
    deliver(home, "shanghai_bank", "20260301", "calls.csv", HEADER + ROWS)  # meant for 2026-03-01

    # nothing in landing/telephony/shanghai_bank/2026-03-01/: the sensor's failure names what it saw instead
    sensor = DeliverySensor(task_id="wait_for_delivery", plan=plan, poll_seconds=30)
    context = {"data_interval_start": dt.datetime(2026, 2, 28, 18, tzinfo=dt.UTC), "params": {}}
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context)
    with pytest.raises(AirflowSensorTimeout) as timed_out:
        sensor.execute_complete(context, {"status": "missing"}, **deferred.value.kwargs)
    assert str(timed_out.value).endswith(
        f"(check delivery_arrived); skipped in landing/telephony/shanghai_bank/: {NOT_A_DATE}: "
        "landing/telephony/shanghai_bank/20260301"
    )

    # once the day folder exists, its load records what it skipped there (and in the tenant folder)
    folder = deliver(home, "shanghai_bank", "2026-03-01", "calls.csv", HEADER + ROWS).parent
    os.mkfifo(folder / "pipe.csv")
    (folder / "next.csv.part").write_text(HEADER)
    deliver(home, "shanghai_bank", "2026-03-02", "later.csv", HEADER + ROWS)  # another day: not this load's
    summary = scheduling.load_day("sched", plan, dt.date(2026, 3, 1))
    expected = [
        f"{NOT_A_DATE}: landing/telephony/shanghai_bank/20260301",
        f"{NOT_REGULAR}: landing/telephony/shanghai_bank/2026-03-01/pipe.csv",
        "1 file(s) still in transfer (.tmp, .part, .partial, .filepart, .crdownload): they load once renamed",
    ]
    assert summary["landing_skipped"] == expected and summary["failed"] == [] and summary["rows_loaded"] == 2
    (detail,) = query("select detail from ops.run_steps where run_id = 'sched'")[0]
    assert json.loads(detail)["landing_skipped"] == expected


def test_the_landing_watch_skips_an_unknown_feed_instead_of_waking_for_it_forever(home, monkeypatch):
    from callops.sensors import LandingSensor

    monkeypatch.setenv("CALLOPS_LANDING_POLL_SECONDS", "0")
    aged(deliver(home, "shanghai_bank", "2026-03-02", "b.csv", HEADER + ROWS, feed="crm"))
    aged(deliver(home, "shanghai_bank", "2026-03-02", "calls.csv", HEADER + ROWS))
    (home / "landing" / "telephony" / "shanghai_bank" / "2026-3-2").mkdir()

    # the sensor wakes for the telephony file and says what the landing zone holds besides
    fired = LandingSensor(task_id="wait_for_new_files", quiet_after=dt.timedelta(minutes=5), poll_seconds=0).execute({})
    assert fired["files"] == ["landing/telephony/shanghai_bank/2026-03-02/calls.csv"]
    assert fired["skipped"] == [
        f"{NOT_A_DATE}: landing/telephony/shanghai_bank/2026-3-2",
        f"{UNKNOWN_FEED}: landing/crm",
    ]
    # each feed's load (the watch has one per known feed) records the skips under its feed folder
    loads = {feed: scheduling.load_pending(f"load_landing__r1__{feed}", feed) for feed in scheduling.FEEDS}
    assert loads["telephony"]["landing_skipped"] == [f"{NOT_A_DATE}: landing/telephony/shanghai_bank/2026-3-2"]
    assert loads["telephony"]["rows_loaded"] == 2 and loads["qa"] is None
    # nothing is left pending: a file no load can take would wake the continuous watch again at once, for ever
    assert scheduling.pending_files() == []


def test_every_listing_names_the_same_skips(home):
    cluttered(home)
    found = landing.scan(DAY, DAY)
    assert [d.display for d in found.deliveries] == [
        "landing/telephony/acme_unknown/2026-03-02/x.csv",
        "landing/telephony/shanghai_bank/2026-03-02/calls.csv",
    ]
    watched = scheduling.landing_skips()
    # the landing watch lists every day (2026-02-01 too); the reasons and paths are the run's
    assert landing.skipped_lines(watched) == landing.skipped_lines(found.skipped)
