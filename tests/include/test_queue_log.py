"""Asterisk queue_log (docs/formats.md "Asterisk queue_log"): detection, loading, quarantine, stint assembly and KPIs.

The sample files in tests/fixtures/queue_log/ are hand-written; every expected
figure below is computed by hand from them (epoch 1772413200 is 2026-03-02
01:00:00 UTC, 09:00 in Shanghai).

- all_verbs/queue_log: every verb app_queue writes, system lines, member and
  pause events (interface and member-name agents), a FreePBX DID line,
  log_caller_id_name's fourth ENTERQUEUE field, custom verbs, a multi-stint
  overflow call (sales EXITWITHTIMEOUT, then support CONNECT), a call still
  in the queue.
- rotation/: a rotated file and the next one, re-exported with three lines of
  overlap; call 1772499800.2 starts in the first and ends in the second.
- realtime/: the realtime/DB table export (data1..data5 with an id column;
  one data column, quoted).
- malformed_queue_log: one broken line per rule.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import hmac
import json
import shutil
from pathlib import Path

import pytest

from callops import dbt, pipeline, pseudonym, warehouse
from callops.load import queue_log, registry
from callops.load.base import Head
from tests.conftest import TEST_CONFIG, deliver

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "queue_log"
DAY = dt.date(2026, 3, 2)
KPI_COLUMNS = (
    "offered_count, answered_count, abandoned_count, short_abandoned_count, answered_within_sl_count, "
    "answer_rate, service_level_rate, abandon_rate, asa_seconds, aht_seconds"
)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def land(home: Path, tenant: str, day: str, fixture: str, name: str | None = None) -> Path:
    """Copy a fixture file into landing/telephony/<tenant>/<day>/ as a delivery would."""
    source = FIXTURES / fixture
    folder = home / "landing" / "telephony" / tenant / day
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (name or source.name)
    shutil.copyfile(source, target)
    return target


def load(start: dt.date = DAY, end: dt.date | None = None, run_id: str = "r1") -> dict:
    return pipeline.load_deliveries(run_id, start, end or start)


def build() -> None:
    result = dbt.run_models()
    assert result.success, result.failures or result.error


def query(sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connection(read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def caller_hash(number: str, tenant: str = "shanghai_bank") -> str:
    return hmac.new(pseudonym.tenant_key(tenant), number.encode(), hashlib.sha256).hexdigest()


STINT_COLUMNS = (
    "contact_id, queue_id, outcome, agent_id, wait_seconds, talk_seconds, is_transferred, "
    "entered_at, answered_at, ended_at"
)


def stints(tenant: str) -> dict[tuple[str, str], tuple]:
    rows = query(
        f"select {STINT_COLUMNS} from staging.base_asterisk__queue_log_stints where tenant_id = ? order by entered_at",
        [tenant],
    )
    return {(row[0], row[1]): row[2:] for row in rows}


def kpis(tenant: str) -> dict[dt.date, tuple]:
    rows = query(
        f"select kpi_date, {KPI_COLUMNS} from marts.rpt_daily_kpis where tenant_id = ? order by kpi_date", [tenant]
    )
    return {row[0]: row[1:] for row in rows}


# --- detection ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["queue_log", "queue_log.1", "queue_log-20240603", "export.txt"])
def test_the_content_not_the_name_identifies_a_queue_log(name):
    text = (FIXTURES / "all_verbs" / "queue_log").read_text()
    head = Head(name, text, "utf-8")
    assert queue_log.detect(head) == 1000
    assert registry.choose("telephony", head) is queue_log


def test_detection_of_the_realtime_export_and_of_other_files():
    realtime = (FIXTURES / "realtime" / "queue_log.csv").read_text()
    assert queue_log.detect(Head("queue_log.csv", realtime, "utf-8")) == 1000
    data_column = (FIXTURES / "realtime" / "queue_log_data_column.csv").read_text()
    assert queue_log.detect(Head("ql.csv", data_column, "utf-8")) == 1000
    # Mostly queue_log lines with a few broken ones is still a queue_log.
    malformed = (FIXTURES / "malformed_queue_log").read_text()
    assert queue_log.detect(Head("queue_log", malformed, "utf-8")) == 1000
    contacts = "contact_id,queue_id,entered_at,outcome\nc1,q1,2026-03-02 09:00:00,answered\n"
    assert queue_log.detect(Head("contacts.csv", contacts, "utf-8")) == 0
    # Pipe-separated, but not epoch|callid|queue|agent|EVENT.
    other = "a|b|c|d|e\n1|2|3|4|5\n1772413200|x|y\n"
    assert queue_log.detect(Head("queue_log", other, "utf-8")) == 0
    assert queue_log.detect(Head("queue_log", "", "utf-8")) == 0


# --- loading --------------------------------------------------------------------------------------


def test_every_verb_loads_typed_with_member_and_pause_events_as_agent_states(home):
    land(home, "shanghai_bank", "2026-03-02", "all_verbs/queue_log")
    summary = load()
    assert summary == {"files": 1, "failed": [], "rows_loaded": 67, "rows_rejected": 0, "held": []}
    assert query("select file_format, rows_loaded, rows_rejected from raw.manifest") == [
        ("asterisk_queue_log", 67, 0)
    ]
    events = {
        row[0]: row[1:]
        for row in query(
            "select source_line, event_at, callid, queue_id, agent, event, wait_seconds, talk_seconds, ring_seconds "
            "from raw.queue_log_events"
        )
    }
    # System line: NONE placeholders are null.
    assert events[1] == (utc("2026-03-02 01:00:00"), None, None, None, "QUEUESTART", None, None, None)
    # RINGNOANSWER logs milliseconds: 15000 ms is 15 s.
    assert events[13][4:] == ("RINGNOANSWER", None, None, 15.0)
    assert events[20][4:] == ("RINGCANCELED", None, None, 3.0)
    # CONNECT: holdtime 30 s, ringtime 4 s; the member name is the agent.
    assert events[14] == (utc("2026-03-02 01:02:10"), "1772413300.1", "sales", "Alice Wong", "CONNECT", 30.0, None, 4.0)
    assert events[15][4:7] == ("COMPLETECALLER", 30.0, 180.0)
    assert events[18][4:7] == ("COMPLETEAGENT", 5.0, 60.0)
    assert events[21][4:7] == ("ABANDON", 45.0, None)
    assert events[27][4:7] == ("EXITWITHKEY", 20.0, None)
    assert events[29][4:7] == ("EXITEMPTY", 2.0, None)
    assert events[34][4:7] == ("BLINDTRANSFER", 10.0, 100.0)
    # ATTENDEDTRANSFER LINK carries two channels: times are counted from the end.
    assert events[37][4:7] == ("ATTENDEDTRANSFER", 8.0, 120.0)
    assert events[40][4:7] == ("ATTENDEDTRANSFER", 6.0, 50.0)
    assert events[43][4:7] == ("TRANSFER", 4.0, 40.0)
    assert events[45][4:7] == ("AGENTDUMP", None, None)
    assert events[47][4:7] == ("SYSCOMPAT", None, None)
    assert {events[n][4] for n in (11, 65, 66, 67)} == {"DID", "OUTCALL", "INFO", "CALLERONHOLD"}

    # WITHDRAW info with its own | : data1..data4, the rest in data5, everything in data.
    assert query("select data1, data2, data3, data4, data5, data from raw.queue_log_events where source_line = 31") == [
        ("1", "1", "30", "moved", "to|callback", "1|1|30|moved|to|callback")
    ]
    # ENTERQUEUE with log_caller_id_name: the number is pseudonymised at load (normalised to +digits).
    assert query(
        "select data2, data3, data4, caller_id_hash from raw.queue_log_events where source_line = 12"
    ) == [("+86 138-0000-0001", "1", "Zhang San", caller_hash("+8613800000001"))]
    # A withheld number has no pseudonym; only ENTERQUEUE lines carry one.
    assert query("select caller_id_hash from raw.queue_log_events where source_line = 19") == [(None,)]
    assert query("select count(*) from raw.queue_log_events where caller_id_hash is not null") == [(17,)]

    states = query(
        "select source_line, agent_id, queue_id, state, reason, event_at from raw.agent_state_events "
        "order by source_line, state = 'paused'"
    )
    assert states == [
        (3, "PJSIP/101", "sales", "logged_in", None, utc("2026-03-02 01:00:10")),
        (4, "Alice Wong", "sales", "logged_in", None, utc("2026-03-02 01:00:11")),
        (4, "Alice Wong", "sales", "paused", None, utc("2026-03-02 01:00:11")),  # ADDMEMBER ... PAUSED
        (5, "Agent/1001", "support", "logged_in", None, utc("2026-03-02 01:00:12")),
        (6, "PJSIP/102", "sales", "logged_in", None, utc("2026-03-02 01:00:13")),
        (7, "PJSIP/103", "sales", "logged_in", None, utc("2026-03-02 01:00:14")),
        (10, "Alice Wong", "sales", "ready", None, utc("2026-03-02 01:00:20")),
        (57, "PJSIP/101", "sales", "paused", "Lunch", utc("2026-03-02 01:33:20")),
        (58, "PJSIP/101", "sales", "ready", None, utc("2026-03-02 01:35:00")),
        (59, "Alice Wong", None, "paused", "Training", utc("2026-03-02 01:36:40")),  # PAUSEALL: all queues
        (60, "Alice Wong", None, "ready", None, utc("2026-03-02 01:38:20")),
        (61, "Agent/1001", "support", "logged_out", None, utc("2026-03-02 01:40:00")),
        (62, "PJSIP/101", "sales", "logged_out", None, utc("2026-03-02 01:41:40")),
        (63, "Agent/1002", None, "logged_in", None, utc("2026-03-02 01:43:20")),
        (64, "Agent/1002", None, "logged_out", None, utc("2026-03-02 01:45:00")),
    ]
    assert query("select distinct source_format from raw.agent_state_events") == [("asterisk_queue_log",)]


def test_malformed_lines_are_quarantined_with_line_number_and_rule(home):
    land(home, "shanghai_bank", "2026-03-02", "malformed_queue_log", "queue_log")
    summary = load()
    assert len(summary.pop("held")) == 1
    assert summary == {"files": 1, "failed": [], "rows_loaded": 3, "rows_rejected": 12}
    assert query("select source_line, event from raw.queue_log_events order by source_line") == [
        (1, "QUEUESTART"),
        (12, "MYCUSTOMVERB"),  # unknown verbs are not errors
        (13, "CONFIGRELOAD"),
    ]
    rejects = query("select line, reason, raw_text, file_name from raw.rejects order by line")
    [(run_day,)] = query("select cast(started_at as date) from ops.runs where run_id = 'r1'")
    assert [(line, reason) for line, reason, _, _ in rejects] == [
        (2, "time is not a Unix epoch (seconds): 17724132xx"),
        (3, "event is empty"),
        (4, "ENTERQUEUE has no callid"),
        (5, "ABANDON has no queue"),
        (6, "CONNECT holdtime is not a number of seconds: abc"),
        (7, "RINGNOANSWER ringtime_ms is empty"),
        (8, "not a queue_log line (expected time|callid|queuename|agent|event|data...)"),
        (10, "event_at is before 1990-01-01: 0000000001"),
        (11, "PAUSE has no agent"),
        (14, f"event_at is after {run_day + dt.timedelta(days=1)} (the run's UTC date + 1 day): 4102444800"),
        (15, "COMPLETECALLER calltime is below 0: -3"),
        (16, "EXITWITHKEY waittime is empty"),
    ]
    assert rejects[0][2] == "17724132xx|1772413300.1|sales|NONE|ENTERQUEUE||+8613800000001|1"
    assert {name for *_, name in rejects} == {"queue_log"}
    assert query("select count(*) from raw.agent_state_events") == [(0,)]


def test_a_line_that_is_not_utf8_is_quarantined_and_the_lines_after_it_keep_their_numbers(home):
    # UTF-8 text first, so the file is read as UTF-8 with one bad (GBK) line, which the reader rejects.
    folder = home / "landing" / "telephony" / "shanghai_bank" / "2026-03-02"
    folder.mkdir(parents=True)
    lines = [
        "1772413200|NONE|sales|张伟|ADDMEMBER|".encode(),
        "1772413300|1772413300.1|sales|NONE|ENTERQUEUE||+8613800000001|1|李娜".encode("gbk"),
        b"",
        "1772413330|1772413300.1|sales|张伟|CONNECT|30|1772413301.2|4".encode(),
        b"garbage",
    ]
    (folder / "queue_log").write_bytes(b"\n".join(lines) + b"\n")
    summary = load()
    assert (summary["rows_loaded"], summary["rows_rejected"]) == (2, 2)
    assert query("select source_line, agent, event, wait_seconds from raw.queue_log_events order by 1") == [
        (1, "张伟", "ADDMEMBER", None),
        (4, "张伟", "CONNECT", 30.0),
    ]
    rejects = query("select line, reason from raw.rejects order by line")
    assert [line for line, _ in rejects] == [2, 5]
    assert rejects[0][1].startswith("INVALID ENCODING")
    assert rejects[1][1] == "not a queue_log line (expected time|callid|queuename|agent|event|data...)"
    assert query("select source_line, agent_id, state from raw.agent_state_events") == [(1, "张伟", "logged_in")]


def test_a_gzipped_rotation_loads_and_a_redelivery_replaces_its_rows(home):
    folder = home / "landing" / "telephony" / "shanghai_bank" / "2026-03-02"
    folder.mkdir(parents=True)
    (folder / "queue_log.2.gz").write_bytes(gzip.compress((FIXTURES / "all_verbs" / "queue_log").read_bytes()))
    assert load()["rows_loaded"] == 67
    # The same file name in the same day folder, now shorter: its rows are replaced, not added.
    lines = (FIXTURES / "all_verbs" / "queue_log").read_bytes().splitlines(keepends=True)
    (folder / "queue_log.2.gz").write_bytes(gzip.compress(b"".join(lines[:10])))
    assert load(run_id="r2")["rows_loaded"] == 10
    assert query("select count(*) from raw.queue_log_events") == [(10,)]
    assert query("select count(*) from raw.agent_state_events") == [(7,)]


def test_the_realtime_export_with_data1_to_data5_and_local_or_offset_times(home):
    land(home, "stockholm_telco", "2026-03-02", "realtime/queue_log.csv")
    assert load() == {"files": 1, "failed": [], "rows_loaded": 11, "rows_rejected": 0, "held": []}
    rows = query(
        "select source_line, source_layout, event_at, callid, event, wait_seconds, talk_seconds "
        "from raw.queue_log_events order by source_line"
    )
    # Stockholm is UTC+1 in March: wall-clock 09:00:05.25 is 08:00:05.25 UTC; offsets are honoured; an epoch too.
    assert rows[1] == (3, "realtime_csv", utc("2026-03-02 08:00:05.250"), "1772438405.1", "ENTERQUEUE", None, None)
    assert rows[4][2] == utc("2026-03-02 08:05:00")
    assert rows[5][2] == utc("2026-03-02 08:05:02")
    # ATTENDEDTRANSFER LINK whose data5 holds "calltime|origposition".
    assert rows[8][4:] == ("ATTENDEDTRANSFER", 9.0, 120.0)
    assert rows[10][2] == utc("2026-03-02 09:00:00")
    assert query("select caller_id_hash from raw.queue_log_events where source_line = 3") == [
        (caller_hash("+46701234567", "stockholm_telco"),)
    ]
    assert query("select agent_id, queue_id, state, reason from raw.agent_state_events order by event_at") == [
        ("PJSIP/201", "support", "paused", "Coffee"),
        ("PJSIP/201", "support", "ready", None),
    ]


# --- assembly and KPIs (dbt) ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def all_verbs_built(tmp_path_factory: pytest.TempPathFactory):
    """all_verbs/queue_log delivered to shanghai_bank on 2026-03-02, loaded and built once for the tests
    that only read the result (a CALLOPS_HOME of their own, the conftest tenants)."""
    root = tmp_path_factory.mktemp("all_verbs")
    config = root / "callops.yml"
    config.write_text(TEST_CONFIG)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CALLOPS_HOME", str(root / "data"))
        patch.setenv("CALLOPS_CONFIG", str(config))
        land(root / "data", "shanghai_bank", "2026-03-02", "all_verbs/queue_log")
        load()
        build()
        yield root / "data"


@pytest.mark.dbt
def test_stints_are_assembled_per_callid_and_queue_from_every_verb(all_verbs_built):
    t = utc
    assert stints("shanghai_bank") == {
        # DID, ring-no-answer, member-name agent; wait = CONNECT holdtime, talk = COMPLETECALLER calltime.
        ("1772413300.1", "sales"): (
            "answered", "Alice Wong", 30.0, 180.0, False,
            t("2026-03-02 01:01:40"), t("2026-03-02 01:02:10"), t("2026-03-02 01:05:10"),
        ),
        ("1772413400.2", "sales"): (
            "answered", "PJSIP/101", 5.0, 60.0, False,
            t("2026-03-02 01:03:20"), t("2026-03-02 01:03:25"), t("2026-03-02 01:04:25"),
        ),
        ("1772413500.3", "sales"): (
            "abandoned", None, 45.0, None, False, t("2026-03-02 01:05:00"), None, t("2026-03-02 01:05:45"),
        ),
        ("1772413600.4", "sales"): (
            "abandoned", None, 3.0, None, False, t("2026-03-02 01:06:40"), None, t("2026-03-02 01:06:43"),
        ),
        ("1772413700.5", "sales"): (
            "timeout", None, 60.0, None, False, t("2026-03-02 01:08:20"), None, t("2026-03-02 01:09:20"),
        ),
        ("1772413800.6", "sales"): (
            "exit_key", None, 20.0, None, False, t("2026-03-02 01:10:00"), None, t("2026-03-02 01:10:20"),
        ),
        ("1772413900.7", "sales"): (
            "exit_empty", None, 2.0, None, False, t("2026-03-02 01:11:40"), None, t("2026-03-02 01:11:42"),
        ),
        ("1772414000.8", "sales"): (
            "withdrawn", None, 30.0, None, False, t("2026-03-02 01:13:20"), None, t("2026-03-02 01:13:50"),
        ),
        ("1772414100.9", "sales"): (
            "answered", "PJSIP/102", 10.0, 100.0, True,
            t("2026-03-02 01:15:00"), t("2026-03-02 01:15:10"), t("2026-03-02 01:16:50"),
        ),
        ("1772414200.10", "support"): (
            "answered", "PJSIP/102", 8.0, 120.0, True,
            t("2026-03-02 01:16:40"), t("2026-03-02 01:16:48"), t("2026-03-02 01:18:48"),
        ),
        ("1772414300.11", "sales"): (
            "answered", "PJSIP/103", 6.0, 50.0, True,
            t("2026-03-02 01:18:20"), t("2026-03-02 01:18:26"), t("2026-03-02 01:19:16"),
        ),
        ("1772414400.12", "sales"): (
            "answered", "PJSIP/103", 4.0, 40.0, True,
            t("2026-03-02 01:20:00"), t("2026-03-02 01:20:04"), t("2026-03-02 01:20:44"),
        ),
        # AGENTDUMP as the last event: abandoned (as app_queue counts it), wait from the timestamps.
        ("1772414500.13", "sales"): (
            "abandoned", None, 15.0, None, False, t("2026-03-02 01:21:40"), None, t("2026-03-02 01:21:55"),
        ),
        # SYSCOMPAT: the queue could not serve the call.
        ("1772414600.14", "sales"): (
            "exit_empty", None, 7.0, None, False, t("2026-03-02 01:23:20"), None, t("2026-03-02 01:23:27"),
        ),
        # 1772414700.15 only entered and rang: still in the queue, left out.
        # CONNECT without an end: answered, talk, end and transfer unknown.
        ("1772414800.16", "sales"): (
            "answered", "PJSIP/103", 12.0, None, None, t("2026-03-02 01:26:40"), t("2026-03-02 01:26:52"), None,
        ),
        # Multi-stint overflow: sales timed out after 60 s, support answered after 15 s.
        ("1772414900.18", "sales"): (
            "timeout", None, 60.0, None, False, t("2026-03-02 01:28:20"), None, t("2026-03-02 01:29:20"),
        ),
        ("1772414900.18", "support"): (
            "answered", "Agent/1001", 15.0, 100.0, False,
            t("2026-03-02 01:29:20"), t("2026-03-02 01:29:35"), t("2026-03-02 01:31:15"),
        ),
    }
    extra = dict(
        query("select contact_id, extra from staging.base_asterisk__queue_log_stints where queue_id = 'sales'")
    )
    assert json.loads(extra["1772413300.1"]) == {
        "did": "+862150000000",
        "terminal_event": "COMPLETECALLER",
        "ring_no_answer_count": 1,
        "is_entered_at_reconstructed": False,
        "visit_number": 1,
    }
    assert query(
        "select count(*), count(caller_id_hash), count(caller_number), count(hold_seconds), "
        "count(after_call_work_seconds), min(source_format), min(direction) "
        "from staging.base_asterisk__queue_log_stints"
    ) == [(17, 16, 0, 0, 0, "asterisk_queue_log", "inbound")]
    assert query(
        "select caller_id_hash from staging.base_asterisk__queue_log_stints where contact_id = '1772413300.1'"
    ) == [(caller_hash("+8613800000001"),)]
    # The stints reach the contacts every KPI reads.
    assert query(
        "select count(*) from staging.stg_telephony__contacts where source_format = 'asterisk_queue_log'"
    ) == [(17,)]
    # Agent state intervals: PAUSEALL applies to Alice's sales timeline.
    intervals = query(
        "select state, reason, state_seconds from intermediate.int_agent_state_intervals_timed "
        "where agent_id = 'Alice Wong' order by state_started_at, state = 'paused'"
    )
    assert intervals == [
        ("logged_in", None, 0.0),
        ("paused", None, 9.0),
        ("ready", None, 2180.0),
        ("paused", "Training", 100.0),
        ("ready", None, None),
    ]
    assert query(
        "select queue_id, state, state_seconds from intermediate.int_agent_state_intervals_timed "
        "where agent_id = 'Agent/1002' order by state_started_at"
    ) == [(None, "logged_in", 100.0), (None, "logged_out", None)]


@pytest.mark.dbt
def test_daily_kpis_of_a_queue_log_delivery_match_hand_computed_figures(all_verbs_built):
    # shanghai_bank: T = 20 s, short abandon < 5 s. 16 contacts (1772414700.15 is still queued;
    # the overflow call counts once). Answered: .1 .2 .9 .10 .11 .12 .16 .18 = 8.
    # Abandoned: .3 (45 s), .4 (3 s, short), .13 (AGENTDUMP, 15 s) = 3.
    # Within 20 s: .2 (5) .9 (10) .10 (8) .11 (6) .12 (4) .16 (12) = 6; .1 waited 30, .18 60 + 15 = 75.
    # SL = 6 / (16 - 1); abandon rate = (3 - 1) / (16 - 1).
    # ASA = (30 + 5 + 10 + 8 + 6 + 4 + 12 + 75) / 8 = 18.75.
    # AHT = talk only (queue_log has no hold or wrap-up), over the 7 answered with a logged end:
    # (180 + 60 + 100 + 120 + 50 + 40 + 100) / 7.
    assert kpis("shanghai_bank") == {
        DAY: pytest.approx((16, 8, 3, 1, 6, 0.5, 6 / 15, 2 / 15, 18.75, 650 / 7)),
    }


@pytest.mark.dbt
def test_overlapping_rotations_count_once_and_a_call_split_across_files_is_whole(home):
    land(home, "shanghai_bank", "2026-03-03", "rotation/queue_log-20260303")
    load(dt.date(2026, 3, 3))
    build()
    # 1772499800.2 is still talking at the end of the first file: answered, talk and end not known yet.
    first = stints("shanghai_bank")
    assert set(first) == {("1772499600.1", "sales"), ("1772499800.2", "sales")}
    assert first[("1772499800.2", "sales")][:5] == ("answered", "PJSIP/102", 12.0, None, None)
    assert first[("1772499800.2", "sales")][7] is None

    land(home, "shanghai_bank", "2026-03-04", "rotation/queue_log")
    load(dt.date(2026, 3, 3), dt.date(2026, 3, 4), run_id="r2")
    build()
    assert query("select count(*) from raw.queue_log_events") == [(11,)]
    assert query("select count(*) from staging.stg_asterisk__queue_log_events") == [(8,)]
    t = utc
    assert stints("shanghai_bank") == {
        ("1772499600.1", "sales"): (
            "answered", "PJSIP/101", 10.0, 90.0, False,
            t("2026-03-03 01:00:00"), t("2026-03-03 01:00:10"), t("2026-03-03 01:01:40"),
        ),
        # ENTERQUEUE and CONNECT in the first file, COMPLETEAGENT in the second.
        ("1772499800.2", "sales"): (
            "answered", "PJSIP/102", 12.0, 120.0, False,
            t("2026-03-03 01:03:20"), t("2026-03-03 01:03:32"), t("2026-03-03 01:05:32"),
        ),
        ("1772500000.3", "sales"): (
            "abandoned", None, 8.0, None, False, t("2026-03-03 01:06:40"), None, t("2026-03-03 01:06:48"),
        ),
    }
    # The split call is dated by the file that brought its end.
    assert query(
        "select delivery_date from staging.base_asterisk__queue_log_stints where contact_id = '1772499800.2'"
    ) == [(dt.date(2026, 3, 4),)]
    # 3 contacts, 2 answered within 20 s, 1 abandoned (8 s, not short); ASA 11, AHT (90 + 120) / 2.
    assert kpis("shanghai_bank") == {
        dt.date(2026, 3, 3): pytest.approx((3, 2, 1, 0, 2, 2 / 3, 2 / 3, 1 / 3, 11.0, 105.0)),
    }


@pytest.mark.dbt
def test_realtime_exports_assemble_like_the_file(home):
    land(home, "stockholm_telco", "2026-03-02", "realtime/queue_log.csv")
    land(home, "stockholm_telco", "2026-03-02", "realtime/queue_log_data_column.csv")
    assert load()["rows_loaded"] == 14
    build()
    t = utc
    assert stints("stockholm_telco") == {
        ("1772438405.1", "support"): (
            "answered", "PJSIP/201", 8.0, 120.0, False,
            t("2026-03-02 08:00:05.250"), t("2026-03-02 08:00:13.250"), t("2026-03-02 08:02:13.250"),
        ),
        ("1772438700.2", "support"): (
            "abandoned", None, 2.0, None, False, t("2026-03-02 08:05:00"), None, t("2026-03-02 08:05:02"),
        ),
        ("1772439000.3", "support"): (
            "answered", "PJSIP/202", 9.0, 120.0, True,
            t("2026-03-02 08:10:00"), t("2026-03-02 08:10:09"), t("2026-03-02 08:12:09"),
        ),
        # The one-column (non-adaptive) export: data split on |.
        ("1772442000.4", "support"): (
            "answered", "PJSIP/201", 4.0, 60.0, False,
            t("2026-03-02 09:00:00"), t("2026-03-02 09:00:04"), t("2026-03-02 09:01:04"),
        ),
    }
    # stockholm_telco: T = 10 s, short abandon < 3 s. 4 offered, 3 answered (all within 10 s), 1 short abandon.
    assert kpis("stockholm_telco") == {
        DAY: pytest.approx((4, 3, 1, 1, 3, 0.75, 1.0, 0.0, 7.0, 100.0)),
    }


@pytest.mark.dbt
def test_a_missing_enterqueue_is_reconstructed_and_a_queue_reentered_is_two_stints(home):
    deliver(
        home,
        "shanghai_bank",
        "2026-03-02",
        "queue_log.1",
        """
        1772413330|1772413300.1|sales|PJSIP/101|CONNECT|30|1772413315.2|4
        1772413510|1772413300.1|sales|PJSIP/101|COMPLETECALLER|30|180|1
        1772413600|1772413600.2|sales|NONE|ABANDON|1|1|40
        1772413700|1772413700.3|sales|NONE|ENTERQUEUE||+8613800000003|1
        1772413710|1772413700.3|sales|NONE|EXITWITHKEY|1|1|1|10
        1772413800|1772413700.3|sales|NONE|ENTERQUEUE||+8613800000003|1
        1772413807|1772413700.3|sales|PJSIP/102|CONNECT|7|1772413801.4|2
        1772413867|1772413700.3|sales|PJSIP/102|COMPLETEAGENT|7|60|1
        """,
    )
    load()
    build()
    t = utc
    single_visits = {key: value for key, value in stints("shanghai_bank").items() if key[0] != "1772413700.3"}
    assert single_visits == {
        # No ENTERQUEUE line: entered = CONNECT time - holdtime.
        ("1772413300.1", "sales"): (
            "answered", "PJSIP/101", 30.0, 180.0, False,
            t("2026-03-02 01:01:40"), t("2026-03-02 01:02:10"), t("2026-03-02 01:05:10"),
        ),
        # No ENTERQUEUE line: entered = ABANDON time - waittime.
        ("1772413600.2", "sales"): (
            "abandoned", None, 40.0, None, False, t("2026-03-02 01:06:00"), None, t("2026-03-02 01:06:40"),
        ),
    }
    revisits = query(
        f"select {STINT_COLUMNS} from staging.base_asterisk__queue_log_stints "
        "where contact_id = '1772413700.3' order by entered_at"
    )
    assert [row[2:5] for row in revisits] == [("exit_key", None, 10.0), ("answered", "PJSIP/102", 7.0)]
    assert [row[7] for row in revisits] == [t("2026-03-02 01:08:20"), t("2026-03-02 01:10:00")]
    reconstructed = query(
        "select contact_id, extra->>'is_entered_at_reconstructed' from staging.base_asterisk__queue_log_stints "
        "order by contact_id, entered_at"
    )
    assert reconstructed == [
        ("1772413300.1", "true"),
        ("1772413600.2", "true"),
        ("1772413700.3", "false"),
        ("1772413700.3", "false"),
    ]
