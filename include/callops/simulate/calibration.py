"""The simulator against the real month (Anonymous Bank, February 1999): shapes side by side, and a figure.

    python -m callops.simulate.calibration [--out docs/simulator_vs_real.svg]

Reads ``docs/data/anonymous_bank/calls_1999-02.tsv`` (shipped with the repository, with its source
note) with DuckDB, simulates a bank-like tenant for four weeks (the real month's
mean volume, Asia/Jerusalem, staffed leaner than the Erlang C target as the real center was) and
compares: arrivals per local hour, the weekday pattern (the bank's Sun-Thu week mapped onto Mon-Fri,
see :mod:`callops.simulate.model`), the abandon share of queued-or-answered calls, and the service-time
quantiles. The figure is SVG, drawn here without a plotting library (matplotlib is not a dependency).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from callops import settings
from callops.config import Tenant
from callops.simulate.model import O_ABANDONED, O_ANSWERED, Params, plan_tenant, simulate_day

# The real month, shipped beside its source note (docs/data/anonymous_bank/SOURCE.md: a public data set).
REAL_TSV = settings.project_dir() / "docs" / "data" / "anonymous_bank" / "calls_1999-02.tsv"
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# The bank's staffing was leaner than an Erlang C plan for its service-level target: calibrated so the
# simulated abandon share lands near the real one with the real patience.
BANK_STAFFING_FACTOR = 0.66


@dataclass
class Shapes:
    hourly: np.ndarray  # share of calls per local hour (24)
    weekday: np.ndarray  # share of calls per weekday, Mon..Sun (real: Sun..Sat mapped onto Mon..Sun)
    abandon_share: float  # abandoned in queue / (answered + abandoned in queue)
    service_quantiles: np.ndarray  # talk seconds at QUANTILES
    service_log_hist: np.ndarray  # share of talk times per log10 bin (BINS)
    calls: int


BINS = np.linspace(0.5, 3.7, 17)  # log10 seconds: 3 s to 83 min


def real_shapes(path: Path = REAL_TSV) -> Shapes:
    """The real month's shapes (PHANTOM records excluded)."""
    import duckdb

    con = duckdb.connect()
    con.execute(
        f"""
        create view calls as
        select strptime(cast(date as varchar), '%y%m%d')::date as day,
            cast(split_part(vru_entry, ':', 1) as int) as hour,
            outcome, cast(q_time as int) as q_time, cast(ser_time as int) as ser_time, server
        from read_csv('{path}', delim = '\t', header = true, all_varchar = true)
        where outcome <> 'PHANTOM'
        """
    )
    hourly = np.zeros(24)
    for hour, count in con.execute("select hour, count(*) from calls group by 1").fetchall():
        hourly[hour] = count
    weekday = np.zeros(7)
    for dow, count in con.execute("select isodow(day), count(*) from calls group by 1").fetchall():
        weekday[dow % 7] = count  # ISO Sun=7 -> 0 (Mon), Mon=1 -> 1 (Tue), ..., Sat=6 -> 6 (Sun)
    abandoned, answered = con.execute(
        "select count(*) filter (outcome = 'HANG' and q_time > 0), count(*) filter (outcome = 'AGENT') from calls"
    ).fetchone()
    talk = np.array(
        [r[0] for r in con.execute(
            "select ser_time from calls where outcome = 'AGENT' and server <> 'NO_SERVER' and ser_time > 0"
        ).fetchall()],
        dtype=float,
    )
    total = int(hourly.sum())
    return Shapes(hourly / hourly.sum(), weekday / weekday.sum(), abandoned / (abandoned + answered),
                  np.quantile(talk, QUANTILES), _log_hist(talk), total)


def _log_hist(talk: np.ndarray) -> np.ndarray:
    counts, _ = np.histogram(np.log10(np.maximum(talk, 1)), bins=BINS)
    return counts / max(counts.sum(), 1)


def simulated_shapes(days: int = 28, seed: int = 1999, start: dt.date = dt.date(2026, 2, 2),
                     calls_per_day: float | None = None) -> Shapes:
    """Four weeks of a bank-like simulated tenant (Monday start), measured like the real month."""
    real_mean = 33066 / 28
    tenant = Tenant("anonymous_bank_sim", "Bank-like", "Asia/Jerusalem")
    params = Params(staffing_factor=BANK_STAFFING_FACTOR, vip_share=0.3, billing_share=0.15, transfer_share=0.02)
    end = start + dt.timedelta(days=days - 1)
    plan = plan_tenant(tenant, 0, 1, calls_per_day=calls_per_day or real_mean, seed=seed, start=start, end=end,
                       params=params, fmt="callops_contact_csv")
    hourly, weekday = np.zeros(24), np.zeros(7)
    talk: list[np.ndarray] = []
    abandoned = answered = 0
    for k in range(days):
        day = start + dt.timedelta(days=k)
        calls = simulate_day(plan, day)
        local_hours = ((calls.arrival - calls.midnight) // 3600).clip(0, 23)  # no DST in February
        hourly += np.bincount(local_hours, minlength=24)
        weekday[day.weekday()] += calls.contact_count
        first = calls.stint_no == 0
        answered_contacts = np.unique(calls.contact[calls.outcome == O_ANSWERED])
        answered += len(answered_contacts)
        last_abandon = (calls.outcome == O_ABANDONED) & ~np.isin(calls.contact, answered_contacts)
        abandoned += int(last_abandon.sum())
        talk.append(calls.talk[(calls.outcome == O_ANSWERED) & first].astype(float))
    all_talk = np.concatenate(talk)
    return Shapes(hourly / hourly.sum(), weekday / weekday.sum(), abandoned / (abandoned + answered),
                  np.quantile(all_talk, QUANTILES), _log_hist(all_talk), int(hourly.sum()))


def comparison_table(real: Shapes, sim: Shapes) -> str:
    """A Markdown table of the figures side by side."""
    peak_real, peak_sim = int(np.argmax(real.hourly)), int(np.argmax(sim.hourly))
    rows = [
        ("calls in the month", f"{real.calls:,}", f"{sim.calls:,}"),
        ("peak hour (share of calls)", f"{peak_real}:00 ({real.hourly[peak_real]:.1%})",
         f"{peak_sim}:00 ({sim.hourly[peak_sim]:.1%})"),
        ("share 07:00-12:00 / 12:00-17:00 / 17:00-24:00",
         " / ".join(f"{real.hourly[a:b].sum():.1%}" for a, b in ((7, 12), (12, 17), (17, 24))),
         " / ".join(f"{sim.hourly[a:b].sum():.1%}" for a, b in ((7, 12), (12, 17), (17, 24)))),
        ("weekday shares Mon..Sun (real Sun..Sat)", " ".join(f"{x:.1%}" for x in real.weekday),
         " ".join(f"{x:.1%}" for x in sim.weekday)),
        ("abandon share (of answered + abandoned)", f"{real.abandon_share:.1%}", f"{sim.abandon_share:.1%}"),
        ("service time p10/p25/p50/p75/p90 (s)", "/".join(f"{x:.0f}" for x in real.service_quantiles),
         "/".join(f"{x:.0f}" for x in sim.service_quantiles)),
        ("hourly profile: max abs. share difference", "", f"{np.abs(real.hourly - sim.hourly).max():.2%}"),
    ]
    lines = ["| figure | real month (1999-02) | simulated (4 weeks) |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


# --- a small SVG chart writer ------------------------------------------------------------------------

REAL_COLOUR, SIM_COLOUR = "#1f77b4", "#d62728"


def _panel(x0: float, y0: float, w: float, h: float, title: str, xlabels: list[str], series: list[tuple],
           kind: str, ymax: float, yfmt: str) -> str:
    """One chart: `series` = [(name, colour, values)], lines or grouped bars, y from 0 to ymax."""
    left, bottom, top = 48, 34, 28
    pw, ph = w - left - 12, h - bottom - top
    px, py = x0 + left, y0 + top
    heading = f'<text x="{x0 + w / 2}" y="{y0 + 18}" text-anchor="middle" font-size="14" font-weight="bold">'
    out = [f"{heading}{title}</text>",
           f'<rect x="{px}" y="{py}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>']
    for k in range(5):
        value = ymax * k / 4
        y = py + ph - ph * k / 4
        out.append(f'<line x1="{px}" y1="{y:.1f}" x2="{px + pw}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{px - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{yfmt.format(value)}</text>')
    n = len(xlabels)
    step = pw / n
    every = max(1, math.ceil(n / 9))
    for i, label in enumerate(xlabels):
        if i % every == 0:
            out.append(f'<text x="{px + step * (i + 0.5):.1f}" y="{py + ph + 14}" text-anchor="middle" '
                       f'font-size="10">{label}</text>')
    for s, (name, colour, values) in enumerate(series):
        if kind == "bar":
            bw = step * 0.8 / len(series)
            for i, v in enumerate(values):
                bh = ph * min(v / ymax, 1)
                x = px + step * i + step * 0.1 + bw * s
                out.append(f'<rect x="{x:.1f}" y="{py + ph - bh:.1f}" width="{bw:.1f}" height="{bh:.1f}" '
                           f'fill="{colour}" opacity="0.85"/>')
        else:
            points = " ".join(f"{px + step * (i + 0.5):.1f},{py + ph - ph * min(v / ymax, 1):.1f}"
                              for i, v in enumerate(values))
            out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<rect x="{px + 8}" y="{py + 6 + 14 * s}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{px + 22}" y="{py + 15 + 14 * s}" font-size="11">{name}</text>')
    return "\n".join(out)


def figure_svg(real: Shapes, sim: Shapes) -> str:
    """2x2 figure: hourly profile, weekday pattern, service-time distribution, abandon share."""
    w, h = 520, 300
    centres = (BINS[:-1] + BINS[1:]) / 2
    parts = [
        _panel(0, 0, w, h, "Arrivals per local hour (share)", [str(i) for i in range(24)],
               [("real 1999-02", REAL_COLOUR, real.hourly), ("simulated", SIM_COLOUR, sim.hourly)],
               "line", max(real.hourly.max(), sim.hourly.max()) * 1.15, "{:.1%}"),
        _panel(w, 0, w, h, "Weekday pattern (real Sun-Sat mapped to Mon-Sun)", list(WEEKDAYS),
               [("real 1999-02", REAL_COLOUR, real.weekday), ("simulated", SIM_COLOUR, sim.weekday)],
               "bar", max(real.weekday.max(), sim.weekday.max()) * 1.15, "{:.1%}"),
        _panel(0, h, w, h, "Service time, log scale (share per bin)", [f"{10 ** c:.0f}s" for c in centres],
               [("real 1999-02", REAL_COLOUR, real.service_log_hist), ("simulated", SIM_COLOUR, sim.service_log_hist)],
               "line", max(real.service_log_hist.max(), sim.service_log_hist.max()) * 1.15, "{:.1%}"),
        _panel(w, h, w, h, "Abandon share and service-time quartiles / 1000 s", ["abandon", "p25", "p50", "p75"],
               [("real 1999-02", REAL_COLOUR, [real.abandon_share, *(real.service_quantiles[1:4] / 1000)]),
                ("simulated", SIM_COLOUR, [sim.abandon_share, *(sim.service_quantiles[1:4] / 1000)])],
               "bar", 0.3, "{:.2f}"),
    ]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * w}" height="{2 * h}" '
            f'font-family="Helvetica, Arial, sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n'
            + "\n".join(parts) + "\n</svg>\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m callops.simulate.calibration", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/simulator_vs_real.svg"),
                        help="the SVG figure to write (default: docs/simulator_vs_real.svg)")
    parser.add_argument("--real", type=Path, default=REAL_TSV,
                        help="the real month, tab-separated as published (default: the copy in docs/data/)")
    args = parser.parse_args(argv)
    real = real_shapes(args.real)
    sim = simulated_shapes()
    print(comparison_table(real, sim))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(figure_svg(real, sim), encoding="utf-8")
    print(f"\nfigure: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
