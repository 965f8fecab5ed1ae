"""Loading contact CSV deliveries: validation, quarantine, idempotence, clear failures."""

from __future__ import annotations

import datetime as dt

from callops import pipeline, pseudonym, warehouse
from tests.conftest import deliver

DAY = dt.date(2026, 3, 2)
HEADER = "contact_id,queue_id,entered_at,outcome,wait_seconds,talk_seconds,answered_at\n"


def load(run_id: str = "r1", start: dt.date = DAY, end: dt.date = DAY) -> dict:
    return pipeline.load_deliveries(run_id, start, end)


def query(sql: str, params: list | None = None) -> list[tuple]:
    con = warehouse.connect(read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_rows_load_and_bad_rows_are_quarantined_with_line_and_rule(home):
    deliver(
        home,
        "shanghai_bank",
        "2026-03-02",
        "contacts.csv",
        HEADER
        + "c1,q1,2026-03-02 09:00:00,answered,10,100,\n"
        + "c2,q1,yesterday,answered,10,100,\n"
        + "c3,q1,2026-03-02 09:10:00,hung_up,10,,\n"
        + "c4,q1,2026-03-02 09:20:00,answered,10,100,,surplus\n"
        + "c5,q1,2026-03-02 09:30:00,abandoned,-4,,\n"
        + "c6,,2026-03-02 09:40:00,abandoned,4,,\n"
        + "c7,q1,2026-02-30 09:50:00,abandoned,4,,\n"
        + "c8,q1,2026-03-02 10:00:00,answered,,,\n"
        + "c9,q1,2026-03-02 10:10:00,answered,,120,2026-03-02 10:09:00\n"
        + "c10,,2026-03-02 10:20:00,ivr_contained,,,\n",
    )
    summary = load()
    assert len(summary.pop("held")) == 1  # 8 of 10 rejected: the delivery gate holds it (test_delivery_gate.py)
    assert summary == {"files": 1, "failed": [], "rows_loaded": 2, "rows_rejected": 8}
    assert query("select contact_id from raw.telephony_contacts order by source_line") == [("c1",), ("c10",)]
    rejects = query("select line, reason, raw_text, file_name from raw.rejects order by line")
    reasons = {line: reason for line, reason, _, _ in rejects}
    assert reasons[3] == "entered_at is not a timestamp: yesterday"
    assert reasons[4].startswith("outcome 'hung_up' is not one of answered, abandoned")
    assert reasons[5].startswith("TOO MANY COLUMNS")
    assert reasons[6] == "wait_seconds is below 0: -4"
    assert reasons[7] == "queue_id is empty (only ivr_contained contacts have no queue)"
    assert reasons[8] == "entered_at is not a timestamp: 2026-02-30 09:50:00"
    assert reasons[9] == "an answered contact needs answered_at or wait_seconds"
    assert reasons[10] == "answered_at is before entered_at"
    assert all(name == "contacts.csv" for *_, name in rejects)
    assert rejects[0][2] == "c2,q1,yesterday,answered,10,100,"
    manifest = query("select status, rows_loaded, rows_rejected, file_format from raw.manifest")
    assert manifest == [("loaded", 2, 8, "callops_contact_csv")]


def test_timestamps_become_utc_with_or_without_offset_across_dst(home):
    # Stockholm leaves CET (+01) for CEST (+02) at 01:00 UTC on 2026-03-29.
    deliver(
        home,
        "stockholm_telco",
        "2026-03-29",
        "contacts.csv",
        """
        contact_id,queue_id,entered_at,outcome,wait_seconds
        before,q1,2026-03-29 01:30:00,abandoned,30
        after,q1,2026-03-29 03:30:00,abandoned,30
        offset,q1,2026-03-29T12:00:00+08:00,abandoned,30
        zulu,q1,2026-03-29T12:00:00Z,abandoned,30
        """,
    )
    load(start=dt.date(2026, 3, 29), end=dt.date(2026, 3, 29))
    rows = dict(query("select contact_id, strftime(entered_at, '%Y-%m-%d %H:%M') from raw.telephony_contacts"))
    assert rows == {
        "before": "2026-03-29 00:30",
        "after": "2026-03-29 01:30",
        "offset": "2026-03-29 04:00",
        "zulu": "2026-03-29 12:00",
    }


def test_same_file_twice_is_a_no_op_and_rerunning_a_day_never_duplicates(home):
    deliver(home, "shanghai_bank", "2026-03-02", "a.csv", HEADER + "c1,q1,2026-03-02 09:00:00,answered,10,100,\n")
    load("r1")
    second = load("r2")
    assert second["rows_loaded"] == 0
    assert query("select count(*) from raw.telephony_contacts") == [(1,)]
    assert query("select action from ops.run_files where run_id = 'r2'") == [("unchanged",)]


def test_corrected_redelivery_replaces_what_the_file_contributed(home):
    path = deliver(
        home,
        "shanghai_bank",
        "2026-03-02",
        "a.csv",
        HEADER + "c1,q1,2026-03-02 09:00:00,answered,10,100,\nc2,q1,bad,answered,10,100,\n",
    )
    load("r1")
    path.write_text(HEADER + "c1,q1,2026-03-02 09:00:00,answered,12,100,\nc2,q1,2026-03-02 09:05:00,answered,5,50,\n")
    load("r2")
    assert query("select contact_id, wait_seconds from raw.telephony_contacts order by 1") == [
        ("c1", 12.0), ("c2", 5.0)
    ]
    assert query("select count(*) from raw.rejects") == [(0,)]
    assert query("select action from ops.run_files where run_id = 'r2'") == [("replaced",)]


def test_whole_file_failures_name_the_file_and_rule_and_other_files_still_load(home):
    deliver(home, "shanghai_bank", "2026-03-02", "good.csv", HEADER + "c1,q1,2026-03-02 09:00:00,answered,10,100,\n")
    deliver(home, "unknown_brand", "2026-03-02", "x.csv", HEADER + "c1,q1,2026-03-02 09:00:00,answered,10,100,\n")
    deliver(home, "shanghai_bank", "2026-03-02", "no_outcome.csv", "contact_id,queue_id,entered_at\nc1,q1,2026-03-02\n")
    deliver(home, "shanghai_bank", "2026-03-02", "notes.txt", "these are not contacts\n")
    deliver(
        home, "shanghai_bank", "2026-03-02", "b.csv", HEADER + "c2,q1,2026-03-02 09:00:00,answered,10,100,\n",
        feed="crm",
    )
    summary = load()
    failed = "\n".join(summary["failed"])
    assert "landing/telephony/unknown_brand/2026-03-02/x.csv: tenant 'unknown_brand' is not in callops.yml" in failed
    assert "landing/telephony/shanghai_bank/2026-03-02/no_outcome.csv: missing required column(s) outcome" in failed
    assert "landing/telephony/shanghai_bank/2026-03-02/notes.txt: unknown format" in failed
    # a feed folder callops has no loader for is skipped whole, by name (callops.landing), not failed file by file
    assert "landing/crm" not in failed
    assert summary["landing_skipped"] == ["unknown feed (known: telephony, qa, hr, marketing): landing/crm"]
    assert summary["rows_loaded"] == 1
    statuses = dict(query("select file_name, status from raw.manifest"))
    assert statuses == {"good.csv": "loaded", "x.csv": "failed", "no_outcome.csv": "failed", "notes.txt": "failed"}


def test_missing_required_column_is_named(home):
    deliver(
        home, "shanghai_bank", "2026-03-02", "c.csv",
        "contact_id,queue_id,entered_at,outcome_code\nc1,q1,2026-03-02,answered\n",
    )
    summary = load()
    assert summary["failed"] == [
        "landing/telephony/shanghai_bank/2026-03-02/c.csv: missing required column(s) outcome for "
        "callops_contact_csv (header has: contact_id, queue_id, entered_at, outcome_code)"
    ]


def test_unknown_extra_column_loads_and_is_reported(home):
    deliver(
        home,
        "shanghai_bank",
        "2026-03-02",
        "a.csv",
        "contact_id,queue_id,entered_at,outcome,wait_seconds,skill_group\nc1,q1,2026-03-02 09:00:00,abandoned,3,vip\n",
    )
    summary = load()
    assert summary["rows_loaded"] == 1
    assert query("select extra_columns from raw.manifest") == [(["skill_group"],)]
    message = query("select message from ops.run_files")[0][0]
    assert "unknown column(s) kept in `extra`, not modelled: skill_group" in message
    assert query("select extra->>'skill_group' from raw.telephony_contacts") == [("vip",)]


def test_only_delivery_days_in_range_and_no_in_flight_files_are_loaded(home):
    row = HEADER + "c1,q1,2026-03-02 09:00:00,answered,10,100,\n"
    deliver(home, "shanghai_bank", "2026-03-01", "a.csv", row)
    deliver(home, "shanghai_bank", "2026-03-02", "a.csv", row)
    deliver(home, "shanghai_bank", "2026-03-02", "b.csv.partial", row)
    deliver(home, "shanghai_bank", "2026-03-03", "a.csv", row)
    deliver(home, "shanghai_bank", "not-a-day", "a.csv", row)
    summary = load()
    assert summary["files"] == 1
    assert query("select delivery_date, file_name from raw.manifest") == [(DAY, "a.csv")]


def test_common_export_variants_load(home):
    # Semicolon-delimited with CRLF line ends, clock-style durations, year-first slash dates.
    deliver(
        home,
        "shanghai_bank",
        "2026-03-02",
        "export.csv",
        "\ufeffContact_ID;Queue_ID;Entered_At;Outcome;Wait_Seconds;Talk_Seconds\r\n"
        + "c1;q1;2026/03/02 09:00:00;ANSWERED;0:00:42;0:03:05\r\n"
        + "c2;q1;2026/03/02 09:30;abandoned;15.5;\r\n"
        + "c3;q1;2026-03-02 10:00:00;abandoned;1:30;\r\n",
    )
    summary = load()
    assert summary["rows_loaded"] == 2
    rows = query(
        "select contact_id, outcome, wait_seconds, talk_seconds, strftime(entered_at, '%H:%M') "
        "from raw.telephony_contacts order by 1"
    )
    assert rows == [("c1", "answered", 42.0, 185.0, "01:00"), ("c2", "abandoned", 15.5, None, "01:30")]
    assert query("select line, reason from raw.rejects") == [(4, "wait_seconds is not a number of seconds: 1:30")]


def test_caller_numbers_are_pseudonymised_with_the_keyed_hmac(home, monkeypatch):
    import hashlib
    import hmac

    monkeypatch.setenv("CALLOPS_PSEUDONYM_KEY", "tenant-secret")
    deliver(
        home,
        "shanghai_bank",
        "2026-03-02",
        "a.csv",
        "contact_id,queue_id,entered_at,outcome,wait_seconds,caller_number\n"
        "c1,q1,2026-03-02 09:00:00,abandoned,3,+86 138-0000-0000\n"
        "c2,q1,2026-03-02 09:01:00,abandoned,3,+8613800000000\n"
        "c3,q1,2026-03-02 09:02:00,abandoned,3,Anonymous\n"
        "c4,q1,2026-03-02 09:03:00,abandoned,3,\n",
    )
    load()
    hashes = dict(query("select contact_id, caller_id_hash from raw.telephony_contacts"))
    tenant_key = hmac.new(b"tenant-secret", b"tenant:shanghai_bank", hashlib.sha256).digest()
    expected = hmac.new(tenant_key, b"+8613800000000", hashlib.sha256).hexdigest()
    assert hashes == {"c1": expected, "c2": expected, "c3": None, "c4": None}


def test_the_same_caller_has_unrelated_pseudonyms_in_two_tenants(home):
    row = (
        "contact_id,queue_id,entered_at,outcome,wait_seconds,caller_number\n"
        "c1,q1,2026-03-02 09:00:00,abandoned,3,+8613800000000\n"
    )
    deliver(home, "shanghai_bank", "2026-03-02", "a.csv", row)
    deliver(home, "stockholm_telco", "2026-03-02", "a.csv", row)
    load()
    hashes = dict(query("select tenant_id, caller_id_hash from raw.telephony_contacts"))
    assert len(set(hashes.values())) == 2 and None not in hashes.values()


def test_without_a_configured_key_one_is_generated_once_and_kept_private(home, monkeypatch):
    monkeypatch.delenv("CALLOPS_PSEUDONYM_KEY", raising=False)
    first = pseudonym.key()
    assert pseudonym.key() == first and len(first) == 64
    assert pseudonym.key_path().stat().st_mode & 0o777 == 0o600


def test_blank_lines_do_not_shift_line_numbers(home):
    deliver(
        home,
        "shanghai_bank",
        "2026-03-02",
        "a.csv",
        HEADER + "c1,q1,2026-03-02 09:00:00,answered,10,100,\n\n\nc2,q1,yesterday,answered,10,100,\n"
        + "c3,q1,2026-03-02 09:10:00,answered,10,100,,extra\n\nc4,q1,2026-03-02 09:20:00,answered,10,100,\n",
    )
    load()
    assert query("select contact_id, source_line from raw.telephony_contacts order by 1") == [("c1", 2), ("c4", 8)]
    assert query("select line, raw_text from raw.rejects order by line") == [
        (5, "c2,q1,yesterday,answered,10,100,"),
        (6, "c3,q1,2026-03-02 09:10:00,answered,10,100,,extra"),
    ]


def test_files_loaded_at_once_give_the_rows_one_at_a_time_gives(home, monkeypatch):
    """CALLOPS_LOAD_WORKERS files load at once, each in its own transaction: the same rows, rejects and
    outcomes as one file at a time, a failed file among them included."""
    for day in ("2026-03-02", "2026-03-03", "2026-03-04"):
        for tenant in ("shanghai_bank", "stockholm_telco"):
            deliver(
                home, tenant, day, "contacts.csv",
                HEADER
                + f"{tenant}-{day}-1,q1,{day} 09:00:00,answered,10,100,\n"
                + f"{tenant}-{day}-2,q1,{day} 09:10:00,hung_up,10,,\n",
            )  # fmt: skip
    deliver(home, "shanghai_bank", "2026-03-03", "broken.csv", "not,a,contact,export\n1,2,3,4\n")
    tables = ("raw.telephony_contacts", "raw.rejects", "raw.manifest", "ops.run_files", "ops.changed_partitions")

    def loaded(workers: str) -> tuple:
        monkeypatch.setenv("CALLOPS_LOAD_WORKERS", workers)
        summary = load(f"w{workers}", DAY, DAY + dt.timedelta(days=2))
        rows = {
            table: sorted(map(repr, query(f"select * exclude (loaded_at) from {table}")))
            if table == "raw.telephony_contacts"
            else query(f"select count(*) from {table}")
            for table in tables
        }
        return summary, rows

    at_once = loaded("2")
    for table in tables:
        query_clear = warehouse.connect()
        query_clear.execute(f"delete from {table}")
        query_clear.close()
    one_at_a_time = loaded("1")
    assert at_once[0]["files"] == one_at_a_time[0]["files"] == 7
    assert len(at_once[0]["failed"]) == 1 and "broken.csv" in at_once[0]["failed"][0]
    assert at_once[0]["rows_loaded"] == one_at_a_time[0]["rows_loaded"] == 6
    assert at_once[0]["rows_rejected"] == one_at_a_time[0]["rows_rejected"] == 6
    assert at_once[1] == one_at_a_time[1]
