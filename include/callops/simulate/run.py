"""``callops simulate``: tenants x days of simulated deliveries, in parallel chunks, with progress on stderr.

Each worker takes one tenant and a run of consecutive days, simulates them one day at a time (bounded
memory: one tenant-day in memory, plus the lines that spill into the next delivery day) and writes
the delivery days of its run. Lines that belong to a later delivery day than the day they were
simulated on (calls past midnight, queue_log rotation, late CTR versions) are written by the chunk
that owns that delivery day: each chunk after the first re-simulates the day before its first day
only to collect them (one extra day per chunk of 7-28 days).
Same seed, same files, whatever the number of workers. With ``intraday_minutes`` each telephony file is
written as the M-minute chunks a source delivering during the day would have written (writers.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import multiprocessing
import os
import queue
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from callops import progress as progress_lines
from callops.config import Tenant
from callops.simulate import feeds
from callops.simulate.model import Params, Surge, plan_tenant, simulate_day, tenant_format
from callops.simulate.writers import TelephonyWriter

EXTRA_ZONES = ("America/New_York", "Asia/Shanghai", "Europe/Stockholm")


@dataclass(frozen=True)
class Job:
    tenant: Tenant
    index: int
    tenant_count: int
    first: dt.date  # first day of this chunk
    last: dt.date  # last day of this chunk
    start: dt.date  # the run
    end: dt.date
    calls_per_day: float
    seed: int
    landing: Path
    rotate_hour: int = 0
    overlap_seconds: int = 0
    params: Params = Params()
    write_feeds: bool = True
    fmt: str | None = None  # every tenant in this format instead of round-robin
    intraday_minutes: int | None = None  # telephony files in chunks of this many minutes


def tenants_for(configured: tuple[Tenant, ...], count: int) -> list[Tenant]:
    """The first `count` configured tenants; more are made up (``tenant_05`` ...) and are not in callops.yml."""
    tenants = list(configured[:count])
    for number in range(len(tenants), count):
        zone = EXTRA_ZONES[number % len(EXTRA_ZONES)]
        tenants.append(Tenant(id=f"tenant_{number + 1:02d}", name=f"Simulated tenant {number + 1}", timezone=zone))
    return tenants


# Where a worker says which day it starts and how many calls a finished day had (set by _init_worker).
_days_told = None


def _init_worker(days_told) -> None:
    global _days_told
    _days_told = days_told


def _tell(job: Job, day: dt.date, contacts: int | None = None, stints: int = 0) -> None:
    """A day started (``contacts`` None) or finished, for the progress lines."""
    if _days_told is not None:
        _days_told.put((job.tenant.id, job.first, day, contacts, stints))


def run_job(job: Job) -> tuple[int, int, int, float]:
    """Simulate and write one tenant's chunk of days; returns (days, contacts, stints, seconds)."""
    began = time.perf_counter()
    plan = plan_tenant(job.tenant, job.index, job.tenant_count, calls_per_day=job.calls_per_day, seed=job.seed,
                       start=job.start, end=job.end, params=job.params, fmt=job.fmt)
    window = (job.first, None if job.last == job.end else job.last)
    writers = [TelephonyWriter(plan.fmt, landing=job.landing, rotate_hour=job.rotate_hour,
                               overlap_seconds=job.overlap_seconds, window=window,
                               intraday_minutes=job.intraday_minutes)]
    if plan.fmt != "asterisk_queue_log":  # queue_log carries agent states itself
        writers.append(TelephonyWriter("callops_agent_state_csv", landing=job.landing, window=window,
                                       intraday_minutes=job.intraday_minutes))
    extra = feeds.FeedWriter(plan, job.landing, window=window) if job.write_feeds else None
    if job.first > job.start:  # the day before: only its spill into this chunk's first delivery day
        previous = simulate_day(plan, job.first - dt.timedelta(days=1))
        for writer in writers:
            writer.add(previous)
    contacts = stints = 0
    day = job.first
    while day <= job.last:
        _tell(job, day)
        calls = simulate_day(plan, day)
        for writer in writers:
            writer.add(calls)
        if extra is not None:
            extra.add(calls)
        contacts += calls.contact_count
        stints += calls.stint_count
        _tell(job, day, calls.contact_count, calls.stint_count)
        day += dt.timedelta(days=1)
    for writer in writers:
        writer.close()
    if extra is not None:
        extra.close(first_chunk=job.first == job.start)
    return (job.last - job.first).days + 1, contacts, stints, time.perf_counter() - began


class _Progress:
    """``callops simulate``'s progress lines: tenant-days and calls done of total, the days being
    simulated, time left; at most one line every ``every`` seconds, none for a shorter simulation,
    and a last one at the end when there were others. Takes the workers' ``_tell`` messages."""

    def __init__(self, stream: TextIO | None, total_days: int, every: float) -> None:
        self.stream, self.total_days = stream, total_days
        self.every = progress_lines.Every(every)
        self.began = time.perf_counter()
        self.days = self.contacts = self.stints = 0
        self.working: dict[tuple[str, dt.date], tuple[str, dt.date]] = {}  # chunk -> the day it is on

    def take(self, message: tuple) -> None:
        tenant_id, first, day, contacts, stints = message
        if contacts is None:
            self.working[tenant_id, first] = (tenant_id, day)
        else:
            self.days, self.contacts, self.stints = self.days + 1, self.contacts + contacts, self.stints + stints

    def put(self, message: tuple) -> None:  # a worker in this process (workers=1)
        self.take(message)
        self.report()

    def drain(self, told) -> None:  # the worker processes' messages, each reported as it is taken
        while True:
            try:
                self.take(told.get_nowait())
            except queue.Empty:
                return
            self.report()

    def chunk_done(self, job: Job) -> None:
        self.working.pop((job.tenant.id, job.first), None)

    def line(self, final: bool = False) -> str:
        elapsed = time.perf_counter() - self.began
        text = (f"simulate [{progress_lines.fmt_seconds(elapsed)}]: {'done, ' if final else ''}"
                f"{self.days}/{self.total_days} tenant-days, {self.contacts:,} calls ({self.stints:,} stints), "
                f"{self.contacts / elapsed if elapsed > 0 else 0:,.0f} calls/s")
        if final:
            return text
        if self.working:
            days = sorted(self.working.values(), key=lambda on: (on[1], on[0]))
            text += "; simulating " + ", ".join(f"{tenant} {day}" for tenant, day in days[:3])
            text += f" and {len(days) - 3} more" if len(days) > 3 else ""
        left = progress_lines.time_left(elapsed, self.days / self.total_days if self.total_days else None)
        return text + (f"; about {progress_lines.fmt_seconds(left)} left" if left is not None else "")

    def report(self, final: bool = False) -> None:
        if self.stream is None:
            return
        if not final and self.days >= self.total_days:
            return  # the last line says it
        due = self.every.count > 0 if final else self.every.due()  # the last line only after others
        if due:
            print(self.line(final), file=self.stream, flush=True)


def options_problem(intraday_minutes: int | None, overlap_seconds: int, surge: Surge | None) -> str | None:
    """What is wrong with the intraday and surge options, or None."""
    if intraday_minutes is not None:
        if not 1 <= intraday_minutes <= 1440:
            return f"--intraday-minutes must be 1-1440, not {intraday_minutes}"
        if overlap_seconds:
            return "--overlap-minutes repeats a whole file's tail in the next file: not with --intraday-minutes"
    return surge.problem() if surge is not None else None


def simulate(
    configured: tuple[Tenant, ...],
    *,
    tenants: int,
    days: int,
    start: dt.date,
    calls_per_day: float,
    seed: int,
    landing: Path,
    workers: int | None = None,
    rotate_hour: int = 0,
    overlap_seconds: int = 0,
    params: Params | None = None,
    write_feeds: bool = True,
    fmt: str | None = None,
    intraday_minutes: int | None = None,
    surge: Surge | None = None,
    progress: TextIO | None = sys.stderr,
    progress_every: float = progress_lines.PRINT_EVERY_SECONDS,
) -> dict:
    """Write `days` days from `start` for `tenants` tenants into `landing`; returns a summary.

    Progress lines go to ``progress`` (None: none), at most one every ``progress_every`` seconds.
    ``intraday_minutes``: telephony files in chunks of that many minutes; ``surge``: one queue's
    arrivals multiplied for a while on the last day. A ValueError says what is wrong with either.
    """
    if problem := options_problem(intraday_minutes, overlap_seconds, surge):
        raise ValueError(problem)
    if surge is not None:
        params = dataclasses.replace(params or Params(), surge=surge)
    end = start + dt.timedelta(days=days - 1)
    chosen = tenants_for(configured, tenants)
    workers = workers or max(1, min(os.cpu_count() or 1, 8))
    chunk = min(days, max(7, min(28, math.ceil(days * len(chosen) / (workers * 4)))))  # spill re-sim: 1 day a chunk
    jobs = []
    for index, tenant in enumerate(chosen):
        first = start
        while first <= end:
            last = min(end, first + dt.timedelta(days=chunk - 1))
            jobs.append(Job(tenant, index, len(chosen), first, last, start, end, float(calls_per_day), seed, landing,
                            rotate_hour, overlap_seconds, params or Params(), write_feeds, fmt, intraday_minutes))
            first = last + dt.timedelta(days=1)
    done_days = contacts = stints = 0
    began = time.perf_counter()
    lines = _Progress(progress, days * len(chosen), progress_every)
    if workers == 1:
        _init_worker(lines)  # in this process: the days go straight to the progress lines
        try:
            for job in jobs:
                d, c, s, _ = run_job(job)
                done_days, contacts, stints = done_days + d, contacts + c, stints + s
                lines.chunk_done(job)
        finally:
            _init_worker(None)
    else:
        told = multiprocessing.Queue()
        with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(told,)) as pool:
            futures = {pool.submit(run_job, job): job for job in jobs}
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                lines.drain(told)
                for future in finished:
                    d, c, s, _ = future.result()
                    done_days, contacts, stints = done_days + d, contacts + c, stints + s
                    lines.chunk_done(futures[future])
                lines.report()
        lines.drain(told)  # what the workers told after their last result was taken (all sent by their exit)
        told.close()
    elapsed = time.perf_counter() - began
    lines.days, lines.contacts, lines.stints = done_days, contacts, stints
    lines.report(final=True)
    return {
        "tenants": [t.id for t in chosen],
        "formats": [fmt or plan_format(i, len(chosen)) for i in range(len(chosen))],
        "days": days,
        "contacts": contacts,
        "stints": stints,
        "seconds": elapsed,
        "calls_per_second": contacts / elapsed if elapsed else 0.0,
    }


def plan_format(index: int, count: int) -> str:
    return tenant_format(index, count)
