"""Amazon Connect CTR (Firehose JSON) into raw.telephony_contacts: mapping, legs, at-least-once delivery, quarantine.

Fixtures are in tests/fixtures/connect/, named as Firehose names its objects (no
extension). Every expected value is worked out by hand from those records.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pytest

from callops import dbt, pipeline, warehouse
from callops.load import connect_ctr
from callops.load.base import Head
from tests.conftest import deliver

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "connect"
SAMPLE = "ctr-sample-2022-04-08-15-03-02-7b0e1d52-4a3c-4f7e-8d21-5c9a0b6e3f14"
LINES = "my-ctr-stream-1-2024-06-03-09-15-22-3f1c2a6e-6b1d-4c55-9f0e-2a7d3c1b5e90"
CONCATENATED = "my-ctr-stream-1-2024-06-03-09-20-07-8e2b4c1d-0a9f-4d3b-b6e5-1f2a3b4c5d6e"
LATER = "my-ctr-stream-1-2024-06-03-09-45-51-c4d5e6f7-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
DAY = "2024-06-03"
TENANT = "shanghai_bank"
COLUMNS = (
    "queue_id, direction, outcome, segment, is_transferred, agent_id, caller_number, "
    "wait_seconds, talk_seconds, hold_seconds, after_call_work_seconds, "
    "strftime(entered_at, '%H:%M:%S'), strftime(answered_at, '%H:%M:%S'), strftime(ended_at, '%H:%M:%S'), "
    "strftime(source_updated_at, '%H:%M:%S'), source_line"
)


def deliver_fixture(home: Path, fixture: str, day: str = DAY) -> Path:
    return deliver(home, TENANT, day, fixture, (FIXTURES / fixture).read_text(encoding="utf-8"))


def load(start: str = DAY, end: str = DAY) -> dict:
    return pipeline.load_deliveries("r1", dt.date.fromisoformat(start), dt.date.fromisoformat(end))


def query(sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connection(read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def contacts(file_name: str) -> dict[str, tuple]:
    """contact_id|extra ContactId -> the mapped columns, for one delivered file."""
    rows = query(
        f"select contact_id || '|' || (extra->>'ContactId'), {COLUMNS} from raw.telephony_contacts "
        "inner join raw.manifest using (file_id) where file_name = ? order by source_line",
        [file_name],
    )
    return {row[0]: row[1:] for row in rows}


def test_detects_ctr_json_by_content_not_by_name():
    sample = (FIXTURES / SAMPLE).read_text()
    assert connect_ctr.detect(Head(SAMPLE, sample, "utf-8")) == 1000
    assert connect_ctr.detect(Head("x", "\n  " + (FIXTURES / CONCATENATED).read_text()[:300], "utf-8")) == 1000
    assert connect_ctr.detect(Head("a.json", '{"id": 1}\n', "utf-8")) == 0
    assert connect_ctr.detect(Head("contacts.csv", "contact_id,queue_id\nContactId,q\n", "utf-8")) == 0


def test_the_complete_sample_record_maps_field_by_field(home):
    # docs/formats.md's typical record: inbound, 7 s in BasicQueue, 33 s with admin1, 32 s after-contact work.
    deliver_fixture(home, SAMPLE, day="2022-04-08")
    summary = load("2022-04-08", "2022-04-08")
    assert summary["failed"] == [] and (summary["rows_loaded"], summary["rows_rejected"]) == (1, 0)
    assert contacts(SAMPLE) == {
        "15a5cf14-3212-45a1-9f86-a8e97db8afaf|15a5cf14-3212-45a1-9f86-a8e97db8afaf": (
            "BasicQueue", "inbound", "answered", None, False, "admin1", "+17208401003",
            7.0, 33.0, 0.0, 32.0, "15:00:42", "15:00:49", "15:01:22", "15:03:02", 1,
        )
    }  # fmt: skip
    assert query("select file_format from raw.manifest") == [("amazon_connect_ctr",)]
    assert query("select strftime(entered_at, '%Y-%m-%d') from raw.telephony_contacts") == [("2022-04-08",)]
    assert len(query("select caller_id_hash from raw.telephony_contacts")[0][0]) == 64


def test_newline_delimited_records_map_to_stints_and_broken_ones_are_quarantined(home):
    deliver_fixture(home, LINES)
    summary = load()
    assert summary["failed"] == []
    assert (summary["rows_loaded"], summary["rows_rejected"]) == (11, 4)
    assert contacts(LINES) == {
        "c-ans|c-ans": ("Sales", "inbound", "answered", "vip", False, "alice", "+8613800000001",
                        15.0, 300.0, 20.0, 40.0, "01:00:10", "01:00:25", "01:05:25", "01:06:10", 1),
        # Abandoned: ended when it left the queue; no agent, no talk.
        "c-ab|c-ab": ("Sales", "inbound", "abandoned", None, None, None, "+8613800000002",
                      30.0, None, None, None, "02:00:10", None, "02:00:40", "02:01:00", 2),
        # No Queue.Name: the last part of Queue.ARN. No DisconnectReason: abandoned.
        "c-short|c-short": ("q-sales", "inbound", "abandoned", None, None, None, "anonymous",
                            3.0, None, None, None, "02:10:00", None, "02:10:03", "02:11:00", 3),
        # Never queued: contained in the IVR, entered at initiation.
        "c-ivr|c-ivr": (None, "inbound", "ivr_contained", None, None, None, "+8613800000004",
                        None, None, None, None, "03:00:00", None, "03:01:00", "03:01:30", 4),
        # A transfer: two legs, one contact (InitialContactId), a stint per queue.
        "t-1|t-1": ("Sales", "inbound", "answered", None, True, "bob", "+8613800000005",
                    10.0, 120.0, 0.0, 0.0, "04:00:05", "04:00:15", "04:02:15", "04:03:00", 5),
        "t-1|t-2": ("Support", "inbound", "answered", None, False, "carol", "+8613800000005",
                    30.0, 200.0, 10.0, 30.0, "04:02:16", "04:02:46", "04:06:06", "04:07:00", 6),
        # Delivered twice in the file: the later LastUpdateTimestamp (line 7, listed first) wins.
        "c-dup|c-dup": ("Sales", "inbound", "answered", "gold", False, "alice", "+8613800000006",
                        5.0, 100.0, 0.0, 45.0, "05:00:00", "05:00:05", "05:01:45", "05:04:00", 7),
        # The flow disconnected the queued caller: a timeout, not an abandon.
        "c-to|c-to": ("Sales", "inbound", "timeout", None, None, None, "+8613800000007",
                      300.0, None, None, None, "05:30:00", None, "05:35:00", "05:36:00", 9),
        # Moved to another queue by the flow: overflow, then answered in Support.
        "q-1|q-1": ("Sales", "inbound", "overflow", None, None, None, "+8613800000008",
                    30.0, None, None, None, "06:00:00", None, "06:00:30", "06:01:00", 10),
        "q-1|q-2": ("Support", "inbound", "answered", None, False, "dave", "+8613800000008",
                    10.0, 60.0, 0.0, 0.0, "06:00:31", "06:00:41", "06:01:41", "06:02:00", 11),
        "o-1|o-1": ("Outbound", "outbound", "answered", None, False, "alice", "+8613800000009",
                    None, 120.0, 0.0, 5.0, "06:29:55", "06:30:00", "06:32:00", "06:33:00", 12),
    }  # fmt: skip
    assert query("select caller_id_hash is null from raw.telephony_contacts where contact_id = 'c-short'") == [(True,)]
    lines = (FIXTURES / LINES).read_text().splitlines()
    rejects = {line: (reason, raw) for line, reason, raw in query("select line, reason, raw_text from raw.rejects")}
    assert rejects == {
        14: ("not valid JSON", lines[13]),
        15: ("Queue.EnqueueTimestamp is not a timestamp: 2024-06-03T25:00:00Z", lines[14]),
        16: ("ContactId is missing", lines[15]),
        17: ("Queue.Duration is not a number of seconds >= 0: -4", lines[16]),
    }
    message = query("select message from ops.run_files")[0][0]
    assert "1 non-voice contact(s)" in message  # chat-1, line 13
    assert "1 earlier version(s) of a contact in this file superseded" in message


def test_concatenated_records_are_split_and_numbered_by_ordinal(home):
    deliver_fixture(home, CONCATENATED)
    summary = load()
    assert summary["failed"] == []
    assert (summary["rows_loaded"], summary["rows_rejected"]) == (3, 1)
    rows = contacts(CONCATENATED)
    assert list(rows) == ["cat-1|cat-1", "cat-2|cat-2", "c-ans|c-ans"]
    # Fractional seconds are accepted.
    assert query(
        "select strftime(entered_at, '%H:%M:%S.%g'), strftime(ended_at, '%H:%M:%S.%g') "
        "from raw.telephony_contacts where contact_id = 'cat-1'"
    ) == [("06:10:00.500", "06:11:38.500")]
    assert rows["cat-2|cat-2"][2] == "abandoned" and rows["c-ans|c-ans"][-1] == 4
    reject = query("select line, reason, raw_text from raw.rejects")
    assert reject == [
        (
            3,
            "record 3 (line 1): not valid JSON",
            '{"AWSContactTraceRecordFormatVersion": "2017-03-10", "ContactId": "cat-broken", "Channel": "VOICE", '
            '"Queue": {"Name": "Sales", "EnqueueTimestamp": }',
        )
    ]


def test_a_gzipped_firehose_object_loads(home):
    folder = home / "landing" / "telephony" / TENANT / DAY
    folder.mkdir(parents=True)
    (folder / LATER).write_bytes(gzip.compress((FIXTURES / LATER).read_bytes()))
    summary = load()
    assert summary["failed"] == [] and summary["rows_loaded"] == 1
    assert query("select file_format, encoding from raw.manifest") == [("amazon_connect_ctr", "utf-8")]


@pytest.mark.dbt
def test_latest_version_wins_across_files_and_kpis_are_right(home):
    # LINES quarantines 4 of its 15 records on purpose; let the delivery gate pass it (its own tests
    # are in test_delivery_gate.py) so the figures below count the 11 accepted ones.
    config = home.parent / "callops.yml"
    config.write_text(
        config.read_text().replace("name: Shanghai test bank", "name: Shanghai test bank\n    reject_threshold: 0.5")
    )
    deliver_fixture(home, LINES)
    deliver_fixture(home, CONCATENATED)  # an older copy of c-ans (no hold, no wrap-up)
    deliver_fixture(home, LATER)  # a newer c-dup (50 s wrap-up)
    load()
    result = dbt.run_models()
    assert result.success, result.failures
    with warehouse.connection(read_only=True) as con:
        staged = con.execute(
            "select contact_id, hold_seconds, after_call_work_seconds from staging.stg_telephony__contacts "
            "where contact_id in ('c-ans', 'c-dup') order by 1"
        ).fetchall()
        row = con.execute(
            "select offered_count, answered_count, abandoned_count, short_abandoned_count, ivr_contained_count, "
            "answered_within_sl_count, answer_rate, service_level_rate, abandon_rate, asa_seconds, aht_seconds "
            "from marts.rpt_daily_kpis where tenant_id = ? and kpi_date = ?",
            [TENANT, dt.date(2024, 6, 3)],
        ).fetchone()
    assert staged == [("c-ans", 20.0, 40.0), ("c-dup", 0.0, 50.0)]
    # Offered (queued inbound contacts): c-ans c-ab c-short t-1 c-dup c-to q-1 cat-1 cat-2 = 9.
    # Answered: c-ans (wait 15) t-1 (10) c-dup (5) q-1 (30 + 10) cat-1 (8) = 5; within 20 s: 4.
    # Abandoned: c-ab (30) c-short (3: short, < 5 s) cat-2 (12). IVR: c-ivr. o-1 is outbound.
    # SL 4 / (9 - 1); abandon (3 - 1) / (9 - 1); ASA 78 / 5;
    # AHT (300+20+40) + (120 + 200+10+30) + (100+50) + 60 + (90+10) = 1030 / 5.
    assert row == pytest.approx((9, 5, 3, 1, 1, 4, 5 / 9, 0.5, 0.25, 15.6, 206.0))


def test_byte_order_mark_and_crlf_line_ends_are_tolerated(home):
    folder = home / "landing" / "telephony" / TENANT / DAY
    folder.mkdir(parents=True)
    record = (
        '{"ContactId": "bom", "Channel": "VOICE", "InitiationMethod": "INBOUND", '
        '"InitiationTimestamp": "2024-06-03T01:00:00Z", "Queue": null}'
    )
    second = record.replace("bom", "crlf")
    (folder / "ctr-crlf").write_bytes(b"\xef\xbb\xbf" + record.encode() + b"\r\n" + second.encode() + b"\r\n")
    summary = load()
    assert (summary["rows_loaded"], summary["rows_rejected"]) == (2, 0)
    assert query("select contact_id, outcome from raw.telephony_contacts order by 1") == [
        ("bom", "ivr_contained"),
        ("crlf", "ivr_contained"),
    ]


def test_a_line_that_is_not_utf8_is_quarantined_and_the_rest_loads(home):
    fixture = next(FIXTURES.glob("my-ctr-stream-1-2024-06-03-09-15-22-*"))
    record = json.loads(fixture.read_text(encoding="utf-8").splitlines()[0])
    record["Attributes"] = {**(record.get("Attributes") or {}), "note": "Zoë"}  # UTF-8 text before the bad line
    first = json.dumps(record, ensure_ascii=False)
    path = deliver(home, TENANT, DAY, "my-ctr-stream-1-2024-06-03-09-20-00-mixed", "")
    path.write_bytes((first + "\n").encode() + '{"ContactId": "名字"}\n'.encode("gbk"))
    summary = load()
    assert summary["failed"] == [] and summary["rows_rejected"] == 1 and summary["rows_loaded"] == 1
    assert query("select line, reason like 'INVALID ENCODING%' from raw.rejects") == [(2, True)]
