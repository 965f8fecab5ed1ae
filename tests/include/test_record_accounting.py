"""Every record of every delivered file is in the books: loaded + rejected + superseded + skipped.

For each adapter, the records of a file are counted here from the file itself
(non-blank lines less the header; for Amazon Connect, the JSON records) and
must equal the four counts ``raw.manifest``, ``ops.run_files`` and the
published ``marts.run_deliveries`` give that file. Each file's own counts are
worked out by hand from its records.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from callops import pipeline, publish, report, settings, warehouse
from tests.conftest import deliver

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
COUNTS = ("rows_loaded", "rows_rejected", "rows_superseded", "rows_skipped")
TENANT = "shanghai_bank"


def load(day: str, run_id: str = "r1") -> dict:
    return pipeline.load_deliveries(run_id, dt.date.fromisoformat(day), dt.date.fromisoformat(day))


def query(sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connection(read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def land(home: Path, feed: str, day: str, source: Path, name: str | None = None) -> Path:
    folder = home / "landing" / feed / TENANT / day
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(source, folder / (name or source.name)))


def lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def line_records(path: Path, header: bool = False) -> int:
    """A line-based file's records: its non-blank lines, less the header line."""
    return len(lines(path)) - int(header)


def json_records(path: Path) -> int:
    """A Firehose object's records: one per line, plus one per ``}{`` where records are concatenated."""
    return sum(1 + len(re.findall(r"\}\s*\{", line)) for line in lines(path))


def publish_run_log() -> dict[str, tuple]:
    """Publish (a stand-in mart beside the real run log) and read ``marts.run_deliveries`` back, by file name."""
    with warehouse.connection() as con:
        con.execute("create schema if not exists marts")
        con.execute(
            "create or replace table marts.rpt_daily_kpis as select 'shanghai_bank' as tenant_id, 1 as offered_count"
        )
    publish.publish("r-books")
    reader = duckdb.connect(str(settings.published_db_path()), read_only=True)
    try:
        rows = reader.execute(
            f"select file_name, {', '.join(COUNTS)} from marts.run_deliveries where action <> 'unchanged'"
        ).fetchall()
    finally:
        reader.close()
    return {row[0]: row[1:] for row in rows}


def books(file_name: str, published: dict[str, tuple]) -> tuple:
    """(loaded, rejected, superseded, skipped) of one file; the manifest, the run's file log and the
    published run log must agree."""
    manifest = query(f"select {', '.join(COUNTS)} from raw.manifest where file_name = ?", [file_name])
    run_file = query(
        f"select {', '.join(COUNTS)} from ops.run_files where file_name = ? and action <> 'unchanged'", [file_name]
    )
    assert len(manifest) == 1 and run_file == manifest and published[file_name] == manifest[0], file_name
    return manifest[0]


# --- Amazon Connect CTR ---------------------------------------------------------------------------

CONNECT = FIXTURES / "connect"
CTR_LINES = CONNECT / "my-ctr-stream-1-2024-06-03-09-15-22-3f1c2a6e-6b1d-4c55-9f0e-2a7d3c1b5e90"
CTR_CONCATENATED = CONNECT / "my-ctr-stream-1-2024-06-03-09-20-07-8e2b4c1d-0a9f-4d3b-b6e5-1f2a3b4c5d6e"
CTR_LATER = CONNECT / "my-ctr-stream-1-2024-06-03-09-45-51-c4d5e6f7-1a2b-4c3d-8e9f-0a1b2c3d4e5f"


def ctr(
    contact: str, updated: str, channel: str = "VOICE", method: str = "INBOUND", enqueued: str = "01:00:05Z"
) -> str:
    return (
        f'{{"ContactId": "{contact}", "Channel": "{channel}", "InitiationMethod": "{method}", '
        f'"InitiationTimestamp": "2024-06-03T01:00:00Z", '
        f'"Queue": {{"Name": "Sales", "EnqueueTimestamp": "2024-06-03T{enqueued}"}}, '
        f'"LastUpdateTimestamp": "2024-06-03T{updated}Z"}}'
    )


# Versions of contacts within one file. Records: 3 versions of v-1; v-2 delivered twice with the same
# LastUpdateTimestamp; a supervisor MONITOR leg and a TASK; (a blank line); two versions of v-3
# concatenated on one line; a later v-1 whose queue entry is not a timestamp (rejected: it
# supersedes nothing). 10 records = 3 loaded (v-1 at 01:20, v-2, v-3 at 03:10) + 1 rejected
# + 4 superseded (v-1 x 2, v-2 x 1, v-3 x 1) + 2 skipped (MONITOR, TASK).
CTR_VERSIONS = "\n".join(
    [
        ctr("v-1", "01:05:00"),
        ctr("v-1", "01:20:00"),
        ctr("v-1", "01:10:00"),
        ctr("v-2", "02:00:00"),
        ctr("v-2", "02:00:00"),
        ctr("mon-1", "02:30:00", method="MONITOR"),
        ctr("task-1", "02:40:00", channel="TASK"),
        "",
        ctr("v-3", "03:00:00") + ctr("v-3", "03:10:00"),
        ctr("v-1", "04:00:00", enqueued="25:00:00Z"),
    ]
)


def test_connect_records_are_loaded_rejected_superseded_or_skipped(home):
    config = home.parent / "callops.yml"  # the delivery gate holds CTR_LINES (4 of 15 rejected): let it pass
    config.write_text(
        config.read_text().replace("name: Shanghai test bank", "name: Shanghai test bank\n    reject_threshold: 0.5")
    )
    day = "2024-06-03"
    versions = deliver(home, TENANT, day, "my-ctr-stream-1-2024-06-03-10-00-00-versions", CTR_VERSIONS)
    for fixture in (CTR_LINES, CTR_CONCATENATED, CTR_LATER):
        land(home, "telephony", day, fixture)
    summary = load(day)
    assert summary["failed"] == [] and summary["held"] == []
    published = publish_run_log()
    expected = {
        # 17 lines: 11 loaded, 4 rejected (lines 14-17), the earlier c-dup (line 8), the chat (line 13).
        CTR_LINES: (17, (11, 4, 1, 1)),
        # 4 records concatenated on one line: cat-1, cat-2, c-ans loaded, record 3 broken. Its c-ans is
        # older than CTR_LINES' and its rows are loaded all the same: staging keeps the latest version
        # across files (test_connect_ctr.py), so a version superseded by another file's is not counted here.
        CTR_CONCATENATED: (4, (3, 1, 0, 0)),
        CTR_LATER: (1, (1, 0, 0, 0)),
        versions: (10, (3, 1, 4, 2)),
    }
    for path, (records, counts) in expected.items():
        assert json_records(path) == records, path.name
        assert books(path.name, published) == counts, path.name
        assert sum(counts) == records
    assert summary["rows_superseded"] == 5 and summary["rows_skipped"] == 3
    # `callops run`'s summary: the per-day table and the load step count them too.
    text = report.run_summary("r1").text.splitlines()
    assert text[2].split()[-4:] == ["rows", "rejected", "superseded", "skipped"]
    assert text[4].split()[-4:] == ["18", "6", "5", "3"]
    assert "  load      success  (4 files, 18 rows, 6 rejected, 5 superseded, 3 skipped)" in text
    assert query("select source_updated_at::time::varchar from raw.telephony_contacts where contact_id like 'v-%' "
                 "order by contact_id") == [("01:20:00",), ("02:00:00",), ("03:10:00",)]  # fmt: skip


# --- Asterisk CDR ---------------------------------------------------------------------------------

CDR = FIXTURES / "cdr"


def test_asterisk_cdr_records_are_loaded_rejected_superseded_or_skipped(home):
    day = "2024-06-03"
    for name in ("Master.csv", "Master.csv.1", "cdr-export.csv"):
        land(home, "telephony", day, CDR / name)
    lines = (CDR / "Master.csv").read_text().splitlines()
    broken = lines[1].replace("Wang", "W\xffng").encode("latin-1", "replace")  # not UTF-8: rejected
    (home / "landing" / "telephony" / TENANT / day / "Master-crlf.csv").write_bytes(
        b"\r\n".join([lines[0].encode(), broken, b"", lines[2].encode(), lines[11].encode()]) + b"\r\n"
    )
    summary = load(day)
    assert summary["failed"] == []
    published = publish_run_log()
    folder = home / "landing" / "telephony" / TENANT / day
    expected = {
        # 14 CDRs: 10 stints; the unanswered fork of 1717416000.9 (line 4) merged into the answered one;
        # an internal call, an AppQueue agent leg and a call dialled straight to a phone (lines 12-14).
        "Master.csv": (14, (10, 0, 1, 3)),
        # 8 records (line 2 blank): lines 1 and 8 load, 6 are quarantined (test_asterisk_cdr.py).
        "Master.csv.1": (8, (2, 6, 0, 0)),
        "cdr-export.csv": (2, (2, 0, 0, 0)),  # the header line is no record
        # CRLF, a line that is not UTF-8, a blank line, the internal call.
        "Master-crlf.csv": (4, (2, 1, 0, 1)),
    }
    for name, (records, counts) in expected.items():
        path = folder / name
        count = len([line for line in path.read_bytes().splitlines() if line.strip()]) - (name == "cdr-export.csv")
        assert count == records, name
        assert books(name, published) == counts, name
        assert sum(counts) == records
    assert summary["rows_superseded"] == 1 and summary["rows_skipped"] == 4


# --- Asterisk queue_log ---------------------------------------------------------------------------

QUEUE_LOG = FIXTURES / "queue_log"


def test_queue_log_lines_are_loaded_or_rejected(home):
    day = "2026-03-02"
    land(home, "telephony", day, QUEUE_LOG / "all_verbs" / "queue_log")
    land(home, "telephony", day, QUEUE_LOG / "malformed_queue_log")
    land(home, "telephony", day, QUEUE_LOG / "realtime" / "queue_log.csv")
    land(home, "telephony", day, QUEUE_LOG / "realtime" / "queue_log_data_column.csv")
    # The rotated file and the next one overlap by three lines: each file loads them (staging counts them once).
    land(home, "telephony", day, QUEUE_LOG / "rotation" / "queue_log", "queue_log.1")
    land(home, "telephony", day, QUEUE_LOG / "rotation" / "queue_log-20260303")
    folder = home / "landing" / "telephony" / TENANT / day
    realtime = (QUEUE_LOG / "realtime" / "queue_log.csv").read_text().splitlines()
    # A realtime export with UTF-8 text, a line that is not UTF-8, a blank line, a line of too many fields.
    connect = "4,2026-03-02 09:00:06,1772438405.1,support,张伟,CONNECT,5,1772438405.2,1,,\n"
    (folder / "queue_log-mixed.csv").write_bytes(
        ("\n".join([*realtime[:3], "", realtime[3] + ",surplus,fields"]) + "\n" + connect).encode()
        + connect.replace("4,", "5,", 1).encode("gbk")
    )
    summary = load(day)
    assert summary["failed"] == []
    published = publish_run_log()
    expected = {
        "queue_log": (67, 0),
        "malformed_queue_log": (3, 12),  # 15 lines and a blank one (test_queue_log.py)
        "queue_log.csv": (11, 0),
        "queue_log_data_column.csv": (3, 0),
        "queue_log.1": (6, 0),
        "queue_log-20260303": (5, 0),
        "queue_log-mixed.csv": (4, 1),  # the line of too many fields loads its first 11
    }
    for name, (loaded, rejected) in expected.items():
        header = name.endswith(".csv")
        path = folder / name
        records = len([line for line in path.read_bytes().splitlines() if line.strip()]) - header
        assert books(name, published) == (loaded, rejected, 0, 0), name
        assert loaded + rejected == records, name
    # Nothing superseded or skipped: `callops run`'s summary is as before.
    text = report.run_summary("r1").text
    assert "superseded" not in text and "skipped" not in text
    assert "  load      failed  (7 files, 99 rows, 13 rejected)" in text.splitlines()  # 2 files held back


# --- the CSV contracts: contacts, agent states, QA, HR, marketing ---------------------------------


def test_contact_and_agent_state_csv_records_are_loaded_or_rejected(home):
    day = "2026-03-02"
    contacts = (
        "contact_id,queue_id,entered_at,outcome,wait_seconds\r\n"
        "c1,售后,2026-03-02 09:00:00,abandoned,10\r\n"  # UTF-8 text: the GBK line below is a bad line
        "\r\n"
        "c1,售后,2026-03-02 09:00:00,abandoned,10\r\n"  # the same stint twice: both load, staging counts it once
        "c2,q1,yesterday,abandoned,10\r\n"
        "c3,q1,2026-03-02 09:10:00,abandoned,10,surplus\r\n"
        "c4,q1\r\n"
        "c5,q1,2026-03-02 09:20:00,answered,12\r\n"
    )
    folder = home / "landing" / "telephony" / TENANT / day
    folder.mkdir(parents=True)
    (folder / "contacts.csv").write_bytes(
        contacts.encode() + "c6,队列,2026-03-02 09:30:00,abandoned,4\r\n".encode("gbk")
    )
    deliver(
        home, TENANT, day, "agent_states.csv",
        """
        agent_id,state,event_at,queue_id,reason
        a1,logged_in,2026-03-02 08:00:00,,

        a1,paused,2026-03-02 10:00:00,,Lunch
        a1,napping,2026-03-02 11:00:00,,
        ,ready,2026-03-02 11:00:00,,
        a1,logged_out,2026-03-02 17:00:00,,
        """,
    )  # fmt: skip
    summary = load(day)
    assert summary["failed"] == []
    published = publish_run_log()
    # contacts.csv: 7 records; c1 twice and c5 load; c2 (timestamp), c3 (too many columns), c4 (missing
    # columns) and c6 (not UTF-8) are rejected. agent_states.csv: 5 records, 2 rejected (state, agent_id).
    expected = {"contacts.csv": (7, (3, 4, 0, 0)), "agent_states.csv": (5, (3, 2, 0, 0))}
    for name, (records, counts) in expected.items():
        path = folder / name
        assert len([line for line in path.read_bytes().splitlines() if line.strip()]) - 1 == records, name
        assert books(name, published) == counts, name
        assert sum(counts) == records


FEEDS = FIXTURES / "feeds"


@pytest.mark.parametrize("sample", sorted(FEEDS.glob("*/*")), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_qa_hr_and_marketing_records_are_loaded_or_rejected(home, monkeypatch, sample):
    monkeypatch.setenv("CALLOPS_PSEUDONYM_KEY", "record-accounting-test-key")
    land(home, sample.parent.name, "2026-03-02", sample)
    summary = load("2026-03-02")
    assert summary["failed"] == []
    loaded, rejected, superseded, skipped = books(sample.name, publish_run_log())
    # Each sample's loaded and rejected rows are checked by hand in test_feed_contracts.py.
    assert (superseded, skipped) == (0, 0) and loaded > 0 and rejected > 0
    assert loaded + rejected == line_records(sample, header=True)


# --- upgrade in place -----------------------------------------------------------------------------

# raw.manifest and ops.run_files as the release before these counts made them.
PREVIOUS_RELEASE_DDL = """
create schema raw;
create schema ops;
create table raw.manifest (
    file_id varchar primary key, feed varchar not null, tenant_id varchar not null, delivery_date date not null,
    file_name varchar not null, file_path varchar not null, file_format varchar, size_bytes bigint,
    sha256 varchar, received_at timestamp, loaded_at timestamp, rows_loaded bigint, rows_rejected bigint,
    extra_columns varchar[], status varchar not null, error varchar, run_id varchar, encoding varchar,
    gate_status varchar, gate_reason varchar, accepted_at timestamp
);
create table ops.runs (
    run_id varchar primary key, start_date date, end_date date, started_at timestamp, finished_at timestamp,
    status varchar, detail json
);
create table ops.run_files (
    run_id varchar not null, file_id varchar, feed varchar, tenant_id varchar, delivery_date date,
    file_name varchar, action varchar not null, rows_loaded bigint, rows_rejected bigint, message varchar
);
insert into raw.manifest values ('old', 'telephony', 'shanghai_bank', '2024-06-02', 'old-ctr', '/gone/old-ctr',
    'amazon_connect_ctr', 10, 'abc', now(), now(), 11, 4, [], 'loaded', null, 'r0', 'utf-8', 'passed', null, null);
insert into ops.runs values ('r0', '2024-06-02', '2024-06-02', now(), now(), 'success', null);
insert into ops.run_files values ('r0', 'old', 'telephony', 'shanghai_bank', '2024-06-02', 'old-ctr', 'loaded',
    11, 4, null);
"""


def test_a_warehouse_of_the_previous_release_gains_the_counts_null_for_its_old_rows(home):
    path = settings.build_db_path()
    path.parent.mkdir(parents=True)
    with duckdb.connect(str(path)) as con:
        con.execute(PREVIOUS_RELEASE_DDL)
    config = home.parent / "callops.yml"
    config.write_text(
        config.read_text().replace("name: Shanghai test bank", "name: Shanghai test bank\n    reject_threshold: 0.5")
    )
    land(home, "telephony", "2024-06-03", CTR_LINES)
    assert load("2024-06-03")["failed"] == []
    published = publish_run_log()
    assert books(CTR_LINES.name, published) == (11, 4, 1, 1)
    # The old file's records were not counted by the release that loaded it: unknown, not 0.
    assert query("select rows_loaded, rows_rejected, rows_superseded, rows_skipped from raw.manifest "
                 "where file_id = 'old'") == [(11, 4, None, None)]  # fmt: skip
    assert published["old-ctr"] == (11, 4, None, None)
    reader = duckdb.connect(str(settings.published_db_path()), read_only=True)
    try:
        runs = reader.execute("select run_id, rows_superseded, rows_skipped from marts.runs order by 1").fetchall()
        comment = reader.execute(
            "select comment from duckdb_columns() where table_name = 'run_deliveries' and column_name = 'rows_skipped'"
        ).fetchone()[0]
    finally:
        reader.close()
    assert runs == [("r0", None, None), ("r1", 1, 1)]
    assert comment.startswith("records read but not modelled")
