"""Benchmark: Erlang C and Erlang A agent searches (``callops.staffing``) on a year of intervals.

    python -m benchmarks.staffing [--intervals 350400]

A year of 30-minute intervals for 20 queues (17,520 x 20 = 350,400) with a random, realistic load;
prints the intervals per second of ``erlang_c_agents`` and ``erlang_a_agents``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np

from callops.staffing import erlang_a_agents, erlang_c_agents


def bench(intervals: int = 350_400, seed: int = 7) -> list[tuple[str, float]]:
    """Time the agent searches on a year of 30-minute intervals for 20 queues (random realistic load)."""
    rng = np.random.default_rng(seed)
    hour = (np.arange(intervals) % 48) / 2.0
    daily_shape = np.clip(np.sin((hour - 7.0) / 14.0 * math.pi), 0.0, None)  # busy 7:00-21:00, quiet at night
    queue_size = rng.uniform(20, 250, size=intervals)  # calls per half hour at the peak, per queue
    calls = rng.poisson(queue_size * daily_shape).astype(float)
    aht = rng.uniform(120, 480, size=intervals)
    patience = rng.uniform(60, 600, size=intervals)
    timings = []
    for name, run in (
        ("erlang_c_agents", lambda: erlang_c_agents(calls, 1800, aht, 0.8, 20)),
        ("erlang_a_agents", lambda: erlang_a_agents(calls, 1800, aht, patience, 0.8, 20)),
    ):
        started = time.perf_counter()
        agents = run()
        seconds = time.perf_counter() - started
        timings.append((name, seconds))
        print(
            f"{name:16s} {intervals:,} intervals in {seconds:.3f} s ({intervals / seconds:,.0f} intervals/s); "
            f"mean load {np.mean(calls * aht / 1800):.1f} E, max agents {np.nanmax(agents):.0f}",
            flush=True,
        )
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.staffing", description=__doc__.splitlines()[0])
    parser.add_argument("--intervals", type=int, default=350_400, help="intervals to search (350400)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.intervals < 1:
        parser.error("--intervals must be positive")
    bench(args.intervals, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
