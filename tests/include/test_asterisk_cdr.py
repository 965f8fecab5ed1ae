"""Asterisk CDR (Master.csv and the SQL export) into raw.telephony_contacts: layouts, mapping, quarantine, KPIs.

Fixtures are in tests/fixtures/cdr/; every expected value below is worked out by hand
from those lines (shanghai_bank is UTC+08:00, so local 09:00 is 01:00 UTC).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from callops import dbt, pipeline, warehouse
from callops.load import asterisk_cdr
from callops.load.base import Head
from tests.conftest import deliver

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cdr"
DAY = "2024-06-03"
TENANT = "shanghai_bank"
COLUMNS = (
    "contact_id, queue_id, direction, outcome, agent_id, caller_number, "
    "strftime(entered_at, '%H:%M:%S'), strftime(answered_at, '%H:%M:%S'), strftime(ended_at, '%H:%M:%S'), "
    "talk_seconds, wait_seconds, hold_seconds, after_call_work_seconds, is_transferred, source_line"
)


def deliver_fixture(home: Path, fixture: str, name: str | None = None, day: str = DAY) -> Path:
    return deliver(home, TENANT, day, name or fixture, (FIXTURES / fixture).read_text(encoding="utf-8"))


def load(start: str = DAY, end: str = DAY, run_id: str = "r1") -> dict:
    return pipeline.load_deliveries(run_id, dt.date.fromisoformat(start), dt.date.fromisoformat(end))


def query(sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connection(read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def contacts(file_name: str) -> dict[str, tuple]:
    rows = query(
        f"select {COLUMNS} from raw.telephony_contacts t inner join raw.manifest m using (file_id) "
        "where m.file_name = ? order by source_line",
        [file_name],
    )
    return {f"{row[0]}|{row[1]}": row[1:] for row in rows}


def head(text: str, name: str = "Master.csv") -> Head:
    return Head(name, text, "utf-8")


def test_detects_master_csv_and_the_sql_export_but_not_other_files():
    example = (FIXTURES / "Master.csv").read_text().splitlines()[0]
    assert asterisk_cdr.detect(head(example + "\n")) == 1000
    assert asterisk_cdr.detect(head((FIXTURES / "cdr-export.csv").read_text(), "cdr.csv")) == 1000
    contacts_csv = "contact_id,queue_id,entered_at,outcome\nc1,q1,2026-03-02 09:00:00,answered\n"
    assert asterisk_cdr.detect(head(contacts_csv)) == 0
    assert asterisk_cdr.detect(head("1717405200|1717405200.1|sales|NONE|ENTERQUEUE||1001|1\n")) == 0
    assert asterisk_cdr.detect(head('{"ContactId": "x"}\n')) == 0


@pytest.mark.parametrize(
    ("fixture", "columns"),
    [
        ("Master-nouid.csv", asterisk_cdr.BASE_COLUMNS),
        ("Master-uniqueid.csv", (*asterisk_cdr.BASE_COLUMNS, "uniqueid")),
        ("Master-userfield.csv", (*asterisk_cdr.BASE_COLUMNS, "userfield")),
        ("Master.csv", (*asterisk_cdr.BASE_COLUMNS, "uniqueid", "userfield")),
        ("Master-newcdr-only.csv", (*asterisk_cdr.BASE_COLUMNS, "peeraccount", "linkedid", "sequence")),
        ("Master-newcdr.csv", (*asterisk_cdr.BASE_COLUMNS, "uniqueid", "userfield", "peeraccount", "linkedid",
                               "sequence")),
    ],
)  # fmt: skip
def test_the_column_set_is_told_by_the_field_count(fixture, columns):
    found = asterisk_cdr.layout(head((FIXTURES / fixture).read_text()))
    assert found is not None and not found.header
    assert found.columns == columns


def test_master_csv_maps_each_cdr_to_a_stint_or_skips_it(home):
    deliver_fixture(home, "Master.csv")
    summary = load()
    assert summary["failed"] == [] and summary["rows_rejected"] == 0
    rows = contacts("Master.csv")
    assert rows == {
        # The docs/formats.md example: an internal phone calling queue sales, answered by PJSIP/600 after 30 s.
        "1717405200.1|sales": ("sales", "inbound", "answered", "PJSIP/600", "1001",
                               "01:00:00", "01:00:30", "01:03:30", 180.0, None, None, None, None, 1),
        # "" inside clid; lastdata's first comma field is the queue.
        "1717408800.5|support": ("support", "inbound", "answered", "SIP/201", "+8613800000002",
                                 "02:00:00", "02:00:45", "02:05:45", 300.0, None, None, None, None, 2),
        # Empty unquoted answer: the caller hung up in the queue.
        "1717412400.7|sales": ("sales", "inbound", "abandoned", None, "13800000003",
                               "03:00:00", None, "03:01:10", None, None, None, None, None, 3),
        # Two forks of one queue call (member 101 rang, 102 answered): one stint, the answered fork.
        "1717416000.9|sales": ("sales", "inbound", "answered", "PJSIP/102", "13800000004",
                               "04:00:00", "04:00:20", "04:02:20", 120.0, None, None, None, None, 5),
        # Answered by Playback, never queued, never reached a phone.
        "1717419600.11|None": (None, "inbound", "ivr_contained", None, "13800000006",
                               "05:00:00", None, "05:00:31", None, None, None, None, None, 6),
        "1717423200.13|sales": ("sales", "inbound", "abandoned", None, "13800000007",
                                "06:00:00", None, "06:00:05", None, None, None, None, None, 7),
        # Outbound from an internal context to an external number: the agent is the calling channel.
        "1717426800.15|None": (None, "outbound", "answered", "PJSIP/1002", "13800000008",
                               "07:00:00", "07:00:10", "07:01:10", 60.0, None, None, None, None, 8),
        "1717427400.17|None": (None, "outbound", "abandoned", None, "13800000009",
                               "07:10:00", None, "07:10:08", None, None, None, None, None, 9),
        "1717428000.19|None": (None, "outbound", "abandoned", None, "13800000010",
                               "07:20:00", None, "07:20:01", None, None, None, None, None, 10),
        "1717428600.21|None": (None, "outbound", "abandoned", None, "13800000011",
                               "07:30:00", None, "07:30:02", None, None, None, None, None, 11),
    }  # fmt: skip
    # Internal call (line 12), agent-side AppQueue leg (13), direct dial to a phone (14): not loaded.
    message = query("select message from ops.run_files")[0][0]
    assert "1 internal extension-to-extension call(s)" in message
    assert "1 agent-side leg(s)" in message
    assert "1 inbound call(s) dialled straight to a phone without a queue" in message
    assert "1 forked CDR(s) merged" in message
    assert query("select distinct source_format from raw.telephony_contacts") == [("asterisk_cdr",)]
    assert query("select file_format, rows_loaded, rows_rejected from raw.manifest") == [("asterisk_cdr", 10, 0)]


def test_caller_numbers_are_hashed_and_withheld_or_extension_numbers_kept_apart(home):
    deliver_fixture(home, "Master.csv")
    load()
    hashes = dict(query("select contact_id, caller_id_hash from raw.telephony_contacts"))
    assert len(hashes["1717408800.5"]) == 64
    assert hashes["1717412400.7"] != hashes["1717423200.13"]  # different callers, different pseudonyms


def test_contact_id_is_linkedid_else_uniqueid_else_a_stable_hash(home):
    deliver_fixture(home, "Master-nouid.csv")
    deliver_fixture(home, "Master-userfield.csv")
    deliver_fixture(home, "Master-uniqueid.csv")
    deliver_fixture(home, "Master-newcdr.csv")
    deliver_fixture(home, "Master-newcdr-only.csv")
    summary = load()
    assert summary["failed"] == [] and summary["rows_rejected"] == 0
    expected_hash = "cdr-" + hashlib.sha256(b"2024-06-03 09:00:00|PJSIP/1001-00000001|1001").hexdigest()[:24]
    assert list(contacts("Master-nouid.csv")) == [f"{expected_hash}|sales"]
    userfield = contacts("Master-userfield.csv")
    assert list(userfield) == [
        f"{expected_hash}|sales",
        "cdr-" + hashlib.sha256(b"2024-06-03 09:10:00|PJSIP/1003-00000003|1003").hexdigest()[:24] + "|sales",
    ]
    assert [row[2] for row in userfield.values()] == ["answered", "abandoned"]
    assert list(contacts("Master-uniqueid.csv")) == ["1717405200.1|sales"]
    # newcdrcolumns: both legs of a transferred call share the linkedid, one stint per queue.
    newcdr = contacts("Master-newcdr.csv")
    assert newcdr == {
        "1717405200.20|sales": ("sales", "inbound", "answered", "PJSIP/101", "13800000201",
                                "01:00:00", "01:00:15", "01:02:15", 120.0, None, None, None, None, 1),
        "1717405200.20|support": ("support", "inbound", "answered", "PJSIP/201", "13800000201",
                                  "01:02:15", "01:02:45", "01:05:45", 180.0, None, None, None, None, 2),
    }  # fmt: skip
    assert list(contacts("Master-newcdr-only.csv")) == ["1717405200.30|sales"]


def test_times_are_utc_when_the_file_name_says_gmt_or_utc(home):
    deliver_fixture(home, "Master-gmt.csv")
    deliver_fixture(home, "Master-gmt.csv", name="Master_UTC.csv")
    deliver_fixture(home, "Master-gmt.csv", name="Master-output.csv")  # "utc" inside a word: local time
    load()
    entered = dict(query(
        "select m.file_name, strftime(t.entered_at, '%H:%M') from raw.telephony_contacts t "
        "inner join raw.manifest m using (file_id)"
    ))  # fmt: skip
    assert entered == {"Master-gmt.csv": "09:00", "Master_UTC.csv": "09:00", "Master-output.csv": "01:00"}
    assert asterisk_cdr.times_are_utc("master.csv", object()) is False


def test_the_sql_export_with_a_header_derives_answer_and_end(home):
    deliver_fixture(home, "cdr-export.csv")
    summary = load()
    assert summary["failed"] == [] and summary["rows_loaded"] == 2
    assert contacts("cdr-export.csv") == {
        "1717405200.1|sales": ("sales", "inbound", "answered", "PJSIP/600", "1001",
                               "01:00:00", "01:00:30", "01:03:30", 180.0, None, None, None, None, 2),
        "1717412400.7|sales": ("sales", "inbound", "abandoned", None, "13800000003",
                               "03:00:00", None, "03:01:10", None, None, None, None, None, 3),
    }  # fmt: skip
    extra = query("select extra->>'did', extra->>'recordingfile' from raw.telephony_contacts order by source_line")
    assert extra == [("4001", "q-600-1001.wav"), ("4001", None)]
    assert query("select extra_columns from raw.manifest") == [(["did", "recordingfile"],)]


def test_malformed_lines_are_quarantined_with_line_raw_text_and_reason(home):
    deliver_fixture(home, "Master.csv.1", day="2024-06-04")
    summary = load("2024-06-04", "2024-06-04")
    assert summary["failed"] == []
    assert (summary["rows_loaded"], summary["rows_rejected"]) == (2, 6)
    assert [row[0] for row in contacts("Master.csv.1").values()] == ["sales", "sales"]
    assert query("select source_line from raw.telephony_contacts order by 1") == [(1,), (8,)]
    rejects = {line: (reason, raw) for line, reason, raw in query("select line, reason, raw_text from raw.rejects")}
    lines = (FIXTURES / "Master.csv.1").read_text().splitlines()
    assert sorted(rejects) == [3, 4, 5, 6, 7, 9]
    assert rejects[3] == ("MISSING COLUMNS: Expected Number of Columns: 18 Found: 2", '"a","b"')
    assert rejects[4] == ("start is not a timestamp: 2024-06-31 09:10:00", lines[3])
    assert rejects[5] == ("duration is negative: -5", lines[4])
    assert rejects[6] == (
        "disposition 'HUNG UP' is not one of ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION, CANCEL",
        lines[5],
    )
    assert rejects[7][0] == "TOO MANY COLUMNS: Expected Number of Columns: 18 Found: 19"
    assert rejects[7][1] == lines[6]
    assert rejects[9] == ("end is before start", lines[8])


@pytest.mark.dbt
def test_an_overlapping_redelivery_counts_each_call_once_and_kpis_are_right(home):
    deliver_fixture(home, "Master.csv")
    # The next rotation repeats the docs/formats.md example and the abandoned call (same uniqueid).
    lines = (FIXTURES / "Master.csv").read_text().splitlines()
    deliver(home, TENANT, DAY, "Master.csv.overlap", "\n".join([lines[0], lines[2]]) + "\n")
    load()
    result = dbt.run_models()
    assert result.success, result.failures
    with warehouse.connection(read_only=True) as con:
        row = con.execute(
            "select offered_count, answered_count, abandoned_count, ivr_contained_count, answer_rate, "
            "aht_seconds, asa_seconds, service_level_rate, short_abandoned_count, answered_within_sl_count, "
            "abandon_rate from marts.rpt_daily_kpis where tenant_id = ? and kpi_date = ?",
            [TENANT, dt.date(2024, 6, 3)],
        ).fetchone()
    # Inbound queue contacts: answered 1717405200.1, 1717408800.5, 1717416000.9; abandoned 1717412400.7,
    # 1717423200.13. IVR: 1717419600.11. Outbound calls are not offered. AHT = (180 + 300 + 120) / 3.
    offered, answered, abandoned, ivr, answer_rate, aht, *wait_based = row
    assert (offered, answered, abandoned, ivr) == (5, 3, 2, 1)
    assert answer_rate == pytest.approx(0.6)
    assert aht == pytest.approx(200.0)
    # A CDR has no queue wait: ASA, service level, short abandons (and so the abandon rate) are null, not a guess.
    assert wait_based == [None, None, None, None, None]


def test_crlf_line_ends_and_a_line_that_is_not_utf8_keep_line_numbers_right(home):
    lines = (FIXTURES / "Master.csv").read_text().splitlines()
    broken = lines[1].replace("Wang", "W\xffng").encode("latin-1", "replace")
    folder = home / "landing" / "telephony" / TENANT / DAY
    folder.mkdir(parents=True)
    (folder / "Master.csv").write_bytes(b"\r\n".join([lines[0].encode(), broken, lines[2].encode()]) + b"\r\n")
    summary = load()
    assert (summary["rows_loaded"], summary["rows_rejected"]) == (2, 1)
    assert query("select contact_id, source_line from raw.telephony_contacts order by 2") == [
        ("1717405200.1", 1),
        ("1717412400.7", 3),
    ]
    assert query("select line, reason like 'INVALID ENCODING%' from raw.rejects") == [(2, True)]


def test_the_tenant_setting_cdr_usegmtime_reads_any_cdr_as_utc(home):
    config = home.parent / "callops.yml"
    config.write_text(
        config.read_text().replace("timezone: Asia/Shanghai", "timezone: Asia/Shanghai\n    cdr_usegmtime: true")
    )
    deliver_fixture(home, "Master-gmt.csv", name="Master.csv")
    load()
    assert query("select strftime(entered_at, '%H:%M') from raw.telephony_contacts limit 1") == [("09:00",)]
