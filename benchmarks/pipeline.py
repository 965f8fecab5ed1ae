"""Benchmark of issue 6: a backfill and a daily run through the real CLI, against a DuckDB floor and pandas.

    python -m benchmarks.pipeline [--days 90] [--calls-per-day 100000] [--work-dir DIR] [--keep]
                                  [--record | --no-record] [--at-commit REV] [--airflow | --no-airflow]

The workload is one tenant (``acme_bank``'s settings: Asia/Shanghai, 10-second service level) sending
one Asterisk queue_log file a day, simulated by ``callops simulate``. Steps, each timed on this
machine in this run:

a. workload   ``callops simulate`` writes days+1 delivery days; the last one is held back.
b. floor      one hand-written DuckDB query (``FLOOR_SQL``) computes the daily KPIs of
              ``rpt_daily_kpis`` straight from the files, with the pipeline's memory and thread caps.
c. pandas     the straightforward pandas script (``pandas_kpis``): read_csv each file, concat, groupby.
d. backfill   ``callops run`` over the days (Airflow: load, dbt build, Great Expectations, publish).
              The floor's and the pandas script's KPIs must equal the published ``marts.rpt_daily_kpis``
              (counts exactly, rates and seconds to 1e-9), or the comparison is not a fair one.
e. daily      the held-back day restored, ``callops run`` of that one day on top of the history.
e1. intraday  the day after it, simulated by the workload's own plan (same seed, roster and settings)
              as 15-minute chunks (``--intraday-minutes 15``): its chunks that start before 10:00 local
              loaded by one untimed run (the morning so far), then the next chunk renamed into place and
              ``callops run`` of that day timed, as a run started right after a chunk lands (<= 60 s).
e2. airflow   ``callops airflow`` (make airflow) on the same home with CALLOPS_LANDING_POLL_SECONDS=5:
              once its landing watch waits, the chunk after that renamed into place, and the seconds until
              a published file lists it as loaded (the landing watch, the build, the gate, the publish):
              a figure. ``--no-airflow`` leaves it out.
f. empty      the same day's file alone in a fresh CALLOPS_HOME (same pseudonym key).
g. second     a copy of the daily day's files for a second tenant, ``callops run`` of that day.
h. serving    the backfill's and the daily run's published files served into a local PostgreSQL 15.

Steps b, c and the pipeline runs are child processes; their peak memory is the sum of VmRSS over the
child's whole process tree, sampled every 0.2 s (an upper bound: pages shared between processes count
once per process). Each fresh CALLOPS_HOME is set up before it is timed (Airflow metadata migration and
a dbt parse: a deployment's one-off cost, reported apart).

Prints a table (step, seconds, rows/s, peak RSS, target, met?) and, as the last line, one JSON object
with every figure (keys: ``RECORD_KEYS``); the same object is kept as ``docs/bench/<date>T<HHMM>-<commit>.json``
unless ``--no-record``. rows/s counts queue_log lines read.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import csv
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from callops import progress, settings
from callops.progress import fmt_seconds

# The folder that holds the benchmarks package: child processes run ``python -m benchmarks.pipeline`` there.
BENCHMARKS_ROOT = Path(__file__).resolve().parents[1]

# --- the workload ---------------------------------------------------------------------------------

TENANT_ID = "acme_bank"
TIMEZONE = "Asia/Shanghai"
SERVICE_LEVEL_SECONDS = 10
SHORT_ABANDON_SECONDS = 5  # the default
# The second tenant: configured from the start (a tenant added later would change the tenants' settings,
# and so rebuild every mart), its data arriving only in the last phase: the backfill and the daily runs
# load one tenant's data, and publish a file for each tenant (the second one's empty).
SECOND_TENANT_ID = "beta_telco"
BENCH_CONFIG = f"""# written by benchmarks.pipeline: one queue_log tenant with acme_bank's settings in callops.yml,
# and a second tenant whose day arrives in the bench's last phase
tenants:
  - id: {TENANT_ID}
    name: ACME Bank credit-card hotline (benchmark)
    timezone: {TIMEZONE}
    service_level_seconds: {SERVICE_LEVEL_SECONDS}
  - id: {SECOND_TENANT_ID}
    name: Beta Telco customer care (benchmark)
    timezone: Europe/Stockholm
"""
# A fixed key: the backfill home and the empty home pseudonymise callers alike (never a real secret).
PSEUDONYM_KEY = "callops-bench-not-a-secret"
DEFAULT_START = dt.date(2026, 3, 4)  # a Wednesday: with 90 days, the daily run is day 91, Tuesday 2026-06-02
DEFAULT_DAYS = 90
DEFAULT_CALLS_PER_DAY = 100_000
DEFAULT_SEED = 7

# --- the targets --------------------------------------------------------------------------

BACKFILL_OVER_FLOOR_MAX = 5.0
DAILY_SECONDS_MAX = 30.0
DAILY_OVER_EMPTY_MAX = 1.5
PEAK_RSS_MAX_BYTES = 4 * 1024**3
INTRADAY_SECONDS_MAX = 60.0  # issue 22: `callops run` of today, started right after a 15-minute chunk lands

KPI_COUNTS = (
    "offered_count", "answered_count", "abandoned_count", "short_abandoned_count", "answered_within_sl_count",
)
KPI_FIGURES = ("answer_rate", "service_level_rate", "abandon_rate", "asa_seconds", "aht_seconds")
KPI_COLUMNS = ("kpi_date", *KPI_COUNTS, *KPI_FIGURES)
TOLERANCE = 1e-9

# The records' "bench" value: the name this benchmark had in the callops package until issue 17 moved
# it to benchmarks/, kept so that every record in docs/bench/ names the same benchmark.
RECORD_NAME = "callops.bench"
RECORD_KEYS = (
    "bench", "date", "git_commit", "git_dirty", "source", "machine", "load_average", "settings", "workload", "setup",
    "floor", "pandas", "backfill", "daily", "intraday", "intraday_seconds", "intraday_airflow_seconds", "daily_empty",
    "second_tenant", "tenant_files", "serving", "ratios", "targets", "total_seconds",
)
RUN_KEYS = (
    "seconds", "rows_per_second", "contacts_per_second", "cpu_seconds", "peak_rss_bytes", "load_average_max",
    "load_average_mean", "peak_rss_single_bytes", "max_processes", "exit_code", "run_id", "breakdown",
)
REFERENCE_KEYS = (
    "seconds", "compute_seconds", "rows_per_second", "cpu_seconds", "peak_rss_bytes", "load_average_max",
    "load_average_mean", "maxrss_bytes", "agrees", "differences",
)
TARGET_KEYS = (
    "backfill_within_5x_floor", "backfill_faster_than_pandas", "daily_under_30s", "daily_within_1_5x_empty",
    "backfill_peak_rss_under_4gib", "intraday_under_60s",
)


def say(text: str = "") -> None:
    print(text, flush=True)


def fmt_bytes(count: float | None) -> str:
    if count is None:
        return "?"
    if count >= 1024**3:
        return f"{count / 1024**3:.2f} GiB"
    return f"{count / 1024**2:.0f} MiB"


# --- b. the DuckDB floor --------------------------------------------------------------------------

# The daily KPIs of marts.rpt_daily_kpis (docs/domain.md "How each contact counts"; the tenant's default
# service-level variant, exclude_short_abandons) in one query over the queue_log files, following the
# rules of base_asterisk__queue_log_stints and int_contacts_rolled_up. It trusts the files (the pipeline
# validates every line; the simulator writes none it would reject).
FLOOR_SQL = """
with

lines as (
    select *
    from read_csv(
        $files,
        delim = '|', quote = '', escape = '', header = false, auto_detect = false, null_padding = true,
        columns = {
            'epoch': 'DOUBLE', 'callid': 'VARCHAR', 'queue_id': 'VARCHAR', 'agent': 'VARCHAR',
            'event': 'VARCHAR', 'd1': 'VARCHAR', 'd2': 'VARCHAR', 'd3': 'VARCHAR', 'd4': 'VARCHAR',
            'd5': 'VARCHAR', 'd6': 'VARCHAR', 'd7': 'VARCHAR'
        }
    )
    where callid <> 'NONE' and queue_id <> 'NONE'
),

call_lines as (
    -- an event delivered twice (overlapping re-exports) counts once: only a repeated ENTERQUEUE could
    -- change the result (it would open a second visit); every other verb feeds a min, max, arg_min or
    -- arg_max of its visit, which a duplicate leaves unchanged
    select distinct * from lines where event = 'ENTERQUEUE'
    union all
    select * from lines
    where event in (
        'CONNECT', 'COMPLETECALLER', 'COMPLETEAGENT', 'BLINDTRANSFER', 'ATTENDEDTRANSFER', 'TRANSFER',
        'ABANDON', 'EXITWITHTIMEOUT', 'EXITWITHKEY', 'EXITEMPTY', 'WITHDRAW', 'AGENTDUMP', 'SYSCOMPAT'
    )
),

events as (
    select
        callid,
        queue_id,
        event,
        epoch,
        case
            when event in ('CONNECT', 'COMPLETECALLER', 'COMPLETEAGENT') then d1
            when event in ('BLINDTRANSFER', 'TRANSFER', 'ABANDON', 'EXITWITHTIMEOUT', 'EXITEMPTY', 'WITHDRAW')
                then d3
            when event = 'EXITWITHKEY' then d4
            when event = 'ATTENDEDTRANSFER'
                then list_filter([d1, d2, d3, d4, d5, d6, d7], lambda x: x is not null)[-3]
        end::double as wait_seconds,
        case
            when event in ('COMPLETECALLER', 'COMPLETEAGENT') then d2
            when event in ('BLINDTRANSFER', 'TRANSFER') then d4
            when event = 'ATTENDEDTRANSFER'
                then list_filter([d1, d2, d3, d4, d5, d6, d7], lambda x: x is not null)[-2]
        end::double as talk_seconds,
        event in ('COMPLETECALLER', 'COMPLETEAGENT', 'BLINDTRANSFER', 'ATTENDEDTRANSFER', 'TRANSFER')
            as is_answered_end,
        event in ('ABANDON', 'EXITWITHTIMEOUT', 'EXITWITHKEY', 'EXITEMPTY', 'WITHDRAW', 'SYSCOMPAT') as is_exit,
        -- a visit: the events of one callid x queue from one ENTERQUEUE to the next
        sum((event = 'ENTERQUEUE')::int) over (
            partition by callid, queue_id
            order by epoch, event <> 'ENTERQUEUE'
            rows between unbounded preceding and current row
        ) as visit
    from call_lines
),

visits as (
    select
        callid,
        queue_id,
        visit,
        min(epoch) filter (where event = 'ENTERQUEUE') as enqueued_at,
        min(epoch) filter (where event = 'CONNECT') as connected_at,
        arg_min_null(wait_seconds, epoch) filter (where event = 'CONNECT') as connected_wait,
        min(epoch) filter (where is_answered_end) as completed_at,
        arg_min_null(wait_seconds, epoch) filter (where is_answered_end) as completed_wait,
        arg_min_null(talk_seconds, epoch) filter (where is_answered_end) as completed_talk,
        max(epoch) filter (where is_exit) as exit_at,
        arg_max_null(event, epoch) filter (where is_exit) as exit_event,
        arg_max_null(wait_seconds, epoch) filter (where is_exit) as exit_wait,
        max(epoch) filter (where event = 'AGENTDUMP') as dump_at,  -- ends the visit when nothing follows
        max(epoch) as last_at
    from events
    group by all
),

ended as (
    select
        *,
        connected_at is not null or completed_at is not null as is_answered,
        coalesce(dump_at = last_at and dump_at >= coalesce(exit_at, dump_at), false) as is_dumped
    from visits
),

stints as (
    select
        callid,
        case
            when is_answered then 'answered'
            when is_dumped or exit_event = 'ABANDON' then 'abandoned'
            when exit_event is not null then 'exited'
        end as outcome,
        case
            when is_answered then coalesce(connected_wait, completed_wait)
            when is_dumped then dump_at - enqueued_at
            else coalesce(exit_wait, exit_at - enqueued_at)
        end as wait_seconds,
        case when is_answered then completed_talk end as talk_seconds,
        case when is_answered then coalesce(connected_at, completed_at - completed_talk) end as answered_at,
        case when is_dumped then dump_at else exit_at end as exited_at,
        enqueued_at
    from ended
),

timed as (
    select
        callid,
        outcome,
        wait_seconds,
        talk_seconds,
        coalesce(enqueued_at, coalesce(answered_at, exited_at) - wait_seconds, exited_at) as entered_at
    from stints
    where outcome is not null  -- still queued, or its end is in a later file
),

contacts as (
    -- one contact per callid: answered if any stint was, else its last stint decides; its wait is the
    -- queue time up to and including the first answered stint; dated by its first queue entry (local)
    select
        callid,
        bool_or(outcome = 'answered') as is_answered,
        arg_max(outcome, entered_at) as last_outcome,
        case
            when bool_and(wait_seconds is not null) filter (
                where first_answered_at is null or entered_at <= first_answered_at
            )
                then sum(wait_seconds) filter (where first_answered_at is null or entered_at <= first_answered_at)
        end as wait_seconds,
        sum(talk_seconds) filter (where outcome = 'answered') as handle_seconds,
        min(entered_at) as first_entered_at
    from (
        select *, min(entered_at) filter (where outcome = 'answered') over (partition by callid) as first_answered_at
        from timed
    )
    group by all
),

flagged as (
    select
        cast(timezone($timezone, to_timestamp(first_entered_at)) as date) as kpi_date,
        is_answered,
        not is_answered and last_outcome = 'abandoned' as is_abandoned,
        wait_seconds,
        handle_seconds
    from contacts
),

counted as (
    select
        kpi_date,
        count(*) as offered_count,
        count(*) filter (where is_answered) as answered_count,
        count(*) filter (where is_abandoned) as abandoned_count,
        case when coalesce(bool_and(wait_seconds is not null) filter (where is_abandoned), true)
            then count(*) filter (where is_abandoned and wait_seconds < $short_seconds)
        end as short_abandoned_count,
        case when coalesce(bool_and(wait_seconds is not null) filter (where is_answered), true)
            then count(*) filter (where is_answered and wait_seconds <= $sl_seconds)
        end as answered_within_sl_count,
        case when bool_and(wait_seconds is not null) filter (where is_answered)
            then avg(wait_seconds) filter (where is_answered)
        end as asa_seconds,
        avg(handle_seconds) filter (where is_answered) as aht_seconds
    from flagged
    group by all
)

select
    kpi_date,
    offered_count,
    answered_count,
    abandoned_count,
    short_abandoned_count,
    answered_within_sl_count,
    answered_count / nullif(offered_count, 0) as answer_rate,
    answered_within_sl_count / nullif(offered_count - short_abandoned_count, 0) as service_level_rate,
    (abandoned_count - short_abandoned_count) / nullif(offered_count - short_abandoned_count, 0) as abandon_rate,
    asa_seconds,
    aht_seconds
from counted
order by kpi_date
"""


def floor_kpis(
    files: Sequence[Path],
    timezone: str = TIMEZONE,
    sl_seconds: float = SERVICE_LEVEL_SECONDS,
    short_seconds: float = SHORT_ABANDON_SECONDS,
    *,
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_dir: Path | None = None,
    progress_every: float | None = None,
) -> list[dict]:
    """The daily KPIs of the queue_log ``files`` by ``FLOOR_SQL``, one dict per local date."""
    import duckdb

    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute(f"set memory_limit = '{memory_limit or settings.duckdb_memory_limit()}'")
    con.execute(f"set threads = {threads or settings.duckdb_threads()}")
    con.execute("set enable_progress_bar = false")
    if temp_dir is not None:
        con.execute(f"set temp_directory = '{temp_dir}'")
    stop = threading.Event()
    if progress_every:
        began = time.perf_counter()

        def report() -> None:
            while not stop.wait(progress_every):
                done = con.query_progress()
                elapsed = time.perf_counter() - began
                if done > 0:
                    left = elapsed / done * (100 - done)
                    say(f"    floor: query {done:.0f}% after {fmt_seconds(elapsed)}, about {fmt_seconds(left)} left")
                else:  # query_progress stays at 0 for this query on DuckDB 2.0.1
                    say(f"    floor: query running, {fmt_seconds(elapsed)} (DuckDB reports no progress for this query)")

        threading.Thread(target=report, daemon=True).start()
    try:
        parameters = {
            "files": [str(f) for f in files], "timezone": timezone, "sl_seconds": sl_seconds,
            "short_seconds": short_seconds,
        }
        cursor = con.execute(FLOOR_SQL, parameters)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
    finally:
        stop.set()
        con.close()


# --- c. the pandas script -------------------------------------------------------------------------

PANDAS_COLUMNS = ["epoch", "callid", "queue_id", "agent", "event", "d1", "d2", "d3", "d4", "d5", "d6", "d7"]
ANSWERED_ENDS = ["COMPLETECALLER", "COMPLETEAGENT", "BLINDTRANSFER", "ATTENDEDTRANSFER", "TRANSFER"]
EXITS = ["ABANDON", "EXITWITHTIMEOUT", "EXITWITHKEY", "EXITEMPTY", "WITHDRAW", "SYSCOMPAT"]
CALL_VERBS = ["ENTERQUEUE", "CONNECT", *ANSWERED_ENDS, *EXITS, "AGENTDUMP"]


def _pandas_read(path: Path):
    """One queue_log file -> its call events: time, callid, queue, verb, queue wait, talk, a row hash."""
    import numpy as np
    import pandas as pd

    raw = pd.read_csv(
        path, sep="|", header=None, names=PANDAS_COLUMNS, dtype=str, quoting=csv.QUOTE_NONE,
        keep_default_na=False, na_values=[""],
    )
    raw = raw[raw["event"].isin(CALL_VERBS) & (raw["callid"] != "NONE") & (raw["queue_id"] != "NONE")]
    event = raw["event"]
    number = {name: pd.to_numeric(raw[name], errors="coerce") for name in ("d1", "d2", "d3", "d4")}
    wait = np.select(
        [
            event.isin(["CONNECT", "COMPLETECALLER", "COMPLETEAGENT"]),
            event.isin(["BLINDTRANSFER", "TRANSFER", "ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY", "WITHDRAW"]),
            event == "EXITWITHKEY",
        ],
        [number["d1"], number["d3"], number["d4"]],
        np.nan,
    )
    talk = np.select(
        [event.isin(["COMPLETECALLER", "COMPLETEAGENT"]), event.isin(["BLINDTRANSFER", "TRANSFER"])],
        [number["d2"], number["d4"]],
        np.nan,
    )
    attended = (event == "ATTENDEDTRANSFER").to_numpy()
    if attended.any():  # method and its data hold a variable number of |: count from the end
        data = raw.loc[attended, PANDAS_COLUMNS[5:]].itertuples(index=False)
        tails = [[value for value in row if isinstance(value, str)] for row in data]
        wait[attended] = [float(t[-3]) for t in tails]
        talk[attended] = [float(t[-2]) for t in tails]
    return pd.DataFrame(
        {
            "row_hash": pd.util.hash_pandas_object(raw, index=False).to_numpy(),  # an event delivered twice counts once
            "epoch": pd.to_numeric(raw["epoch"]).to_numpy(dtype="float64"),
            "callid": raw["callid"].to_numpy(),
            "queue_id": raw["queue_id"].to_numpy(),
            "event": pd.Categorical(event.to_numpy(), categories=CALL_VERBS),
            "wait": wait,
            "talk": talk,
        }
    )


def pandas_kpis(
    files: Sequence[Path],
    timezone: str = TIMEZONE,
    sl_seconds: float = SERVICE_LEVEL_SECONDS,
    short_seconds: float = SHORT_ABANDON_SECONDS,
    *,
    progress_every: float | None = None,
) -> list[dict]:
    """The daily KPIs of the queue_log ``files``, the straightforward pandas way (same rules as the floor)."""
    import numpy as np
    import pandas as pd

    began = time.perf_counter()
    last_report = began
    frames = []
    for number, path in enumerate(files, 1):
        frames.append(_pandas_read(path))
        now = time.perf_counter()
        if progress_every and (now - last_report >= progress_every or number == len(files)):
            last_report = now
            left = (now - began) / number * (len(files) - number)
            say(f"    pandas: read {number}/{len(files)} files, {sum(len(f) for f in frames):,} call events, "
                f"{fmt_seconds(now - began)}" + (f", about {fmt_seconds(left)} left to read" if left else ""))
    events = pd.concat(frames, ignore_index=True)
    del frames
    if progress_every:
        took = fmt_seconds(time.perf_counter() - began)
        say(f"    pandas: de-duplicating, sorting and grouping {len(events):,} events ({took})")
    events = events.drop_duplicates("row_hash")
    events["is_enter"] = events["event"] == "ENTERQUEUE"
    events = events.sort_values(
        ["callid", "queue_id", "epoch", "is_enter"], ascending=[True, True, True, False], kind="stable"
    )
    keys = ["callid", "queue_id", "visit"]
    events["visit"] = events.groupby(["callid", "queue_id"], sort=False)["is_enter"].cumsum()

    def pick(mask, keep: str = "first"):  # events are in time order within a visit
        return events[mask].drop_duplicates(keys, keep=keep).set_index(keys)  # noqa: F821 (`del` only after its last call)

    connect = pick(events["event"] == "CONNECT")
    completed = pick(events["event"].isin(ANSWERED_ENDS))
    exited = pick(events["event"].isin(EXITS), keep="last")
    visits = pd.concat(
        {
            "enqueued_at": pick(events["is_enter"])["epoch"],
            "connected_at": connect["epoch"],
            "connected_wait": connect["wait"],
            "completed_at": completed["epoch"],
            "completed_wait": completed["wait"],
            "talk": completed["talk"],
            "exit_at": exited["epoch"],
            "exit_event": exited["event"],
            "exit_wait": exited["wait"],
            "dump_at": pick(events["event"] == "AGENTDUMP", keep="last")["epoch"],
            "last_at": events.drop_duplicates(keys, keep="last").set_index(keys)["epoch"],
        },
        axis=1,
    )
    del events, connect, completed, exited
    if progress_every:
        say(f"    pandas: {len(visits):,} visits, rolling up contacts ({fmt_seconds(time.perf_counter() - began)})")
    dumped = (visits["dump_at"] == visits["last_at"]) & ~(visits["dump_at"] < visits["exit_at"])
    visits.loc[dumped, "exit_event"] = "AGENTDUMP"
    visits.loc[dumped, "exit_at"] = visits.loc[dumped, "dump_at"]
    visits.loc[dumped, "exit_wait"] = np.nan
    answered = (visits["connected_at"].notna() | visits["completed_at"].notna()).to_numpy()
    outcome = np.select(
        [answered, visits["exit_event"].isin(["ABANDON", "AGENTDUMP"]), visits["exit_event"].notna()],
        ["answered", "abandoned", "exited"],
        "",
    )
    wait = np.where(
        answered,
        visits["connected_wait"].fillna(visits["completed_wait"]),
        visits["exit_wait"].fillna(visits["exit_at"] - visits["enqueued_at"]),
    )
    answered_at = visits["connected_at"].fillna(visits["completed_at"] - visits["talk"]).where(answered)
    entered = visits["enqueued_at"].fillna(answered_at.fillna(visits["exit_at"]) - wait).fillna(visits["exit_at"])
    stints = pd.DataFrame(
        {
            "callid": visits.index.get_level_values("callid"),
            "outcome": outcome,
            "wait": wait,
            "talk": visits["talk"].where(answered).to_numpy(),
            "entered_at": entered.to_numpy(),
        }
    )
    del visits
    stints = stints[stints["outcome"] != ""].sort_values(["callid", "entered_at"], kind="stable")
    stints["is_answered"] = stints["outcome"] == "answered"
    first_answer = stints["entered_at"].where(stints["is_answered"]).groupby(stints["callid"]).transform("min")
    counted = first_answer.isna() | (stints["entered_at"] <= first_answer)
    by_contact = stints.groupby("callid", sort=False)
    contacts = pd.DataFrame(
        {
            "is_answered": by_contact["is_answered"].any(),
            "last_outcome": by_contact["outcome"].last(),
            "wait": stints["wait"].where(counted).groupby(stints["callid"], sort=False).sum(min_count=1),
            "wait_known": (stints["wait"].notna() | ~counted).groupby(stints["callid"], sort=False).all(),
            "handle": stints["talk"].groupby(stints["callid"], sort=False).sum(min_count=1),
            "first_entered_at": by_contact["entered_at"].min(),
        }
    )
    del stints
    contacts.loc[~contacts["wait_known"], "wait"] = np.nan
    local = pd.to_datetime(contacts["first_entered_at"], unit="s", utc=True).dt.tz_convert(timezone)
    contacts["kpi_date"] = local.dt.date
    contacts["is_abandoned"] = ~contacts["is_answered"] & (contacts["last_outcome"] == "abandoned")
    rows = []
    for day, group in contacts.groupby("kpi_date", sort=True):
        answered_contacts, abandoned_contacts = group[group["is_answered"]], group[group["is_abandoned"]]
        offered, answered_count, abandoned = len(group), len(answered_contacts), len(abandoned_contacts)
        abandoned_waits, answered_waits = abandoned_contacts["wait"], answered_contacts["wait"]
        short = int((abandoned_waits < short_seconds).sum()) if abandoned_waits.notna().all() else None
        within = int((answered_waits <= sl_seconds).sum()) if answered_waits.notna().all() else None
        rest = offered - short if short is not None else None
        asa = answered_waits.mean() if answered_count and answered_waits.notna().all() else None
        aht = answered_contacts["handle"].mean() if answered_count else None
        rows.append(
            {
                "kpi_date": day,
                "offered_count": offered,
                "answered_count": answered_count,
                "abandoned_count": abandoned,
                "short_abandoned_count": short,
                "answered_within_sl_count": within,
                "answer_rate": answered_count / offered if offered else None,
                "service_level_rate": within / rest if within is not None and rest else None,
                "abandon_rate": (abandoned - short) / rest if rest else None,
                "asa_seconds": None if asa is None or math.isnan(asa) else float(asa),
                "aht_seconds": None if aht is None or math.isnan(aht) else float(aht),
            }
        )
    return rows


# --- the check that makes the references fair -----------------------------------------------------


def pipeline_kpis(database: Path, start: dt.date, end: dt.date, tenant_id: str = TENANT_ID) -> list[dict]:
    """``marts.rpt_daily_kpis`` of one tenant and local dates [start, end] from a warehouse file."""
    import duckdb

    con = duckdb.connect(str(database), read_only=True)
    try:
        cursor = con.execute(
            f"select {', '.join(KPI_COLUMNS)} from marts.rpt_daily_kpis "
            "where tenant_id = ? and kpi_date between ? and ? order by kpi_date",
            [tenant_id, start, end],
        )
        return [dict(zip(KPI_COLUMNS, row)) for row in cursor.fetchall()]
    finally:
        con.close()


def _day_key(value: object) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def compare_kpis(reference: Iterable[dict], pipeline: Iterable[dict]) -> list[str]:
    """Differences between two daily-KPI lists: counts must agree exactly, rates and seconds to 1e-9."""
    ours = {_day_key(row["kpi_date"]): row for row in reference}
    theirs = {_day_key(row["kpi_date"]): row for row in pipeline}
    problems = [f"{day}: only in the reference" for day in sorted(ours.keys() - theirs.keys())]
    problems += [f"{day}: only in the pipeline" for day in sorted(theirs.keys() - ours.keys())]
    for day in sorted(ours.keys() & theirs.keys()):
        for name in KPI_COUNTS:
            if ours[day][name] != theirs[day][name]:
                problems.append(f"{day} {name}: reference {ours[day][name]}, pipeline {theirs[day][name]}")
        for name in KPI_FIGURES:
            a, b = ours[day][name], theirs[day][name]
            if a is None or b is None:
                agree = a is None and b is None
            else:
                agree = math.isclose(float(a), float(b), rel_tol=TOLERANCE, abs_tol=TOLERANCE)
            if not agree:
                problems.append(f"{day} {name}: reference {a!r}, pipeline {b!r}")
    return problems


# --- watching a child process: peak memory of its tree, progress ----------------------------------


@dataclass
class Watch:
    """Samples the summed VmRSS of a process and all its descendants every ``interval`` seconds.

    With ``files``, it also notes the last of them the tree had open (which file a load is reading).
    """

    pid: int
    interval: float = 0.2
    files: Sequence[Path] = ()
    peak_rss: int = 0
    peak_single: int = 0
    load_max: float = 0.0  # the machine's 1-minute load average, sampled once a second
    load_sum: float = 0.0
    load_samples: int = 0
    max_processes: int = 0
    last_file_index: int = -1
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        import psutil

        self._root = psutil.Process(self.pid)
        self._names = {str(Path(path).resolve()): index for index, path in enumerate(self.files)}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def processes(self) -> list:
        import psutil

        try:
            return [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            return []

    def _run(self) -> None:
        import psutil

        tick = 0
        while not self._stop.is_set():
            total = single = alive = 0
            processes = self.processes()
            for process in processes:
                with contextlib.suppress(psutil.Error):
                    rss = process.memory_info().rss
                    total += rss
                    single = max(single, rss)
                    alive += 1
            self.peak_rss = max(self.peak_rss, total)
            self.peak_single = max(self.peak_single, single)
            self.max_processes = max(self.max_processes, alive)
            if tick % 5 == 0:
                load = os.getloadavg()[0]
                self.load_max = max(self.load_max, load)
                self.load_sum += load
                self.load_samples += 1
            if self._names and tick % 5 == 0:  # once a second: the files the tree has open
                for process in processes:
                    with contextlib.suppress(psutil.Error):
                        for handle in process.open_files():
                            index = self._names.get(handle.path)
                            if index is not None:
                                self.last_file_index = max(self.last_file_index, index)
            tick += 1
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def figures(self) -> dict:
        return {
            "peak_rss_bytes": self.peak_rss,
            "load_average_max": round(self.load_max, 2),
            "load_average_mean": round(self.load_sum / self.load_samples, 2) if self.load_samples else None,
        }


def _cpu_seconds() -> float:
    """User + system CPU seconds of every finished child process and its descendants."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _reader(stream, sink: list[str], echo: Callable[[str], None] | None) -> threading.Thread:
    def run() -> None:
        for line in stream:
            sink.append(line.rstrip("\n"))
            if echo is not None:
                echo(line.rstrip("\n"))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


# --- the pipeline runs ----------------------------------------------------------------------------

LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z) ")
TASK_START = re.compile(r"\[DAG TEST\] starting task_id=(\w+)")
TASK_END = re.compile(r"\[DAG TEST\] end task task_id=(\w+)")
DBT_DONE = re.compile(r"\b(\d+) of (\d+) (?:OK|PASS|ERROR|FAIL|WARN|SKIP)\b")
TASKS = ("load", "build", "validate", "publish", "finish")


def _log_time(line: str) -> float | None:
    match = LOG_TIME.match(line)
    return dt.datetime.fromisoformat(match.group(1)).timestamp() if match else None


class RunProgress:
    """Follows a `callops run`: its progress file (callops.progress) when the measured commit writes
    one, else its Airflow log (the running task, dbt's node count) and the file the load has open."""

    def __init__(self, label: str, runs_dir: Path, files: Sequence[Path], watch: Watch, launched: float) -> None:
        self.label, self.runs_dir, self.files, self.watch, self.launched = label, runs_dir, files, watch, launched
        self.log: Path | None = None
        self.progress_file: Path | None = None
        self.offset = 0
        self.partial = ""
        self.task: str | None = None
        self.task_started = launched
        self.dbt_done = self.dbt_total = 0
        # the node times of the home's previous dbt build, in the order dbt ran them: the daily run's estimate
        self.previous: list[float] = []
        with contextlib.suppress(OSError, ValueError, KeyError):
            results = runs_dir.parent / "dbt" / "target" / "run_results.json"
            if results.stat().st_mtime < launched:
                self.previous = [n["execution_time"] for n in json.loads(results.read_text())["results"]]

    def _follow(self) -> None:
        if self.log is None:
            logs = [p for p in self.runs_dir.glob("*.log") if p.stat().st_mtime >= self.launched - 1]
            if not logs:
                return
            self.log = max(logs, key=lambda p: p.stat().st_mtime)
        with self.log.open("r", errors="replace") as handle:
            handle.seek(self.offset)
            text = self.partial + handle.read()
            self.offset = handle.tell()
        lines = text.split("\n")
        self.partial = lines.pop()
        for line in lines:
            if started := TASK_START.search(line):
                self.task, self.task_started = started.group(1), _log_time(line) or time.time()
            elif done := DBT_DONE.search(line):
                self.dbt_done, self.dbt_total = max(self.dbt_done, int(done.group(1))), int(done.group(2))

    def _progress_state(self) -> dict | None:
        if self.progress_file is None:
            found = [p for p in self.runs_dir.glob(f"*/{progress.PROGRESS_FILE}")
                     if p.stat().st_mtime >= self.launched - 1]
            if not found:
                return None
            self.progress_file = max(found, key=lambda p: p.stat().st_mtime)
        return progress.read(self.progress_file)

    def describe(self) -> str:
        with contextlib.suppress(OSError):
            self._follow()
        now = time.time()
        text = f"  {self.label} {fmt_seconds(now - self.launched)}: "
        in_task = now - self.task_started
        state = None
        with contextlib.suppress(OSError):
            state = self._progress_state()
        if state is not None:
            text += progress.describe(state, now)
        elif self.task is None:
            text += "starting Airflow (dags test)"
        elif self.task == "load":
            done = max(self.watch.last_file_index, 0)  # files before the one being read
            text += f"load, reading file {done + 1}/{len(self.files)}"
            if done:
                text += f", about {fmt_seconds(in_task / done * (len(self.files) - done))} left in load"
        elif self.task == "build":
            text += "build (dbt build: models and data tests)"
            done, total = self.dbt_done, self.dbt_total
            if not done:
                text += ", parsing the project"
            elif len(self.previous) == total and sum(self.previous[:done]) > 0:
                # the previous build's times of the nodes still to run, scaled by how this one compares so far
                left = sum(self.previous[done:]) * in_task / sum(self.previous[:done])
                text += f", {done}/{total} nodes, about {fmt_seconds(left)} left (by the last build's node times)"
            elif done >= total / 4:
                text += f", {done}/{total} nodes, about {fmt_seconds(in_task / done * (total - done))} left (rough)"
            else:  # models come first and cost most: a node count says little yet
                text += f", {done}/{total} nodes (no estimate before a quarter of them)"
        elif self.task == "validate":
            text += "validate (Great Expectations mart gate)"
        else:
            text += self.task
        return text + f"; peak RSS so far {fmt_bytes(self.watch.peak_rss)}"


@dataclass
class Bench:
    """Paths and environment of one benchmark run."""

    work: Path
    project: Path
    pythonpath: Path | None
    memory_limit: str
    threads: int
    progress_every: float

    def env(self, home: Path, snapshot: bool = True) -> dict[str, str]:
        """The children's environment; ``snapshot``: import callops from the --at-commit export."""
        env = dict(os.environ)
        env.update(
            {
                "CALLOPS_HOME": str(home),
                "CALLOPS_CONFIG": str(self.work / "callops.yml"),
                "CALLOPS_PROJECT_DIR": str(self.project),
                "CALLOPS_PSEUDONYM_KEY": PSEUDONYM_KEY,
                "CALLOPS_DUCKDB_MEMORY_LIMIT": self.memory_limit,
                "CALLOPS_DUCKDB_THREADS": str(self.threads),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if snapshot and self.pythonpath is not None:
            env["PYTHONPATH"] = str(self.pythonpath) + os.pathsep + env.get("PYTHONPATH", "")
        return env

    def cli(self) -> list[str]:
        script = Path(sys.executable).with_name("callops")
        if script.exists():
            return [str(script)]
        return [sys.executable, "-c", "import sys; from callops.cli import main; sys.exit(main())"]


def setup_home(bench: Bench, home: Path) -> float:
    """A fresh CALLOPS_HOME's one-off setup, untimed in the runs: Airflow metadata migration, a dbt parse."""
    began = time.perf_counter()
    code = (
        "from callops import airflow_runner, dbt\n"
        "airflow_runner.ensure_metadata_db()\n"
        "result = dbt.invoke('parse')\n"
        "raise SystemExit(0 if result.success else 1)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=bench.env(home), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"setting up {home} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return time.perf_counter() - began


def run_pipeline(bench: Bench, home: Path, label: str, start: dt.date, end: dt.date,
                 files: Sequence[Path], lines: int, contacts: int | None) -> dict:
    """`callops run --start --end` as a child process: wall time, peak memory, where the time went."""
    command = [*bench.cli(), "run", "--start", start.isoformat(), "--end", end.isoformat()]
    say(f"  $ CALLOPS_HOME={home} {' '.join(Path(c).name if i == 0 else c for i, c in enumerate(command))}")
    output: list[str] = []
    launched = time.time()
    cpu_before = _cpu_seconds()
    began = time.perf_counter()
    process = subprocess.Popen(command, env=bench.env(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    watch = Watch(process.pid, files=files)
    reader = _reader(process.stdout, output, None)
    progress = RunProgress(label, home / "runs", files, watch, launched)
    next_report = began + bench.progress_every
    while process.poll() is None:
        time.sleep(0.2)
        if time.perf_counter() >= next_report:
            try:
                say(progress.describe())
            except Exception as error:  # progress is a courtesy: it must never cost the measurement
                say(f"  {label}: (no progress: {type(error).__name__}: {error})")
            next_report += bench.progress_every
    seconds = time.perf_counter() - began
    ended = time.time()
    watch.stop()
    reader.join()
    (bench.work / "logs").mkdir(exist_ok=True)
    (bench.work / "logs" / f"{label}.out").write_text("\n".join(output) + "\n")
    run_id = next((m.group(1) for line in output if (m := re.match(r"callops run (\S+):", line))), None)
    for line in output:
        # the summary's lines on files, rows, checks and problems (an older commit's: its steps)
        summary_line = r"(files|rows|checks|published|problems) |  (load|build|validate|publish) "
        if re.match(summary_line, line) or line.startswith("result:"):
            say("    " + line.strip()[:160])
    result = {
        "seconds": seconds,
        "rows_per_second": lines / seconds,
        "contacts_per_second": contacts / seconds if contacts else None,
        "cpu_seconds": _cpu_seconds() - cpu_before,
        **watch.figures(),
        "peak_rss_single_bytes": watch.peak_single,
        "max_processes": watch.max_processes,
        "exit_code": process.returncode,
        "run_id": run_id,
        "breakdown": None,
    }
    if run_id is not None:
        try:
            result["breakdown"] = breakdown(home, run_id, launched, ended)
        except Exception as error:  # a breakdown we cannot read must not lose the measured figures
            result["breakdown"] = {"error": f"{type(error).__name__}: {error}"}
    return result


def breakdown(home: Path, run_id: str, launched: float, ended: float) -> dict:
    """Where a run's time went: Airflow task windows and bodies (log), ops.run_steps, dbt's run_results."""
    import duckdb

    tasks: dict[str, dict] = {}
    current = None
    first_task = last_task = None
    full_parse = None
    for line in (home / "runs" / f"{run_id}.log").read_text(errors="replace").splitlines():
        at = _log_time(line)
        if started := TASK_START.search(line):
            current = started.group(1)
            tasks[current] = {"start": at, "body_start": None, "body_end": None, "end": None}
            first_task = first_task or at
        elif (finished := TASK_END.search(line)) and finished.group(1) in tasks:
            tasks[finished.group(1)]["end"] = at
            last_task = at
            current = None
        elif current and at is not None:
            task = tasks[current]
            if "::endgroup::" in line and task["body_start"] is None:
                task["body_start"] = at
            elif "Done. Returned value" in line:
                task["body_end"] = at
        if "Unable to do partial parsing" in line or "Starting full parse" in line:
            full_parse = True
        elif full_parse is None and re.search(r"\bFound \d+ models", line):
            full_parse = False
    task_seconds = {}
    for name, task in tasks.items():
        body_start = task["body_start"] or task["start"]
        body_end = task["body_end"] or task["end"] or ended
        task_seconds[name] = {
            "seconds": (task["end"] or ended) - task["start"],
            "body_seconds": body_end - body_start,
        }
    con = duckdb.connect(str(home / "warehouse" / "build.duckdb"), read_only=True)
    try:
        started_at, finished_at = con.execute(
            "select started_at, finished_at from ops.runs where run_id = ?", [run_id]
        ).fetchone()
        finished = dict(con.execute(
            "select step, max(finished_at) from ops.run_steps where run_id = ? group by 1", [run_id]
        ).fetchall())
        # what writing the center's file and the tenants' took (callops.publish; null before issue 19)
        try:
            published = con.execute(
                "select arg_max(detail->'seconds', finished_at) from ops.run_steps "
                "where run_id = ? and step = 'publish'",
                [run_id],
            ).fetchone()[0]
        except duckdb.Error:  # a run log without the steps' detail
            published = None
    finally:
        con.close()
    steps, previous = {}, started_at
    for name in ("load", "build", "validate", "publish"):
        if name in finished:
            steps[name] = (finished[name] - previous).total_seconds()
            previous = finished[name]
    if finished_at is not None:
        steps["finish"] = (finished_at - previous).total_seconds()
    dbt = {}
    results_path = home / "dbt" / "target" / "run_results.json"
    if results_path.exists():
        results = json.loads(results_path.read_text())
        kinds: dict[str, list] = {}
        for node in results["results"]:
            kinds.setdefault(node["unique_id"].split(".")[0], []).append(node)
        build_body = task_seconds.get("build", {}).get("body_seconds")
        dbt = {
            "elapsed_seconds": results["elapsed_time"],
            "models": len(kinds.get("model", [])),
            "models_seconds": sum(n["execution_time"] for n in kinds.get("model", [])),
            "tests": len(kinds.get("test", [])),
            "tests_seconds": sum(n["execution_time"] for n in kinds.get("test", [])),
            "startup_seconds": build_body - results["elapsed_time"] if build_body else None,
            "full_parse": full_parse,
            "slowest": [
                {"node": n["unique_id"].split(".", 2)[-1][:90], "seconds": round(n["execution_time"], 2)}
                for n in sorted(results["results"], key=lambda n: -n["execution_time"])[:8]
            ],
            "tests_by_model": _tests_by_model(home / "dbt" / "target" / "manifest.json", kinds.get("test", [])),
        }
    bodies = sum(t["body_seconds"] for t in task_seconds.values())
    wall = ended - launched
    elapsed = dbt.get("elapsed_seconds")
    where = {
        "load": task_seconds.get("load", {}).get("body_seconds"),
        "dbt_startup_and_parse": dbt.get("startup_seconds"),
        "dbt_models": dbt.get("models_seconds"),
        "dbt_tests": dbt.get("tests_seconds"),
        # dbt's own bookkeeping between nodes
        "dbt_other": elapsed - dbt["models_seconds"] - dbt["tests_seconds"] if elapsed is not None else None,
        "gx_validate": task_seconds.get("validate", {}).get("body_seconds"),
        "publish": task_seconds.get("publish", {}).get("body_seconds"),
        "finish": task_seconds.get("finish", {}).get("body_seconds"),
        "airflow_and_cli": wall - bodies,  # process start, dags test, per-task overhead, the CLI's summary
    }
    return {
        "wall_seconds": wall,
        "where": where,
        "publish_files": json.loads(published) if isinstance(published, str) else published,
        "airflow_startup_seconds": (first_task - launched) if first_task else None,
        "after_last_task_seconds": (ended - last_task) if last_task else None,
        "tasks": task_seconds,
        "run_steps": steps,
        "dbt": dbt,
    }


def _tests_by_model(manifest_path: Path, tests: list[dict], top: int = 8) -> list[dict]:
    """The data tests' time summed by the model they test (a test on a view or an ephemeral model
    recomputes it), most expensive first."""
    if not manifest_path.exists():
        return []
    nodes = json.loads(manifest_path.read_text()).get("nodes", {})
    totals: dict[str, list] = {}
    for test in tests:
        parents = nodes.get(test["unique_id"], {}).get("depends_on", {}).get("nodes", [])
        model = next((p.split(".")[-1] for p in parents if p.startswith("model.")), "(sources)")
        entry = totals.setdefault(model, [0, 0.0])
        entry[0] += 1
        entry[1] += test["execution_time"]
    ranked = sorted(totals.items(), key=lambda item: -item[1][1])[:top]
    return [{"model": model, "tests": count, "seconds": round(seconds, 1)} for model, (count, seconds) in ranked]


# --- b, c as child processes ----------------------------------------------------------------------


def run_reference(bench: Bench, kind: str, files: Sequence[Path], lines: int) -> dict:
    """The floor or the pandas script in a fresh Python process: wall time, peak memory, its KPIs."""
    spec = {
        "kind": kind,
        "files": [str(f) for f in files],
        "memory_limit": bench.memory_limit,
        "threads": bench.threads,
        "temp_dir": str(bench.work / "duckdb_tmp"),
        "progress_every": bench.progress_every,
        "out": str(bench.work / f"{kind}.json"),
    }
    spec_path = bench.work / f"{kind}.spec.json"
    spec_path.write_text(json.dumps(spec))
    cpu_before = _cpu_seconds()
    began = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.pipeline", "--reference", str(spec_path)],
                               env=bench.env(bench.work / "home", snapshot=False), cwd=BENCHMARKS_ROOT)
    watch = Watch(process.pid)
    process.wait()
    seconds = time.perf_counter() - began
    watch.stop()
    if process.returncode != 0:
        raise RuntimeError(f"the {kind} reference failed (exit code {process.returncode})")
    out = json.loads(Path(spec["out"]).read_text())
    return {
        "seconds": seconds,
        "compute_seconds": out["seconds"],
        "rows_per_second": lines / seconds,
        "cpu_seconds": _cpu_seconds() - cpu_before,
        **watch.figures(),
        "maxrss_bytes": out["maxrss_bytes"],
        "rows": out["rows"],
        "agrees": None,
        "differences": [],
    }


def _reference_main(spec_path: str) -> int:
    import resource

    spec = json.loads(Path(spec_path).read_text())
    files = [Path(f) for f in spec["files"]]
    began = time.perf_counter()
    if spec["kind"] == "floor":
        Path(spec["temp_dir"]).mkdir(parents=True, exist_ok=True)
        rows = floor_kpis(files, memory_limit=spec["memory_limit"], threads=spec["threads"],
                          temp_dir=Path(spec["temp_dir"]), progress_every=spec["progress_every"])
    else:
        rows = pandas_kpis(files, progress_every=spec["progress_every"])
    seconds = time.perf_counter() - began
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    Path(spec["out"]).write_text(json.dumps(
        {"seconds": seconds, "maxrss_bytes": maxrss,
         "rows": [{k: _day_key(v) if k == "kpi_date" else v for k, v in row.items()} for row in rows]}
    ))
    return 0


# --- a. the workload ------------------------------------------------------------------------------


def count_lines(files: Iterable[Path]) -> tuple[int, int]:
    lines = size = 0
    for path in files:
        with path.open("rb") as handle:
            while block := handle.read(1 << 24):
                lines += block.count(b"\n")
                size += len(block)
    return lines, size


def day_files(landing: Path, day: dt.date) -> list[Path]:
    folder = landing / "telephony" / TENANT_ID / day.isoformat()
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def simulate(bench: Bench, home: Path, start: dt.date, days: int, calls_per_day: float, seed: int) -> float:
    command = [*bench.cli(), "simulate", "--tenants", "1", "--days", str(days), "--start", start.isoformat(),
               "--calls-per-day", f"{calls_per_day:g}", "--seed", str(seed), "--telephony-only"]
    say(f"  $ {' '.join(Path(c).name if i == 0 else c for i, c in enumerate(command))}")
    began = time.perf_counter()
    process = subprocess.Popen(command, env=bench.env(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    output: list[str] = []
    _reader(process.stdout, output, lambda line: say("    " + line)).join()
    if process.wait() != 0:
        raise RuntimeError("callops simulate failed:\n" + "\n".join(output[-20:]))
    return time.perf_counter() - began


# --- e1, e2. intraday: a chunk lands -------------------------------------------------------------

INTRADAY_MINUTES = 15
MORNING_BEFORE = "1000"  # local HHMM: the untimed run loads the chunks that start earlier (the morning so far)
CHUNK_NAME = re.compile(r"-(?P<day>\d{8})-(?P<time>\d{4})$")  # <usual file name>-YYYYMMDD-HHMM, the local start
IN_FLIGHT_SUFFIX = ".part"  # a transfer's name until it renames the file into place
AIRFLOW_POLL_SECONDS = 5  # CALLOPS_LANDING_POLL_SECONDS of the Airflow step: how often the watch looks, and settling
AIRFLOW_PASSWORD = "callops-bench-not-a-secret"  # the login of the bench's Airflow on 127.0.0.1 (never a real secret)
AIRFLOW_READY_SECONDS = 900  # its API server up, and its landing watch waiting with every landed file tried
AIRFLOW_STEADY_SECONDS = 3 * AIRFLOW_POLL_SECONDS  # ... for this long: no build run about to start either
AIRFLOW_PUBLISH_SECONDS = 900  # from the chunk's rename to a published file that lists it
AIRFLOW_FINISH_SECONDS = 300  # then the build run's last tasks, before Airflow is stopped
AIRFLOW_STOP_SECONDS = 120  # `callops airflow` gives running tasks 60 s, then stops its API server

# The day after the workload's last one, as `callops simulate --intraday-minutes M` writes it, from the workload's
# own plan (its start and end, so its roster): callops.simulate.run's job for that one day, which simulates
# the day before again for its spill into the day (the calls still going at midnight).
INTRADAY_CODE = """
import datetime as dt, json, sys
from pathlib import Path
from callops.config import load_config
from callops.simulate.run import Job, run_job, tenants_for
spec = json.loads(sys.argv[1])
day, start, end = (dt.date.fromisoformat(spec[key]) for key in ("day", "start", "end"))
(tenant,) = tenants_for(load_config().tenants, 1)
run_job(Job(tenant, 0, 1, day, day, start, end, spec["calls_per_day"], spec["seed"], Path(spec["landing"]),
            write_feeds=False, intraday_minutes=spec["minutes"]))
"""


def simulate_intraday(bench: Bench, home: Path, landing: Path, start: dt.date, end: dt.date, day: dt.date,
                      calls_per_day: float, seed: int) -> float:
    """``day``, the day after the workload's [start, end], in INTRADAY_MINUTES chunks under ``landing``."""
    spec = {"day": day.isoformat(), "start": start.isoformat(), "end": end.isoformat(),
            "calls_per_day": float(calls_per_day), "seed": seed, "landing": str(landing), "minutes": INTRADAY_MINUTES}
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", INTRADAY_CODE, json.dumps(spec)], env=bench.env(home),
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"simulating {day} in chunks failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - began


def chunk_start(path: Path) -> str | None:
    """``YYYYMMDDHHMM``, the local start of an intraday chunk, from its name; None for another file."""
    match = CHUNK_NAME.search(path.name)
    return match["day"] + match["time"] if match else None


def split_chunks(folder: Path) -> tuple[list[Path], list[Path]]:
    """A chunked day folder's chunks in time order: those starting before MORNING_BEFORE, and the rest."""
    chunks = sorted((p for p in folder.iterdir() if chunk_start(p)), key=lambda p: (chunk_start(p), p.name))
    morning = [p for p in chunks if chunk_start(p)[8:] < MORNING_BEFORE]
    return morning, [p for p in chunks if p not in morning]


def spill_included(chunks: Iterable[Path], spill: Iterable[Path]) -> bool | None:
    """Whether every line the workload wrote into the chunked day (its last day's calls past midnight) is in
    the chunks: then they continue the workload. None when the workload wrote nothing into that day."""
    want = collections.Counter(line for path in spill for line in path.read_bytes().splitlines())
    if not want:
        return None
    have = collections.Counter(line for path in chunks for line in path.read_bytes().splitlines())
    return not want - have


def land(source: Path, folder: Path) -> Path:
    """Deliver a file as a transfer does: written under an in-flight name, then renamed into place (its
    modification time is the transfer's, so it settles like a real delivery)."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / source.name
    partial = folder / (source.name + IN_FLIGHT_SUFFIX)
    shutil.copyfile(source, partial)
    os.replace(partial, final)
    return final


def run_intraday(bench: Bench, record: dict, home: Path, sources: Path, held: Path, start: dt.date,
                 daily_day: dt.date, calls_per_day: float, seed: int, airflow: bool) -> None:
    """Steps e1 and e2 on the daily run's home, into ``record["intraday"]`` and the two figures."""
    day = daily_day + dt.timedelta(days=1)
    intraday = record["intraday"] = {"day": day.isoformat(), "chunk_minutes": INTRADAY_MINUTES, "error": None}
    say(f"\n[e1] intraday: {day} in {INTRADAY_MINUTES}-minute chunks, the workload's next day")
    try:
        intraday["simulate_seconds"] = simulate_intraday(bench, home, sources, start, daily_day, day, calls_per_day,
                                                         seed)
    except RuntimeError as error:
        intraday["error"] = str(error)
        say(f"  {error}")
        return
    source = sources / "telephony" / TENANT_ID / day.isoformat()
    morning, later = split_chunks(source)
    spill = held / day.isoformat()
    intraday["continues_workload"] = spill_included(
        [*morning, *later], sorted(spill.iterdir()) if spill.is_dir() else []
    )
    if intraday["continues_workload"] is False:
        say("  WARNING: the chunks lack lines the workload wrote into that day: not the workload's next day")
    if not morning or not later:
        intraday["error"] = f"no chunk of {day} starts {'before' if not morning else 'at or after'} {MORNING_BEFORE}"
        say(f"  {intraday['error']}")
        return
    folder = home / "landing" / "telephony" / TENANT_ID / day.isoformat()
    landed = [land(path, folder) for path in morning]
    lines = count_lines(landed)[0]
    say(f"  the morning so far: {len(morning)} chunks before {MORNING_BEFORE[:2]}:{MORNING_BEFORE[2:]} "
        f"({lines:,} lines), loaded by one untimed run")
    run = run_pipeline(bench, home, "intraday_morning", day, day, landed, lines, None)
    intraday["morning"] = {"chunks": len(morning), "lines": lines, "seconds": run["seconds"],
                           "exit_code": run["exit_code"]}
    chunk = later[0]
    intraday["chunk"], intraday["lines"] = chunk.name, count_lines([chunk])[0]
    say(f"  then {chunk.name} ({intraday['lines']:,} lines) renamed into place, and `callops run` of {day} timed")
    landed = land(chunk, folder)
    intraday["run"] = run_pipeline(bench, home, "intraday", day, day, [landed], intraday["lines"], None)
    record["intraday_seconds"] = intraday["run"]["seconds"]
    say(f"  {intraday['run']['seconds']:.1f} s")
    if not airflow:
        return
    if len(later) < 2:
        intraday["airflow"] = {"error": f"no chunk of {day} after {chunk.name}"}
        return
    say(f"\n[e2] intraday through Airflow: `callops airflow` (make airflow) with CALLOPS_LANDING_POLL_SECONDS="
        f"{AIRFLOW_POLL_SECONDS}, then {later[1].name} renamed into place")
    intraday["airflow"] = airflow_latency(bench, home, later[1], folder)
    record["intraday_airflow_seconds"] = intraday["airflow"]["seconds"]
    if intraday["airflow"]["error"]:
        say(f"  failed: {intraday['airflow']['error']}")
    else:
        say(f"  {intraday['airflow']['seconds']:.1f} s from the rename to a published file listing it")


class AirflowApi:
    """The few REST calls the Airflow step waits on (Airflow's API server of `callops airflow`)."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.token: str | None = None

    def call(self, path: str, body: dict | None = None) -> dict:
        import urllib.request

        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, headers=headers,
                                         method="GET" if body is None else "POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")

    def up(self) -> bool:
        """The scheduler is healthy, and the bench is logged in."""
        if self.call("/api/v2/monitor/health")["scheduler"]["status"] != "healthy":
            return False
        self.token = self.call("/auth/token", {"username": "admin", "password": AIRFLOW_PASSWORD})["access_token"]
        return True

    def deferred(self, dag_id: str, task_id: str) -> bool:
        found = self.call(f"/api/v2/dags/{dag_id}/dagRuns/~/taskInstances?state=deferred")
        return any(ti["task_id"] == task_id for ti in found["task_instances"])

    def active_runs(self, dag_id: str) -> int:
        return self.call(f"/api/v2/dags/{dag_id}/dagRuns?state=queued&state=running")["total_entries"]


def every_file_tried(home: Path) -> bool:
    """Whether the landing watch's index (landing_seen.json) holds every file of the landing zone: the
    files `callops run` loaded are new to the watch, which tries each of them once when it starts."""
    try:
        tried = json.loads((home / "warehouse" / "landing_seen.json").read_text())["files"]
    except (OSError, ValueError, KeyError):
        return False
    landing = home / "landing"
    return all(
        f"landing/{path.relative_to(landing).as_posix()}" in tried
        for path in landing.rglob("*")
        if path.is_file() and not path.name.startswith(".") and not path.name.endswith(IN_FLIGHT_SUFFIX)
    )


def published_lists(center: Path, file_name: str) -> bool:
    """Whether a published center file's run log lists ``file_name`` as loaded: a publish after its load."""
    import duckdb

    con = duckdb.connect(str(center), read_only=True)
    try:
        return con.execute(
            "select count(*) > 0 from marts.run_deliveries where file_name = ? and action in ('loaded', 'replaced')",
            [file_name],
        ).fetchone()[0]
    finally:
        con.close()


def published_runs(center: Path, since: dt.datetime) -> list[dict]:
    """The runs of a published run log that started after ``since`` (UTC), seconds after it."""
    import duckdb

    con = duckdb.connect(str(center), read_only=True)
    try:
        rows = con.execute("select run_id, started_at, finished_at, status from marts.runs order by started_at")
        rows = rows.fetchall()
    finally:
        con.close()

    def after(at: dt.datetime | None) -> float | None:
        if at is None:
            return None
        at = at.astimezone(dt.UTC) if at.tzinfo else at.replace(tzinfo=dt.UTC)
        return round((at - since).total_seconds(), 1)

    return [{"run_id": run_id, "started_after_seconds": after(started), "finished_after_seconds": after(finished),
             "status": status} for run_id, started, finished, status in rows if started and after(started) >= -1]


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _note_tree(process: subprocess.Popen, tree: dict) -> None:
    """Add the process's descendants to ``tree`` (pid -> psutil.Process): Airflow's components, their
    workers and tasks."""
    import psutil

    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(process.pid).children(recursive=True):
            tree.setdefault(child.pid, child)


def stop_airflow(process: subprocess.Popen, tree: dict) -> tuple[float, list[int]]:
    """Stop `callops airflow` as Ctrl-C does (its components in order, running tasks given time to end),
    a second Ctrl-C if it takes too long, then kill whatever of its process tree is left (its components
    run in sessions of their own, out of its process group). Returns (seconds, the pids killed)."""
    import psutil

    _note_tree(process, tree)
    sessions = set()  # the components': each runs in a session of its own
    for child in tree.values():
        with contextlib.suppress(psutil.Error):
            if child.ppid() == process.pid:
                sessions.add(child.pid)
    began = time.perf_counter()
    for _ in range(2):
        if process.poll() is not None:
            break
        process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=AIRFLOW_STOP_SECONDS)
    seconds = time.perf_counter() - began
    for pid in psutil.pids():  # what the components left in their sessions
        with contextlib.suppress(OSError, psutil.Error):
            if os.getsid(pid) in sessions:
                tree.setdefault(pid, psutil.Process(pid))
    killed = []
    for child in tree.values():
        with contextlib.suppress(psutil.Error):
            if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                child.kill()
                killed.append(child.pid)
    if process.poll() is None:
        process.kill()
        process.wait()
    return seconds, killed


def airflow_latency(bench: Bench, home: Path, chunk: Path, folder: Path) -> dict:
    """`callops airflow` on ``home`` with CALLOPS_LANDING_POLL_SECONDS=AIRFLOW_POLL_SECONDS: once its landing
    watch waits, ``chunk`` renamed into ``folder``, and the seconds until a published center file lists
    it as loaded; then Airflow stopped, nothing of it left running."""
    from callops import runs

    result = {"seconds": None, "chunk": chunk.name, "lines": count_lines([chunk])[0],
              "poll_seconds": AIRFLOW_POLL_SECONDS, "ready_seconds": None, "runs": [], "stop_seconds": None,
              "killed_after_stop": None, "error": None}
    port = _free_port()
    env = bench.env(home) | {"CALLOPS_LANDING_POLL_SECONDS": str(AIRFLOW_POLL_SECONDS),
                             "CALLOPS_AIRFLOW_ADMIN_PASSWORD": AIRFLOW_PASSWORD}
    env.pop("AIRFLOW_HOME", None)  # callops puts it under CALLOPS_HOME
    command = [*bench.cli(), "airflow", "--port", str(port)]
    log_path = bench.work / "logs" / "airflow.out"
    log_path.parent.mkdir(exist_ok=True)
    say(f"  $ CALLOPS_HOME={home} CALLOPS_LANDING_POLL_SECONDS={AIRFLOW_POLL_SECONDS} callops airflow --port {port}"
        f"  (output: {log_path})")
    began = time.perf_counter()
    with log_path.open("w") as log:
        process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # the bench's own Ctrl-C stops it in `finally`
    tree: dict = {}
    api = AirflowApi(port)

    def until(what: str, check: Callable[[], bool], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        waited = time.monotonic()
        next_report = waited + bench.progress_every
        while True:
            _note_tree(process, tree)
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace").splitlines()[-15:]
                raise RuntimeError(f"callops airflow exited ({process.returncode}) while waiting for {what}:\n    "
                                   + "\n    ".join(tail))
            with contextlib.suppress(OSError, ValueError, KeyError):
                if check():
                    return
            now = time.monotonic()
            if now > deadline:
                raise RuntimeError(f"no {what} after {fmt_seconds(seconds)}")
            if now >= next_report:
                say(f"    waiting for {what}: {fmt_seconds(now - waited)}")
                next_report += bench.progress_every
            time.sleep(0.5)

    center = home / "published" / "callops.duckdb"
    seen: list = [None]

    def published() -> bool:
        import duckdb

        stat = center.stat()
        if (stat.st_ino, stat.st_mtime_ns) == seen[0]:
            return False
        try:
            found = published_lists(center, chunk.name)
        except duckdb.Error:  # caught being replaced: look again
            return False
        seen[0] = (stat.st_ino, stat.st_mtime_ns)
        return found

    waiting_since: list = [None]

    def steady() -> bool:
        """The landing watch waits, having tried every landed file, and no build runs: for a while."""
        idle = (every_file_tried(home) and api.deferred(runs.LANDING_WATCH_DAG_ID, "wait_for_new_files")
                and api.active_runs(runs.BUILD_DAG_ID) == 0)
        waiting_since[0] = (waiting_since[0] or time.monotonic()) if idle else None
        return idle and time.monotonic() - waiting_since[0] >= AIRFLOW_STEADY_SECONDS

    try:
        until("Airflow's API server and a healthy scheduler", api.up, AIRFLOW_READY_SECONDS)
        until("the landing watch to wait (every landed file tried once, its sensor deferred, no build running)",
              steady, AIRFLOW_READY_SECONDS)
        result["ready_seconds"] = time.perf_counter() - began
        say(f"  Airflow ready in {fmt_seconds(result['ready_seconds'])} (not timed); {chunk.name} renamed into place")
        landed_at = dt.datetime.now(dt.UTC)
        land(chunk, folder)
        renamed = time.perf_counter()
        until(f"a publish listing {chunk.name}", published, AIRFLOW_PUBLISH_SECONDS)
        result["seconds"] = time.perf_counter() - renamed
        with contextlib.suppress(Exception):  # which runs did it: a courtesy, never the measurement's cost
            result["runs"] = published_runs(center, landed_at)
        until("the build run to finish", lambda: api.active_runs(runs.BUILD_DAG_ID) == 0, AIRFLOW_FINISH_SECONDS)
    except Exception as error:
        result["error"] = f"{type(error).__name__}: {error}"
    finally:
        result["stop_seconds"], result["killed_after_stop"] = stop_airflow(process, tree)
        killed = result["killed_after_stop"]
        say(f"  Airflow stopped in {fmt_seconds(result['stop_seconds'])}"
            + (f"; killed {len(killed)} process(es) it left" if killed else ""))
    return result


# --- g. the report --------------------------------------------------------------------------------


def _git(project: Path, *args: str) -> str | None:
    done = subprocess.run(["git", "-C", str(project), *args], capture_output=True, text=True)
    return done.stdout.rstrip("\n") if done.returncode == 0 else None


def machine_info() -> dict:
    import duckdb
    import pandas
    import psutil

    cpu_model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for package in ("dbt-core", "dbt-duckdb", "apache-airflow", "great-expectations"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions[package] = version(package)
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "ram_bytes": psutil.virtual_memory().total,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pandas": pandas.__version__,
        **versions,
    }


def evaluate_targets(record: dict) -> tuple[dict, dict]:
    """Ratios and the issue's targets (None where a figure is missing)."""

    def seconds(step: str) -> float | None:
        value = record.get(step) or {}
        if value.get("exit_code") not in (None, 0):
            return None  # a failed run measured nothing comparable
        return value.get("seconds")

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    backfill, floor, pandas_, daily, empty = map(seconds, ("backfill", "floor", "pandas", "daily", "daily_empty"))
    ratios = {
        "backfill_over_floor": ratio(backfill, floor),
        "backfill_over_pandas": ratio(backfill, pandas_),
        "daily_over_empty": ratio(daily, empty),
    }
    peak = (record.get("backfill") or {}).get("peak_rss_bytes")
    intraday_run = (record.get("intraday") or {}).get("run") or {}
    intraday = record.get("intraday_seconds") if intraday_run.get("exit_code") == 0 else None

    def check(value: float | None, ok: Callable[[float], bool]) -> bool | None:
        return None if value is None else bool(ok(value))

    targets = {
        "backfill_within_5x_floor": check(ratios["backfill_over_floor"], lambda r: r <= BACKFILL_OVER_FLOOR_MAX),
        "backfill_faster_than_pandas": check(ratios["backfill_over_pandas"], lambda r: r < 1.0),
        "daily_under_30s": check(daily, lambda s: s < DAILY_SECONDS_MAX),
        "daily_within_1_5x_empty": check(ratios["daily_over_empty"], lambda r: r <= DAILY_OVER_EMPTY_MAX),
        "backfill_peak_rss_under_4gib": check(peak if backfill is not None else None, lambda b: b < PEAK_RSS_MAX_BYTES),
        "intraday_under_60s": check(intraday, lambda s: s <= INTRADAY_SECONDS_MAX),
    }
    return ratios, targets


def report_table(record: dict) -> str:
    """The step table: step, seconds, CPU seconds, rows/s, peak RSS, the machine's load, target, met?"""
    ratios, targets = record["ratios"], record["targets"]
    workload = record["workload"]

    def met(value: bool | None) -> str:
        return "?" if value is None else ("yes" if value else "NO")

    def fig(value: float | None, text: str) -> str:
        return "?" if value is None else text.format(value)

    days = workload["days"]
    rows: list[tuple[str, ...]] = []

    def step(name: str, key: str, *targets_: tuple[str, str], run: dict | None = None) -> None:
        value = run or record.get(key) or {}
        peak, cpu, load = value.get("peak_rss_bytes"), value.get("cpu_seconds"), value.get("load_average_max")
        first = targets_[0] if targets_ else ("", "")
        rows.append((
            name, fig(value.get("seconds"), "{:,.1f}"), "" if cpu is None else f"{cpu:,.0f}",
            fig(value.get("rows_per_second"), "{:,.0f}"), fmt_bytes(peak) if peak else "",
            "" if load is None else f"{load:.1f}", *first,
        ))
        for extra in targets_[1:]:
            rows.append(("", "", "", "", "", "", *extra))

    sim = workload.get("simulate_seconds")
    rows.append((f"workload: simulate {days + 1} days", fig(sim, "{:,.1f}"), "", "", "", "", "", ""))
    agree = {k: (record.get(k) or {}).get("agrees") for k in ("floor", "pandas")}
    step(f"DuckDB floor ({days} days)", "floor",
         ("equals published KPIs", met(agree["floor"])))
    step(f"pandas script ({days} days)", "pandas",
         ("equals published KPIs", met(agree["pandas"])))
    step(f"backfill: callops run, {days} days", "backfill",
         (f"<= 5 x floor: {fig(ratios['backfill_over_floor'], '{:.1f}')} x", met(targets["backfill_within_5x_floor"])),
         (f"< pandas: {fig(ratios['backfill_over_pandas'], '{:.2f}')} x", met(targets["backfill_faster_than_pandas"])),
         ("peak RSS < 4 GiB", met(targets["backfill_peak_rss_under_4gib"])))
    step("daily: 1 day on the history", "daily",
         ("< 30 s", met(targets["daily_under_30s"])),
         (f"<= 1.5 x empty: {fig(ratios['daily_over_empty'], '{:.2f}')} x", met(targets["daily_within_1_5x_empty"])))
    intraday = record.get("intraday") or {}
    if intraday.get("run"):
        step(f"intraday: a 15-min chunk, {intraday.get('day')}", "intraday",
             ("<= 60 s", met(targets["intraday_under_60s"])), run=intraday["run"])
    airflow = intraday.get("airflow") or {}
    if airflow:
        seconds = fig(record.get("intraday_airflow_seconds"), "{:,.1f}")
        rows.append(("intraday via Airflow: landed -> published", seconds, "", "", "", "",
                     "failed: see above" if airflow.get("error") else "(a figure)", ""))
    step("same day, empty warehouse", "daily_empty")
    step("a second tenant's day, on the history", "second_tenant")
    header = ("step", "seconds", "CPU s", "rows/s", "peak RSS", "load", "target", "met?")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {1, 2, 3, 4, 5}

    def line(cells: Sequence[str]) -> str:
        padded = (c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
        return "  ".join(padded).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def snapshot_published(home: Path, into: Path) -> Path:
    """A copy of what a run published (the center file and the tenants' files, not the versions): the
    serving phase serves each in turn. Returns the center file's copy."""
    published = home / "published"
    into.mkdir(parents=True)
    shutil.copy2(published / "callops.duckdb", into / "callops.duckdb")
    if (published / "tenants").is_dir():
        (into / "tenants").mkdir()
        for path in (published / "tenants").glob("*.duckdb"):
            shutil.copy2(path, into / "tenants" / path.name)
    return into / "callops.duckdb"


SERVED_KEYS = ("tables", "partitions_copied", "partitions_removed", "rows_copied")
SERVE_CODE = """
import json, sys
from pathlib import Path
from callops import serving
print(json.dumps(serving.publish(sys.argv[1], Path(sys.argv[2]))))
"""


def serve_published(bench: Bench, work: Path, published: dict[str, Path]) -> dict | None:
    """The PostgreSQL publish (callops.serving) of the backfill's published files (every partition is
    new) and then of the daily run's (only what changed), each in a child process against a local
    PostgreSQL 15 started for the bench: a figure, no target. None where no server can be started."""
    try:
        from tests.postgres import Server, Unavailable
    except ImportError:
        say("  skipped: the tests' PostgreSQL helper is not importable")
        return None
    try:
        server = Server()
    except Unavailable as why:
        say(f"  skipped: {why}")
        return None
    figures = {}
    try:
        home = work / "home_serving"
        home.mkdir()
        env = bench.env(home) | {"CALLOPS_SERVING_URL": server.url}
        for kind, center in published.items():
            began = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", SERVE_CODE, f"bench_{kind}", str(center)], env=env,
                                  capture_output=True, text=True)
            wall = time.perf_counter() - began
            if done.returncode != 0:
                figures[kind] = {"error": done.stderr[-2000:]}
                say(f"  {kind}: failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else '?'}")
                continue
            served = json.loads(done.stdout.strip().splitlines()[-1])
            figures[kind] = {
                "seconds": wall,  # the child process: interpreter start, DuckDB hashes, the transaction
                "publish_seconds": served.get("seconds"),
                **{key: served.get(key) for key in SERVED_KEYS},
            }
            say(f"  {kind}: {wall:.1f} s ({served.get('partitions_copied')} partitions, "
                f"{served.get('rows_copied'):,} rows copied)")
    finally:
        server.close()
    return figures


def tenant_files(record: dict) -> dict:
    """What writing the tenants' own files took in each run (callops.publish's ``seconds``), beside the
    center file's and the wallboard's (pipeline.publish_marts adds it): the time they add to a publish,
    and so to the run."""
    figures = {}
    for key in ("backfill", "daily", "daily_empty", "second_tenant"):
        files = (((record.get(key) or {}).get("breakdown") or {}).get("publish_files")) or {}
        if files:
            figures[key] = {"center_file_seconds": files.get("center_file"),
                            "tenant_files_seconds": files.get("tenant_files"),
                            "wallboard_seconds": files.get("wallboard")}
    return figures


def report_tenant_files(figures: dict) -> str:
    if not figures:
        return "tenant files: no figures (a run failed, or the commit publishes no tenant files)"
    return "tenant files (each tenant's own published file), seconds to write them beside the center file's:\n" + (
        "\n".join(
            f"  {key}: tenant files {item['tenant_files_seconds']:.2f} s, "
            f"center file {item['center_file_seconds']:.2f} s"
            + (f", wallboard {item['wallboard_seconds']:.2f} s" if item.get("wallboard_seconds") is not None else "")
            for key, item in figures.items()
            if item["tenant_files_seconds"] is not None and item["center_file_seconds"] is not None
        )
    )


def report_breakdown(label: str, run: dict | None) -> list[str]:
    detail = (run or {}).get("breakdown") or {}
    where = detail.get("where")
    if not where:
        return []
    total = detail["wall_seconds"]
    parts = ", ".join(
        f"{name} {value:.1f}s ({value / total:.0%})" for name, value in where.items() if value is not None
    )
    dbt = detail.get("dbt") or {}
    lines = [f"  {label} ({total:.1f}s): {parts}"]
    if dbt.get("slowest"):
        lines.append("    slowest dbt nodes: " + ", ".join(f"{n['node']} {n['seconds']}s" for n in dbt["slowest"][:5]))
    if dbt.get("tests_by_model"):
        lines.append("    dbt tests by the model they test: " + ", ".join(
            f"{t['model']} {t['seconds']}s ({t['tests']} tests)" for t in dbt["tests_by_model"][:5]))
    return lines


def new_record(when: dt.datetime, commit: str | None, dirty: list[str], source: str, memory_limit: str,
               threads: int) -> dict:
    """The record of one benchmark run, every figure still empty (keys: ``RECORD_KEYS``)."""
    return {
        "bench": RECORD_NAME,
        "date": when.isoformat(timespec="seconds"),
        "git_commit": commit,
        "git_dirty": dirty,
        "source": source,
        "machine": machine_info(),
        "load_average": {"start": list(os.getloadavg()), "end": None},  # other users of the machine
        "settings": {
            "duckdb_memory_limit": memory_limit,
            "duckdb_threads": threads,
            "rss_sample_seconds": 0.2,
            "rss_method": "sum of VmRSS over the child's process tree (shared pages counted per process)",
        },
        "workload": {},
        "setup": {},
        "floor": None,
        "pandas": None,
        "backfill": None,
        "daily": None,
        "intraday": None,
        "intraday_seconds": None,
        "intraday_airflow_seconds": None,
        "daily_empty": None,
        "second_tenant": None,
        "tenant_files": {},
        "serving": None,
        "ratios": {},
        "targets": {},
        "total_seconds": None,
    }


def record_path(directory: Path, when: dt.datetime, commit: str | None) -> Path:
    return directory / f"{when:%Y-%m-%dT%H%M}-{(commit or 'nocommit')[:7]}.json"


# --- main -----------------------------------------------------------------------------------------


def _prepare_work_dir(path: Path | None) -> Path:
    if path is None:
        return Path(tempfile.mkdtemp(prefix="callops-bench-"))
    path = path.resolve()
    marker = path / ".callops-bench"
    if path.exists() and any(path.iterdir()):
        if not marker.exists():
            raise SystemExit(
                f"benchmarks.pipeline: {path} exists and is not a benchmark work dir; choose another --work-dir"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help="days of history for the backfill (90)")
    parser.add_argument("--calls-per-day", type=float, default=DEFAULT_CALLS_PER_DAY, help="mean calls a day (100000)")
    parser.add_argument("--start", type=dt.date.fromisoformat, default=DEFAULT_START, help="first day (2026-03-04)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--work-dir", type=Path, help="where the workload and warehouses go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (default: removed at the end)")
    parser.add_argument("--record", action=argparse.BooleanOptionalAction, default=True,
                        help="write docs/bench/<date>T<HHMM>-<commit>.json (default: yes)")
    parser.add_argument("--at-commit", metavar="REV",
                        help="benchmark a clean export of this commit instead of the working tree")
    parser.add_argument("--progress-every", type=float, default=15.0, help="seconds between progress lines")
    parser.add_argument("--airflow", action=argparse.BooleanOptionalAction, default=True,
                        help="time a chunk through `callops airflow` (landed -> published; default: yes)")
    parser.add_argument("--reference", help=argparse.SUPPRESS)  # internal: run the floor or pandas from a spec
    args = parser.parse_args(argv)
    if args.reference:
        return _reference_main(args.reference)
    if args.days < 1 or args.calls_per_day <= 0:
        parser.error("--days and --calls-per-day must be positive")
    return run_bench(args)


def run_bench(args: argparse.Namespace) -> int:
    bench_began = time.perf_counter()
    when = dt.datetime.now(dt.UTC)
    repo = settings.project_dir()
    work = _prepare_work_dir(args.work_dir)
    project, pythonpath = repo, None
    if args.at_commit:
        commit = _git(repo, "rev-parse", "--verify", args.at_commit + "^{commit}")
        if commit is None:
            raise SystemExit(f"benchmarks.pipeline: {args.at_commit} is not a commit of {repo}")
        project = work / "src"
        project.mkdir()
        subprocess.run(f"git -C '{repo}' archive {commit} | tar -x -C '{project}'", shell=True, check=True)
        pythonpath = project / "include"
        dirty: list[str] = []
        source = f"commit {commit[:12]} (clean export)"
    else:
        commit = _git(repo, "rev-parse", "HEAD")
        status = _git(repo, "status", "--porcelain", "--untracked-files=no") or ""
        dirty = [line[3:] for line in status.splitlines()]
        source = "working tree" + (f" with {len(dirty)} uncommitted change(s)" if dirty else "")
    bench = Bench(work, project, pythonpath, settings.duckdb_memory_limit(), settings.duckdb_threads(),
                  args.progress_every)
    (work / "callops.yml").write_text(BENCH_CONFIG)
    home, empty_home = work / "home", work / "home_empty"
    start, days = args.start, args.days
    last = start + dt.timedelta(days=days - 1)
    daily_day = last + dt.timedelta(days=1)
    say(f"callops bench: {days} days x {args.calls_per_day:,.0f} calls a day (one queue_log tenant), "
        f"then day {days + 1} as the daily run")
    say(f"  source: {source}; commit {commit}; work dir {work}")
    say(f"  DuckDB caps for the pipeline and the floor: memory_limit {bench.memory_limit}, threads {bench.threads}")
    record = new_record(when, commit, dirty, source, bench.memory_limit, bench.threads)
    try:
        # a. workload
        say(f"\n[a] workload: callops simulate, {days + 1} delivery days from {start}")
        simulate_seconds = simulate(bench, home, start, days + 1, args.calls_per_day, args.seed)
        landing = home / "landing"
        held = work / "held"
        held.mkdir()
        tenant_dir = landing / "telephony" / TENANT_ID
        for folder in sorted(tenant_dir.iterdir()):
            if dt.date.fromisoformat(folder.name) > last:  # the daily day, and the next day's spill
                shutil.move(str(folder), held / folder.name)
        files = [f for d in range(days) for f in day_files(landing, start + dt.timedelta(days=d))]
        daily_files = sorted((held / daily_day.isoformat()).iterdir())
        lines, size = count_lines(files)
        daily_lines, daily_size = count_lines(daily_files)
        record["workload"] = {
            "days": days, "calls_per_day": args.calls_per_day, "start": start.isoformat(), "end": last.isoformat(),
            "daily_day": daily_day.isoformat(), "seed": args.seed, "tenant": TENANT_ID, "timezone": TIMEZONE,
            "format": "asterisk_queue_log", "files": len(files), "bytes": size, "lines": lines, "contacts": None,
            "daily_lines": daily_lines, "daily_bytes": daily_size, "simulate_seconds": simulate_seconds,
        }
        say(f"  {len(files)} files, {size / 1e9:.2f} GB, {lines:,} queue_log lines for the backfill; "
            f"held back {daily_day} ({daily_lines:,} lines) in {fmt_seconds(simulate_seconds)}")

        # b, c. the references
        say(f"\n[b] DuckDB floor: one query over the {len(files)} files")
        record["floor"] = run_reference(bench, "floor", files, lines)
        contacts = sum(row["offered_count"] for row in record["floor"]["rows"])
        record["workload"]["contacts"] = contacts
        say(f"  {record['floor']['seconds']:.1f} s, {contacts:,} contacts offered, "
            f"peak RSS {fmt_bytes(record['floor']['peak_rss_bytes'])}")
        say("\n[c] pandas script: read_csv each file, concat, groupby")
        record["pandas"] = run_reference(bench, "pandas", files, lines)
        say(f"  {record['pandas']['seconds']:.1f} s, peak RSS {fmt_bytes(record['pandas']['peak_rss_bytes'])}")

        # d. backfill
        say("\n[d] backfill: setting up a fresh CALLOPS_HOME (Airflow metadata, dbt parse; not timed)")
        record["setup"]["history_home_seconds"] = setup_home(bench, home)
        say(f"  set up in {fmt_seconds(record['setup']['history_home_seconds'])}; "
            f"callops run {start} to {last} ({len(files)} delivery days)")
        record["backfill"] = run_pipeline(bench, home, "backfill", start, last, files, lines, contacts)
        say(f"  {record['backfill']['seconds']:.1f} s, peak RSS {fmt_bytes(record['backfill']['peak_rss_bytes'])}")
        published_after = {"backfill": snapshot_published(home, work / "published_backfill")}
        published = home / "published" / "callops.duckdb"
        if record["backfill"]["exit_code"] == 0 and published.exists():
            published_rows = pipeline_kpis(published, start, last)
            for kind in ("floor", "pandas"):
                differences = compare_kpis(record[kind]["rows"], published_rows)
                record[kind]["agrees"] = not differences
                record[kind]["differences"] = differences[:20]
                say(f"  {kind} vs published marts.rpt_daily_kpis ({len(published_rows)} days): "
                    + ("equal" if not differences else f"{len(differences)} difference(s)"))
                for problem in differences[:10]:
                    say(f"    {problem}")

        # e. daily run on the history
        say(f"\n[e] daily run: {daily_day} on top of {days} days of history")
        shutil.move(str(held / daily_day.isoformat()), tenant_dir / daily_day.isoformat())
        daily_on_history = day_files(landing, daily_day)
        record["daily"] = run_pipeline(bench, home, "daily", daily_day, daily_day, daily_on_history, daily_lines, None)
        say(f"  {record['daily']['seconds']:.1f} s")
        published_after["daily"] = snapshot_published(home, work / "published_daily")

        # e1, e2. the next day in 15-minute chunks: a run right after a chunk lands, then Airflow's landing watch
        run_intraday(bench, record, home, work / "intraday", held, start, daily_day, args.calls_per_day, args.seed,
                     args.airflow)

        # f. the same day on an empty warehouse
        say("\n[f] the same day on an empty warehouse (fresh CALLOPS_HOME, same pseudonym key)")
        empty_dir = empty_home / "landing" / "telephony" / TENANT_ID / daily_day.isoformat()
        empty_dir.mkdir(parents=True)
        for path in daily_on_history:
            shutil.copy2(path, empty_dir / path.name)
        record["setup"]["empty_home_seconds"] = setup_home(bench, empty_home)
        record["daily_empty"] = run_pipeline(bench, empty_home, "empty", daily_day, daily_day,
                                             day_files(empty_home / "landing", daily_day), daily_lines, None)
        say(f"  {record['daily_empty']['seconds']:.1f} s")

        # g. a second tenant's day: two tenants' data, each published in its own file
        say(f"\n[g] a second tenant: {SECOND_TENANT_ID} delivers {daily_day} (a copy of the daily day's files)")
        second_dir = landing / "telephony" / SECOND_TENANT_ID / daily_day.isoformat()
        second_dir.mkdir(parents=True)
        for path in daily_on_history:
            shutil.copy2(path, second_dir / path.name)
        record["second_tenant"] = run_pipeline(bench, home, "second_tenant", daily_day, daily_day,
                                               sorted(second_dir.iterdir()), daily_lines, None)
        say(f"  {record['second_tenant']['seconds']:.1f} s")

        # h. serving from PostgreSQL: the backfill's and the daily run's published files, served in turn
        say("\n[h] serving from PostgreSQL (a local PostgreSQL 15): the backfill's published marts, then the daily's")
        record["serving"] = serve_published(bench, work, published_after)
    finally:
        for kind in ("floor", "pandas"):
            if record.get(kind):
                record[kind].pop("rows", None)
        record["ratios"], record["targets"] = evaluate_targets(record)
        record["tenant_files"] = tenant_files(record)
        record["total_seconds"] = time.perf_counter() - bench_began
        record["load_average"]["end"] = list(os.getloadavg())
        say("\n" + report_table(record))
        say(report_tenant_files(record["tenant_files"]))
        where = report_breakdown("backfill", record.get("backfill")) + report_breakdown("daily", record.get("daily"))
        where += report_breakdown("intraday", (record.get("intraday") or {}).get("run"))
        where += report_breakdown("empty", record.get("daily_empty"))
        where += report_breakdown("second tenant", record.get("second_tenant"))
        if where:
            say("\nwhere the time goes (task bodies from the Airflow log, dbt nodes from run_results.json):")
            say("\n".join(where))
        if args.record and record.get("backfill"):
            path = record_path(repo / "docs" / "bench", when, commit)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(record, indent=2) + "\n")
            say(f"\nrecord: {path.relative_to(repo) if path.is_relative_to(repo) else path}")
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            say(f"work dir kept: {work}")
        say(f"bench took {fmt_seconds(record['total_seconds'])}")
        print(json.dumps(record, default=str), flush=True)
    # a benchmark, not a timed test: missed targets are figures to report; a failed run or a reference
    # that disagrees with the pipeline makes the figures meaningless
    runs_ok = all((record.get(k) or {}).get("exit_code") == 0
                  for k in ("backfill", "daily", "daily_empty", "second_tenant"))
    intraday = record.get("intraday") or {}
    runs_ok = runs_ok and not intraday.get("error") and not (intraday.get("airflow") or {}).get("error") and all(
        (intraday.get(k) or {}).get("exit_code") == 0 for k in ("morning", "run"))
    return 0 if runs_ok and record["floor"]["agrees"] and record["pandas"]["agrees"] else 1


if __name__ == "__main__":
    sys.exit(main())
