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

from callops import pipeline, publish, settings, warehouse
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
        con.execute("create or replace table marts.rpt_daily_kpis as select 1 as offered_count")
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


def ctr(contact: str, updated: str, channel: str = "VOICE", method: str = "INBOUND", enqueued: str = "01:00:05Z") -> str:
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
    config.write_text(config.read_text().replace("name: Shanghai test bank", "name: Shanghai test bank\n    reject_threshold: 0.5"))
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
    assert query("select source_updated_at::time::varchar from raw.telephony_contacts where contact_id like 'v-%' "
                 "order by contact_id") == [("01:20:00",), ("02:00:00",), ("03:10:00",)]  # fmt: skip
