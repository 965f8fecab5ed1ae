"""Bounds of what a delivery can say (DECISIONLOG.md, "Bounds"): durations above 24 hours and timestamps
outside 1990-01-01 .. the run's UTC date + 1 day are rejected by rule in every format, with file, line
and rule in raw.rejects; a file with more than 1,000 columns fails as a whole, the others still load."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from callops import pipeline, pseudonym, warehouse
from callops.config import Tenant
from callops.load import contacts_csv
from callops.load.base import LoadContext
from tests.conftest import deliver

DAY = dt.date(2026, 3, 2)
CONTACTS = "contact_id,queue_id,entered_at,outcome,answered_at,ended_at,wait_seconds,talk_seconds\n"


def load(run_id: str = "r1") -> dict:
    return pipeline.load_deliveries(run_id, DAY, DAY)


def query(sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connection(read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def rejects(file_name: str) -> dict[int, str]:
    return dict(query("select line, reason from raw.rejects where file_name = ? order by line", [file_name]))


def latest_day(run_id: str = "r1") -> dt.date:
    """The latest day a timestamp may fall on: the run's UTC date (its start in ops.runs) + 1 day."""
    [(day,)] = query("select cast(started_at as date) from ops.runs where run_id = ?", [run_id])
    return day + dt.timedelta(days=1)


def test_contact_csv_durations_above_a_day_and_timestamps_out_of_range_are_rejected(home):
    deliver(home, "shanghai_bank", DAY.isoformat(), "contacts.csv", CONTACTS + "\n".join([
        "ok1,q1,2026-03-02 09:00:00,answered,2026-03-02 09:00:10,,,86400",  # 24 hours exactly: kept
        "ok2,q1,2026-03-02 09:00:00,answered,,,10,23:59:59",
        "big,q1,2026-03-02 09:00:00,answered,2026-03-02 09:00:10,,,1e23",
        "clock,q1,2026-03-02 09:00:00,answered,2026-03-02 09:00:10,,,24:00:01",
        "wait,q1,2026-03-02 09:00:00,answered,,,86400.5,60",
        "derived,q1,2026-03-02 09:00:00,abandoned,,2026-03-03 09:00:01,,",  # waited 24 h 1 s
        "y9999,q1,9999-12-31 23:59:59,abandoned,,,5,",
        "y1969,q1,1969-12-31 23:59:59+00:00,abandoned,,,5,",
        "ended,q1,2026-03-02 09:00:00,abandoned,,9999-01-01 00:00:00,5,",
    ]) + "\n")
    summary = load()
    assert summary["failed"] == []
    assert query("select contact_id from raw.telephony_contacts order by 1") == [("ok1",), ("ok2",)]
    assert query("select talk_seconds from raw.telephony_contacts order by contact_id") == [(86400.0,), (86399.0,)]
    assert rejects("contacts.csv") == {
        4: "talk_seconds is above 24 hours (86,400 s): 1e23",
        5: "talk_seconds is above 24 hours (86,400 s): 24:00:01",
        6: "wait_seconds is above 24 hours (86,400 s): 86400.5",
        7: "the wait from entered_at to ended_at is above 24 hours",
        8: f"entered_at is after {latest_day()} (the run's UTC date + 1 day): 9999-12-31 23:59:59",
        9: "entered_at is before 1990-01-01: 1969-12-31 23:59:59+00:00",
        10: f"ended_at is after {latest_day()} (the run's UTC date + 1 day): 9999-01-01 00:00:00",
    }


def test_the_latest_timestamp_is_a_day_after_the_runs_date_not_after_now(home):
    """A run dated 2026-03-02 (a replay of that day) accepts 2026-03-03 23:59:59 and rejects 2026-03-04,
    whatever the wall clock says."""
    path = deliver(home, "variant_tenant", DAY.isoformat(), "contacts.csv", CONTACTS + "\n".join([
        "a,q1,2026-03-03 23:59:59,abandoned,,,5,",
        "b,q1,2026-03-04 00:00:00,abandoned,,,5,",
        "c,q1,1990-01-01 00:00:00,abandoned,,,5,",
        "d,q1,1989-12-31 23:59:59,abandoned,,,5,",
    ]) + "\n")
    con = warehouse.connect()
    try:
        tenant = Tenant(id="variant_tenant", name="v", timezone="UTC")
        loaded = contacts_csv.load(LoadContext(
            con=con, path=path, source=path, display="contacts.csv", file_id="f1", tenant=tenant,
            delivery_date=DAY, feed="telephony", run_id="replay", run_date=DAY,
            pads=pseudonym.pads(b"k" * 32),
        ))
        assert (loaded.rows_loaded, loaded.rows_rejected) == (2, 2)
        assert con.execute("select contact_id from raw.telephony_contacts order by 1").fetchall() == [("a",), ("c",)]
        assert con.execute("select line, reason from raw.rejects order by line").fetchall() == [
            (3, "entered_at is after 2026-03-03 (the run's UTC date + 1 day): 2026-03-04 00:00:00"),
            (5, "entered_at is before 1990-01-01: 1989-12-31 23:59:59"),
        ]
    finally:
        con.close()


def ctr(contact_id: str, **changes: object) -> str:
    """One answered Amazon Connect CTR as a JSON line; ``changes`` set fields by path (``Agent.X``)."""
    record: dict = {
        "ContactId": contact_id, "Channel": "VOICE", "InitiationMethod": "INBOUND",
        "InitiationTimestamp": "2026-03-02T01:00:00Z", "DisconnectTimestamp": "2026-03-02T01:05:25Z",
        "DisconnectReason": "CUSTOMER_DISCONNECT", "LastUpdateTimestamp": "2026-03-02T01:06:10Z",
        "Queue": {"Name": "Sales", "EnqueueTimestamp": "2026-03-02T01:00:10Z",
                  "DequeueTimestamp": "2026-03-02T01:00:25Z", "Duration": 15},
        "Agent": {"Username": "alice", "ConnectedToAgentTimestamp": "2026-03-02T01:00:25Z",
                  "AgentInteractionDuration": 300, "CustomerHoldDuration": 20, "AfterContactWorkDuration": 40},
    }  # fmt: skip
    for path, value in changes.items():
        *parents, name = path.split(".")
        target = record
        for parent in parents:
            target = target[parent]
        if value is None:
            del target[name]
        else:
            target[name] = value
    return json.dumps(record)


def test_connect_ctr_timestamps_in_9999_1969_or_minus_1_and_durations_above_a_day_are_rejected(home):
    lines = [
        ctr("ok"),
        ctr("talk", **{"Agent.AgentInteractionDuration": 1e23}),
        ctr("acw", **{"Agent.AfterContactWorkDuration": 86401}),
        ctr("queued", **{"Queue.Duration": "90000"}),
        ctr("end9999", DisconnectTimestamp="9999-12-31T23:59:59Z"),
        ctr("init1969", InitiationTimestamp="1969-12-31T23:59:59Z"),
        ctr("connected-1", **{"Agent.ConnectedToAgentTimestamp": -1}),
        ctr("updated-1", LastUpdateTimestamp="-1"),
        ctr("derived", **{"Queue.Duration": None, "Queue.DequeueTimestamp": "2026-03-03T01:00:11Z",
                          "Agent.ConnectedToAgentTimestamp": "2026-03-03T01:00:11Z"}),
    ]  # fmt: skip
    deliver(home, "shanghai_bank", DAY.isoformat(), "ctr-stream-1-2026-03-02", "\n".join(lines) + "\n")
    summary = load()
    assert summary["failed"] == []
    assert query("select contact_id, talk_seconds from raw.telephony_contacts") == [("ok", 300.0)]
    latest = latest_day()
    assert rejects("ctr-stream-1-2026-03-02") == {
        2: "Agent.AgentInteractionDuration is above 24 hours (86,400 s): 1e23",
        3: "Agent.AfterContactWorkDuration is above 24 hours (86,400 s): 86401",
        4: "Queue.Duration is above 24 hours (86,400 s): 90000",
        5: f"DisconnectTimestamp is after {latest} (the run's UTC date + 1 day): 9999-12-31T23:59:59Z",
        6: "InitiationTimestamp is before 1990-01-01: 1969-12-31T23:59:59Z",
        7: "Agent.ConnectedToAgentTimestamp is not a timestamp: -1",
        8: "LastUpdateTimestamp is not a timestamp: -1",
        9: "the queue wait from Queue.EnqueueTimestamp is above 24 hours",
    }


def test_asterisk_durations_above_a_day_and_times_out_of_range_are_rejected(home):
    queue_log = "\n".join([
        "1772413200|1772413200.1|sales|NONE|ENTERQUEUE||+8613800000001|1",
        "1772413210|1772413200.1|sales|PJSIP/201|CONNECT|10|1772413200.2|4",
        "1772413500|1772413200.1|sales|PJSIP/201|COMPLETECALLER|10|90000|1",  # calltime 25 hours
        "1772413510|1772413300.1|sales|PJSIP/202|RINGNOANSWER|86400001",  # ringtime 86,400.001 s, logged in ms
        "1772413520|1772413300.1|sales|PJSIP/202|RINGNOANSWER|86400000",  # 24 hours exactly: kept
        "32503680000|1772413400.1|sales|NONE|ENTERQUEUE||+8613800000002|1",  # 3000-01-01 00:00:00
    ]) + "\n"  # fmt: skip
    deliver(home, "shanghai_bank", DAY.isoformat(), "queue_log", queue_log)
    cdr = "\n".join([
        '"","1001","600","from-internal","","PJSIP/1001-01","PJSIP/600-02","Queue","sales","2026-03-02 09:00:00",'
        '"2026-03-02 09:00:30","2026-03-02 09:03:30",210,180,"ANSWERED","DOCUMENTATION","1772413200.1",""',
        '"","1002","600","from-internal","","PJSIP/1002-01","PJSIP/600-03","Queue","sales","2026-03-02 09:00:00",'
        '"2026-03-02 09:00:30","2026-03-03 10:00:30",90030,90000,"ANSWERED","DOCUMENTATION","1772413200.2",""',
        '"","1003","600","from-internal","","PJSIP/1003-01","PJSIP/600-04","Queue","sales","2026-03-02 09:00:00",'
        '"2026-03-02 09:00:30","9999-01-01 00:00:00",210,180,"ANSWERED","DOCUMENTATION","1772413200.3",""',
    ]) + "\n"
    deliver(home, "stockholm_telco", DAY.isoformat(), "Master.csv", cdr)
    summary = load()
    assert summary["failed"] == []
    latest = latest_day()
    assert rejects("queue_log") == {
        3: "COMPLETECALLER calltime is above 24 hours (86,400 s): 90000",
        4: "RINGNOANSWER ringtime_ms is above 24 hours (86,400 s): 86400001",
        6: f"event_at is after {latest} (the run's UTC date + 1 day): 32503680000",
    }
    assert rejects("Master.csv") == {
        2: "duration is above 24 hours (86,400 s): 90030",
        3: f"end is after {latest} (the run's UTC date + 1 day): 9999-01-01 00:00:00",
    }
    assert query("select count(*) from raw.telephony_contacts where tenant_id = 'stockholm_telco'") == [(1,)]


def test_qa_hr_and_marketing_durations_above_a_day_are_rejected(home):
    deliver(home, "shanghai_bank", DAY.isoformat(), "offers.csv", "\n".join([
        "offer_id,campaign_id,contact_id,offered_at,is_shown,is_pitched,is_accepted,pitch_seconds",
        "o1,k1,c1,2026-03-02 10:01:00,yes,yes,no,0:01:30",
        "o2,k1,c2,2026-03-02 10:02:00,yes,yes,no,1e23",
        "o3,k1,c3,9999-03-02 10:02:00,yes,yes,no,5",
    ]) + "\n", feed="marketing")
    deliver(home, "shanghai_bank", DAY.isoformat(), "attendance.csv", "\n".join([
        "agent_id,work_date,status,absence_seconds",
        "a1,2026-03-02,sick,28800",
        "a2,2026-03-02,sick,86401",
    ]) + "\n", feed="hr")
    # Training spans days: at most 24 hours a day from started_on to completed_on (or the delivery day).
    deliver(home, "shanghai_bank", DAY.isoformat(), "training.csv", "\n".join([
        "agent_id,course_id,started_on,completed_on,training_seconds",
        "a1,onb-1,2026-02-17,2026-03-01,144000",  # 40 hours in 13 days
        "a2,onb-1,2026-03-01,2026-03-02,172801",  # 48 hours and a second in 2 days
        "a3,onb-1,2026-03-01,,172800",  # in progress: 2 days to the delivery day
        "a4,onb-1,2026-03-01,,1e23",
    ]) + "\n", feed="hr")
    summary = load()
    assert summary["failed"] == []
    assert rejects("offers.csv") == {
        3: "pitch_seconds is above 24 hours (86,400 s): 1e23",
        4: f"offered_at is after {latest_day()} (the run's UTC date + 1 day): 9999-03-02 10:02:00",
    }
    assert rejects("attendance.csv") == {3: "absence_seconds is above 24 hours (86,400 s): 86401"}
    per_day = "training_seconds is above 24 hours a day from started_on to completed_on (or the delivery day): "
    assert rejects("training.csv") == {3: per_day + "172801", 5: per_day + "1e23"}
    assert query("select agent_id from raw.hr_training order by 1") == [("a1",), ("a3",)]


def wide_csv(columns: int) -> str:
    header = ["contact_id", "queue_id", "entered_at", "outcome"] + [f"extra_{i}" for i in range(columns - 4)]
    rows = [[f"w{n}", "q1", "2026-03-02 09:00:00", "abandoned"] + ["x"] * (columns - 4) for n in range(3)]
    return "\n".join(",".join(row) for row in [header, *rows]) + "\n"


def test_a_file_with_more_than_1000_columns_fails_whole_and_the_others_load(home):
    deliver(home, "shanghai_bank", DAY.isoformat(), "wide.csv", wide_csv(10_000))
    # no header any format reads: the width rule still names why
    deliver(home, "shanghai_bank", DAY.isoformat(), "odd.csv", ",".join(f"c{i}" for i in range(1_001)) + "\n1\n")
    deliver(home, "stockholm_telco", DAY.isoformat(), "widest_allowed.csv", wide_csv(1_000))
    deliver(
        home, "variant_tenant", DAY.isoformat(), "contacts.csv", CONTACTS + "v1,q1,2026-03-02 09:00:00,abandoned,,,5,\n"
    )
    summary = load()
    assert sorted(summary["failed"]) == [
        "landing/telephony/shanghai_bank/2026-03-02/odd.csv: more than 1,000 columns (1,001): "
        "the header begins c0, c1, c2, …",
        "landing/telephony/shanghai_bank/2026-03-02/wide.csv: more than 1,000 columns (10,000): "
        "the header begins contact_id, queue_id, entered_at, …",
    ]
    assert query("select tenant_id, count(*) from raw.telephony_contacts group by 1 order by 1") == [
        ("stockholm_telco", 3), ("variant_tenant", 1)
    ]
    assert query("select status, error from raw.manifest where file_name = 'wide.csv'") == [
        ("failed", next(message for message in summary["failed"] if "wide.csv" in message))
    ]


@pytest.mark.parametrize("columns", [600, 1_000])
def test_a_wide_file_within_the_bound_loads_with_its_raw_text(home, columns):
    """600 columns failed with DuckDB's "Max expression depth" (the quoted raw text was one long || chain)."""
    wide = wide_csv(columns).replace("w2,q1,2026-03-02", "w2,q1,2026-02-30")
    deliver(home, "shanghai_bank", DAY.isoformat(), "wide.csv", wide)
    summary = load()
    assert summary["failed"] == []
    assert query("select count(*) from raw.telephony_contacts") == [(2,)]
    [(line, reason, raw_text)] = query("select line, reason, raw_text from raw.rejects")
    assert (line, reason) == (4, "entered_at is not a timestamp: 2026-02-30 09:00:00")
    assert raw_text == "w2,q1,2026-02-30 09:00:00,abandoned" + ",x" * (columns - 4)
