"""Benchmark: calls/s at 100,000 contacts a day, per telephony format, and the projected time of a year.

    python -m benchmarks.simulator [--days 3] [--calls-per-day 100000] [--workers 2]

Runs the real command path (simulate, write every file, QA/HR/marketing feeds included) into a
temporary landing zone, one tenant per format, and projects a year of one tenant at that rate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

from callops.config import Tenant
from callops.simulate.model import FORMATS, plan_tenant, simulate_day
from callops.simulate.run import simulate
from callops.simulate.writers import TelephonyWriter


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.simulator")
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--calls-per-day", type=float, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--start", default="2026-03-02")
    args = parser.parse_args(argv)
    start = dt.date.fromisoformat(args.start)
    tenant = Tenant("bench", "Benchmark", "Europe/Stockholm")
    print(f"one tenant-day at {args.calls_per_day:,.0f} calls/day (weekday {start}), single process:")
    plan = plan_tenant(tenant, 0, 4, calls_per_day=args.calls_per_day, seed=1, start=start, end=start)
    began = time.perf_counter()
    calls = simulate_day(plan, start)
    sim = time.perf_counter() - began
    rate = calls.contact_count / sim
    print(f"  queue simulation      {calls.contact_count:8,d} calls {sim:6.2f} s {rate:9,.0f} calls/s")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in FORMATS:
            began = time.perf_counter()
            writer = TelephonyWriter(fmt, landing=Path(tmp))
            writer.add(calls)
            writer.close()
            took = time.perf_counter() - began
            print(f"  write {fmt:22s}{calls.contact_count:8,d} calls {took:6.2f} s "
                  f"{calls.contact_count / took:9,.0f} calls/s")
    with tempfile.TemporaryDirectory() as tmp:
        # the slowest format (Connect CTR, JSON) with every QA/HR/marketing feed, as `callops simulate` runs it
        tenants = (Tenant("bench_q", "Bench", "Europe/Stockholm"), Tenant("bench_ctr", "Bench CTR", "Europe/Stockholm"))
        print(f"\nfull command path: one amazon_connect_ctr tenant x {args.days} days, all feeds, "
              f"{args.workers} worker(s):")
        summary = simulate(tenants[1:], tenants=1, days=args.days, start=start, calls_per_day=args.calls_per_day,
                           seed=1, landing=Path(tmp), workers=args.workers, progress=None, fmt="amazon_connect_ctr")
    rate = summary["calls_per_second"]
    year = args.calls_per_day * 365
    print(f"  {summary['contacts']:,} calls in {summary['seconds']:.1f} s = {rate:,.0f} calls/s "
          f"({args.workers} workers, all files written)")
    print(f"  projected: a year of one tenant at {args.calls_per_day:,.0f}/day ({year / 1e6:.1f}M calls) "
          f"in {year / rate / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
