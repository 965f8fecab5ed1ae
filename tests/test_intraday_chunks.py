"""Telephony delivered in 15-minute chunks loads into the same warehouse as whole-day files (issue 22).

The simulator writes the same days twice, whole and as ``--intraday-minutes 15`` chunks (same seed), for
two tenants in two formats (Asterisk queue_log; Amazon Connect CTR with the agent-state CSV). Each
landing zone is loaded into a CALLOPS_HOME of its own through the pipeline's steps: the raw contacts and
events are the same rows (but for the file they came in), and after the last chunk and the day's tail
(the next delivery day) the marts equal the whole-file build, also when the chunks arrive in two runs
(the morning's, then the rest) and the second run loads only the new chunks. After the morning's run the
Asterisk tenant's callers still waiting at the last morning line are counted in their intervals as offered
(``waiting_count``), as the chunks' lines say (a surge on the last morning makes sure some are).
"""

from __future__ import annotations

import collections
import datetime as dt
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from callops.config import load_config
from callops.simulate.model import Surge
from callops.simulate.run import simulate
from tests import generative

pytestmark = pytest.mark.dbt

START = dt.date(2026, 3, 23)  # Monday: a forecast needs no history to build
DAYS = 2
LAST = START + dt.timedelta(days=DAYS - 1)
TAIL = LAST + dt.timedelta(days=1)  # calls still going at midnight
CHUNK = re.compile(r"-(?P<day>\d{8})-(?P<time>\d{4})$")
NOON = "1200"  # the first run loads the last day's chunks that started before local noon
# the general queue's arrivals x 6 on the last day from 11:30 for an hour: callers still wait at noon
SURGE = Surge("general", 11 * 60 + 30, 60, 6.0)
RAW = ("raw.queue_log_events", "raw.agent_state_events", "raw.telephony_contacts")
# columns that say which file a row came in: different by design between whole files and chunks
FILE_COLUMNS = frozenset({"file_id", "file_name", "source_line", "loaded_at", "run_id"})
MARTS = ("marts.rpt_daily_kpis", "marts.fct_queue_intervals")


def _rows(database: Path, table: str, where: str = "true", ids: list[str] | None = None) -> collections.Counter:
    """The rows of a table but for the columns that say which file they came in."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        names = [row[0] for row in con.execute(f"describe {table}").fetchall() if row[0] not in FILE_COLUMNS]
        quoted = ", ".join(f'"{name}"' for name in names)
        query = f"select {quoted} from {table} where {where}"
        return collections.Counter(con.execute(query, {"ids": ids} if ids is not None else None).fetchall())
    finally:
        con.close()


def _chunk_start(path: Path) -> str:
    match = CHUNK.search(path.name)
    return match["day"] + match["time"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("intraday")
    config = generative.write_config(root)
    with generative.callops_home(root / "sim_home", config):
        tenants = load_config().tenants
    for name, minutes in (("whole", None), ("chunked", 15)):
        simulate(tenants, tenants=2, days=DAYS, start=START, calls_per_day=300, seed=11, landing=root / name,
                 workers=1, write_feeds=False, intraday_minutes=minutes, surge=SURGE, progress=None)  # fmt: skip
    whole = generative.build_reference(root / "whole", root / "whole_home", config, START, TAIL)
    chunked = generative.build_reference(root / "chunked", root / "chunked_home", config, START, TAIL)
    # the chunks in two runs of the pipeline: everything up to the last day's noon, then the rest
    chunks = sorted(path.relative_to(root / "chunked") for path in (root / "chunked").rglob("*") if path.is_file())
    morning = [path for path in chunks if _chunk_start(path) < f"{LAST:%Y%m%d}{NOON}"]
    batches = (morning, [path for path in chunks if path not in morning])
    with generative.callops_home(root / "twice_home", config):
        from callops import settings

        for number, batch in enumerate(batches, start=1):
            for path in batch:
                (settings.landing_dir() / path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / "chunked" / path, settings.landing_dir() / path)
            generative.run_pipeline(f"run{number}", START, TAIL)
            if number == 1:
                with duckdb.connect(str(settings.build_db_path()), read_only=True) as con:
                    waiting = con.execute(
                        "select interval_start_at, sum(waiting_count), sum(waiting_within_sl_count), "
                        "bool_and(is_interval_complete) from marts.fct_queue_intervals "
                        "where tenant_id = 'east' and interval_date = ? group by 1",
                        [LAST],
                    ).fetchall()
        twice = settings.build_db_path()
    return {"root": root, "whole": whole, "chunked": chunked, "twice": twice, "batches": batches,
            "waiting": waiting}  # fmt: skip


def test_chunks_load_as_the_same_raw_rows_as_whole_day_files(built):
    for table in RAW:
        whole, chunked = _rows(built["whole"], table), _rows(built["chunked"], table)
        assert whole, table
        assert whole == chunked, (
            f"{table}: {sum((whole - chunked).values())} rows only from the whole files, "
            f"{sum((chunked - whole).values())} only from the chunks"
        )


def test_a_queue_log_call_split_across_chunks_is_one_call(built):
    files: dict[str, set[str]] = collections.defaultdict(set)
    for path in (built["root"] / "chunked" / "telephony" / "east").rglob("queue_log-*"):
        for line in path.read_text().splitlines():
            callid = line.split("|")[1]
            if callid not in ("MANAGER", "NONE"):
                files[callid].add(path.name)
    split = sorted(callid for callid, names in files.items() if len(names) > 1)
    assert len(split) > 20
    stints = "tenant_id = 'east' and list_contains($ids, contact_id)"
    chunked = _rows(built["chunked"], "staging.stg_telephony__contacts", stints, split)
    assert {row[1] for row in chunked} == set(split)  # (tenant_id, contact_id, ...)
    assert chunked == _rows(built["whole"], "staging.stg_telephony__contacts", stints, split)


@pytest.mark.parametrize("build", ["chunked", "twice"])
def test_after_the_last_chunk_and_the_tail_the_marts_equal_the_whole_file_build(built, build):
    differences = generative.compare(built[build], built["whole"], ("marts",))
    assert not {table: why for table, why in differences.items() if table in MARTS}
    assert not differences


def test_a_second_run_loads_only_the_chunks_that_arrived_since(built):
    morning, rest = built["batches"]
    assert morning and rest
    con = duckdb.connect(str(built["twice"]), read_only=True)
    try:
        actions = dict(con.execute(
            "select run_id, list(action order by file_name) from ops.run_files group by 1"
        ).fetchall())  # fmt: skip
        loaded = dict(con.execute(
            "select run_id, list(file_name order by file_name) from ops.run_files where action = 'loaded' group by 1"
        ).fetchall())  # fmt: skip
    finally:
        con.close()
    assert sorted(loaded["run1"]) == sorted(path.name for path in morning)
    assert sorted(loaded["run2"]) == sorted(path.name for path in rest)
    assert set(actions["run2"]) <= {"loaded", "unchanged"}


ENDS = {"CONNECT", "COMPLETECALLER", "COMPLETEAGENT", "BLINDTRANSFER", "ATTENDEDTRANSFER", "TRANSFER", "ABANDON",
        "EXITWITHTIMEOUT", "EXITWITHKEY", "EXITEMPTY", "WITHDRAW", "SYSCOMPAT", "AGENTDUMP"}  # fmt: skip


def test_after_the_morning_the_callers_still_waiting_are_offered_in_their_intervals(built):
    """Read from the morning's queue_log chunks alone: a call x queue whose last entry has no answer or exit
    after it, entered on the last day (Asia/Shanghai), still waits at the last line; past 10 s (east's
    service level) a miss, within it undecided."""
    morning, _ = built["batches"]
    lines = [
        line.split("|")
        for path in morning
        if path.parts[1] == "east" and path.name.startswith("queue_log")
        for line in (built["root"] / "chunked" / path).read_text().splitlines()
    ]
    horizon = max(int(fields[0]) for fields in lines)
    entered: dict[tuple[str, str], int] = {}
    ended: dict[tuple[str, str], int] = {}
    for fields in lines:
        key, at = (fields[1], fields[2]), int(fields[0])
        if fields[4] == "ENTERQUEUE":
            entered[key] = max(entered.get(key, at), at)
        elif fields[4] in ENDS:
            ended[key] = max(ended.get(key, at), at)
    zone = dt.timezone(dt.timedelta(hours=8))
    expected: collections.Counter = collections.Counter()
    within: collections.Counter = collections.Counter()
    for key, at in entered.items():
        local = dt.datetime.fromtimestamp(at, zone)
        if local.date() != LAST or ended.get(key, -1) >= at:
            continue
        interval = dt.datetime.fromtimestamp(at - at % 1800, dt.UTC).replace(tzinfo=None)
        expected[interval] += 1
        within[interval] += horizon - at <= 10
    assert sum(expected.values()) > 0, "the morning ends with nobody waiting: the test would prove nothing"
    counted = {row[0]: row[1:] for row in built["waiting"]}
    assert {at: count for at, (count, _, _) in counted.items() if count} == dict(expected)
    assert {at: count for at, (_, count, _) in counted.items() if count} == {k: v for k, v in within.items() if v}
    # the intervals not complete are those at and after the last line's
    first_open = dt.datetime.fromtimestamp(horizon - horizon % 1800, dt.UTC).replace(tzinfo=None)
    assert min(at for at, (_, _, complete) in counted.items() if not complete) == first_open
