"""``callops simulate``: tenants x days of simulated deliveries, in parallel chunks, with progress on stderr.

Each worker takes one tenant and a run of consecutive days, simulates them one day at a time (bounded
memory: one tenant-day in memory, plus the lines that spill into the next delivery day) and writes
the delivery days of its run. Lines that belong to a later delivery day than the day they were
simulated on (calls past midnight, queue_log rotation, late CTR versions) are written by the chunk
that owns that delivery day: each chunk after the first re-simulates the day before its first day
only to collect them (one extra day per chunk of 7-28 days).
Same seed, same files, whatever the number of workers.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from callops.config import Tenant
from callops.simulate import feeds
from callops.simulate.model import Params, plan_tenant, simulate_day
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


def tenants_for(configured: tuple[Tenant, ...], count: int) -> list[Tenant]:
    """The first `count` configured tenants; more are made up (``tenant_05`` ...) and are not in callops.yml."""
    tenants = list(configured[:count])
    for number in range(len(tenants), count):
        zone = EXTRA_ZONES[number % len(EXTRA_ZONES)]
        tenants.append(Tenant(id=f"tenant_{number + 1:02d}", name=f"Simulated tenant {number + 1}", timezone=zone))
    return tenants


def run_job(job: Job) -> tuple[int, int, int, float]:
    """Simulate and write one tenant's chunk of days; returns (days, contacts, stints, seconds)."""
    began = time.perf_counter()
    plan = plan_tenant(job.tenant, job.index, job.tenant_count, calls_per_day=job.calls_per_day, seed=job.seed,
                       start=job.start, end=job.end, params=job.params, fmt=job.fmt)
    window = (job.first, None if job.last == job.end else job.last)
    writers = [TelephonyWriter(plan.fmt, landing=job.landing, rotate_hour=job.rotate_hour,
                               overlap_seconds=job.overlap_seconds, window=window)]
    if plan.fmt != "asterisk_queue_log":  # queue_log carries agent states itself
        writers.append(TelephonyWriter("callops_agent_state_csv", landing=job.landing, window=window))
    extra = feeds.FeedWriter(plan, job.landing, window=window) if job.write_feeds else None
    if job.first > job.start:  # the day before: only its spill into this chunk's first delivery day
        previous = simulate_day(plan, job.first - dt.timedelta(days=1))
        for writer in writers:
            writer.add(previous)
    contacts = stints = 0
    day = job.first
    while day <= job.last:
        calls = simulate_day(plan, day)
        for writer in writers:
            writer.add(calls)
        if extra is not None:
            extra.add(calls)
        contacts += calls.contact_count
        stints += calls.stint_count
        day += dt.timedelta(days=1)
    for writer in writers:
        writer.close()
    if extra is not None:
        extra.close(first_chunk=job.first == job.start)
    return (job.last - job.first).days + 1, contacts, stints, time.perf_counter() - began


def _fmt_seconds(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


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
    progress: TextIO | None = sys.stderr,
) -> dict:
    """Write `days` days from `start` for `tenants` tenants into `landing`; returns a summary."""
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
                            rotate_hour, overlap_seconds, params or Params(), write_feeds, fmt))
            first = last + dt.timedelta(days=1)
    total_days = days * len(chosen)
    done_days = contacts = stints = 0
    began = time.perf_counter()

    def report(final: bool = False) -> None:
        if progress is None:
            return
        elapsed = time.perf_counter() - began
        rate = contacts / elapsed if elapsed > 0 else 0.0
        left = elapsed / done_days * (total_days - done_days) if done_days else float("nan")
        eta = "" if final or not done_days else f", about {_fmt_seconds(left)} left"
        print(f"simulate: {done_days}/{total_days} tenant-days, {contacts:,} calls ({stints:,} stints), "
              f"{rate:,.0f} calls/s, {_fmt_seconds(elapsed)} elapsed{eta}", file=progress, flush=True)

    if progress is not None:
        formats = ", ".join(f"{t.id}={fmt or plan_format(i, len(chosen))}" for i, t in enumerate(chosen))
        print(f"simulate: {len(chosen)} tenant(s) x {days} day(s) from {start} ({formats}), "
              f"~{calls_per_day:,.0f} calls/day each, seed {seed}, {workers} worker(s), {len(jobs)} chunk(s)",
              file=progress, flush=True)
    if workers == 1:
        for job in jobs:
            d, c, s, _ = run_job(job)
            done_days, contacts, stints = done_days + d, contacts + c, stints + s
            report()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(run_job, job) for job in jobs]
            for future in as_completed(futures):
                d, c, s, _ = future.result()
                done_days, contacts, stints = done_days + d, contacts + c, stints + s
                report()
    elapsed = time.perf_counter() - began
    report(final=True)
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
    from callops.simulate.model import tenant_format

    return tenant_format(index, count)
