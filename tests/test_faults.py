"""Faults: kill -9 during a load and during a publish, a bad day through `callops run`, and corrupt
rows. After each, nothing is duplicated, nothing is half-published, and the served file is the one
that was last published whole."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from callops import pipeline, publish, settings, warehouse
from tests.conftest import TEST_CONFIG, deliver

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 3, 2)
HEADER = "contact_id,queue_id,entered_at,outcome,wait_seconds,talk_seconds,answered_at\n"


def contact_rows(prefix: str, count: int, day: dt.date = DAY) -> str:
    return "".join(
        f"{prefix}{i},q{i % 7},{day} {9 + i % 10:02d}:{i % 60:02d}:{i % 53:02d},answered,{i % 40},{60 + i % 300},\n"
        for i in range(count)
    )


def query(sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connection(read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def child(code: str) -> subprocess.Popen:
    """A Python child with this test's CALLOPS_HOME that prints 'started' when it begins its work."""
    script = "import datetime as dt\nfrom callops import pipeline, publish\nprint('started', flush=True)\n" + code
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=dict(os.environ))


def kill_when(process: subprocess.Popen, ready, timeout: float = 60) -> None:
    assert process.stdout.readline().strip() == "started"
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, "the child finished before the fault could be injected"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL


def test_kill_9_during_a_load_then_rerun_loads_every_row_exactly_once(home):
    deliver(home, "shanghai_bank", DAY.isoformat(), "a_small.csv", HEADER + contact_rows("s", 50))
    deliver(home, "shanghai_bank", DAY.isoformat(), "b_big.csv", HEADER + contact_rows("b", 600_000))
    loading = child("pipeline.load_deliveries('killed', dt.date(2026, 3, 2), dt.date(2026, 3, 2))")
    # DuckDB spills the open transaction of the big file: kill once it is well under way.
    started = time.monotonic()
    kill_when(loading, lambda: time.monotonic() - started > 1.5)

    summary = pipeline.load_deliveries("rerun", DAY, DAY)
    assert summary["failed"] == [] and summary["held"] == []
    assert query("select count(*), count(distinct contact_id) from raw.telephony_contacts") == [(600_050, 600_050)]
    assert query("select file_name, status, rows_loaded from raw.manifest order by 1") == [
        ("a_small.csv", "loaded", 50),
        ("b_big.csv", "loaded", 600_000),
    ]
    # The killed run is recorded as interrupted, not left running forever.
    assert query("select status from ops.runs where run_id = 'killed'") == [("interrupted",)]


def test_kill_9_during_a_publish_leaves_the_served_file_whole_and_the_next_publish_works(home):
    con = warehouse.connect()
    con.execute("create schema if not exists marts")
    con.execute("create table marts.rpt_daily_kpis as select 'shanghai_bank' as tenant_id, 1 as offered_count")
    con.close()
    publish.publish("first")
    served = settings.published_db_path()
    before = served.read_bytes()
    con = warehouse.connect()
    con.execute(
        "create or replace table marts.rpt_daily_kpis as select 'shanghai_bank' as tenant_id, 2 as offered_count"
    )
    con.execute(
        "create table marts.big as select 'shanghai_bank' as tenant_id, range as n, md5(range::varchar) as h "
        "from range(6000000)"
    )
    con.close()
    publishing = child("publish.publish('killed')")
    kill_when(publishing, lambda: any(served.parent.glob(".callops.killed.tmp*")))

    assert served.read_bytes() == before  # byte for byte what was served
    reader = duckdb.connect(str(served), read_only=True)
    assert reader.execute("select offered_count from marts.rpt_daily_kpis").fetchall() == [(1,)]
    reader.close()
    publish.publish("next")
    assert not list(served.parent.glob(".callops.*.tmp*"))  # the dead candidate is cleaned away
    reader = duckdb.connect(str(served), read_only=True)
    assert reader.execute("select offered_count from marts.rpt_daily_kpis").fetchall() == [(2,)]
    reader.close()


def test_corrupt_rows_are_rejected_by_line_and_rule_and_schema_drift_is_named(home):
    body = (
        HEADER
        + "c1,q1,2026-03-02 09:00:00,answered,10,100,\n"
        + "c2,q1,2026-03-02 09:01:00,answered,10\n"  # wrong column count
        + "c3,q1,2026-02-30 09:02:00,answered,10,100,\n"  # impossible date
        + "c4,q1,2026-03-02 09:03:00,answered,10,100,2026-03-02 08:00:00\n"  # answered before it arrived
        + "c5,q1,2026-03-02 25:04:00,abandoned,10,,\n"  # impossible time
        + "c8,客服,2026-03-02 09:07:00,abandoned,5,,\n"
    ).encode() + "c6,队列,2026-03-02 09:05:00,answered,10,100,\n".encode("gbk")  # GBK bytes in a UTF-8 file
    body += b"c7,q1,2026-03-02 09:06:00,answered,10,100,\n"
    folder = home / "landing" / "telephony" / "shanghai_bank" / DAY.isoformat()
    folder.mkdir(parents=True)
    (folder / "corrupt.csv").write_bytes(body)
    # Schema drift: a renamed required column fails the file by name; an added column is kept.
    renamed = HEADER.replace("entered_at", "start_time") + "x,q,1,answered,1,1,\n"
    deliver(home, "stockholm_telco", DAY.isoformat(), "renamed.csv", renamed)
    added = HEADER.strip() + ",sentiment\n" + "v1,q1,2026-03-02 09:00:00,answered,1,1,,0.8\n"
    deliver(home, "variant_tenant", DAY.isoformat(), "added.csv", added)
    summary = pipeline.load_deliveries("r1", DAY, DAY)
    [failed] = summary["failed"]
    assert "renamed.csv" in failed and "entered_at" in failed
    reasons = dict(query("select line, reason from raw.rejects where file_name = 'corrupt.csv' order by line"))
    assert set(reasons) == {3, 4, 5, 6, 8}
    assert reasons[3].startswith("MISSING COLUMNS")
    assert reasons[4] == "entered_at is not a timestamp: 2026-02-30 09:02:00"
    assert reasons[5] == "answered_at is before entered_at"
    assert reasons[6].startswith("entered_at is not a timestamp")
    assert "UTF-8" in reasons[8] or "encoding" in reasons[8].lower(), reasons[8]
    assert query("select contact_id from raw.telephony_contacts where tenant_id = 'shanghai_bank' order by 1") == [
        ("c1",), ("c7",), ("c8",)
    ]
    assert query("select extra_columns from raw.manifest where file_name = 'added.csv'") == [(["sentiment"],)]
    # 5 of 8 rows rejected: the delivery gate holds the file back, with the rule named.
    assert any("corrupt.csv: held back by the delivery gate" in message for message in summary["held"])


# --- through `callops run` ------------------------------------------------------------------------

CALLOPS = str(Path(sys.executable).parent / "callops")


def test_a_blocking_mart_check_publishes_nothing_and_names_check_tenant_and_day(tmp_path):
    (tmp_path / "callops.yml").write_text(TEST_CONFIG)
    env = dict(os.environ, CALLOPS_HOME=str(tmp_path / "data"), CALLOPS_CONFIG=str(tmp_path / "callops.yml"))
    env.pop("AIRFLOW_HOME", None)
    home = tmp_path / "data"
    mondays = [DAY + dt.timedelta(weeks=week) for week in range(5)]
    for day in mondays[:4]:
        deliver(home, "shanghai_bank", day.isoformat(), "contacts.csv", HEADER + contact_rows(f"m{day:%d}_", 40, day))
    first = subprocess.run([CALLOPS, "run", "--start", str(mondays[0]), "--end", str(mondays[3])], env=env,
                           capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    served = home / "published" / "callops.duckdb"
    before = served.read_bytes()

    # The fifth Monday arrives truncated: 5 contacts where the same weekday had 40 (the last at 23:45, so
    # the day is complete: a partial day is not blocked for being small).
    rows = contact_rows("t", 4, mondays[4]) + f"t_late,q1,{mondays[4]} 23:45:00,answered,5,100,\n"
    deliver(home, "shanghai_bank", mondays[4].isoformat(), "contacts.csv", HEADER + rows)
    bad = subprocess.run([CALLOPS, "run", "--start", str(mondays[4]), "--end", str(mondays[4])], env=env,
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 1, bad.stdout
    assert "published  nothing: the served marts are unchanged" in bad.stdout, bad.stdout
    assert "rpt_daily_kpis: expect_column_values_to_be_in_set on is_volume_within_blocking_band" in bad.stdout
    assert "shanghai_bank 2026-03-30" in bad.stdout
    assert "Data Docs:" in bad.stdout
    assert served.read_bytes() == before
    docs = next((home / "data_docs").glob("run_*/index.html"))
    assert "https://" not in docs.read_text() or "cdn" not in docs.read_text()
