"""A small, realistic sample delivery in the callops contact CSV, for the demo and tests.

Per tenant and delivery day: arrivals over the local opening hours with
morning and afternoon peaks (fewer at weekends), exponential queue waits
against exponential caller patience (abandons), queue timeouts and exits by
key, overflows from one queue to another (two stints), IVR-contained and
outbound contacts, log-normal talk times, some hold and wrap-up. Timestamps
carry the tenant's UTC offset, so daylight-saving days come out right. The
same seed gives the same files.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
from pathlib import Path
from zoneinfo import ZoneInfo

from callops.config import Config, Tenant
from callops.contracts.telephony import CONTACT_CSV

FEED = "telephony"
OPEN_HOUR, CLOSE_HOUR = 8, 22
QUEUES = ("general", "billing")
AGENTS = tuple(f"agent_{n:02d}" for n in range(1, 26))


def _hour_weight(hour: float) -> float:
    """Two daily peaks (late morning, mid afternoon) over a base load."""
    return 0.35 + math.exp(-((hour - 10.5) ** 2) / 2.0) + 0.8 * math.exp(-((hour - 14.5) ** 2) / 3.0)


def _arrival_hours(rng: random.Random, count: int) -> list[float]:
    peak = max(_hour_weight(h / 10) for h in range(OPEN_HOUR * 10, CLOSE_HOUR * 10))
    hours: list[float] = []
    while len(hours) < count:
        hour = rng.uniform(OPEN_HOUR, CLOSE_HOUR)
        if rng.random() * peak <= _hour_weight(hour):
            hours.append(hour)
    return sorted(hours)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def contacts_for_day(tenant: Tenant, day: dt.date, calls_per_day: int, seed: int) -> list[dict]:
    rng = random.Random(f"{seed}/{tenant.id}/{day.isoformat()}")
    zone = ZoneInfo(tenant.timezone)
    volume = round(calls_per_day * (0.6 if day.weekday() >= 5 else 1.0) * rng.uniform(0.9, 1.1))
    rows: list[dict] = []
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    for number, hour in enumerate(_arrival_hours(rng, volume), start=1):
        entered = midnight + dt.timedelta(seconds=round(hour * 3600))
        contact_id = f"{tenant.id}-{day:%Y%m%d}-{number:05d}"
        caller = "" if rng.random() < 0.05 else f"+86138{rng.randrange(10**8):08d}"
        base = {"contact_id": contact_id, "caller_number": caller, "direction": "inbound"}
        kind = rng.random()
        if kind < 0.06:
            ended = entered + dt.timedelta(seconds=rng.randint(30, 180))
            ivr = {"queue_id": "", "outcome": "ivr_contained", "entered_at": _iso(entered), "ended_at": _iso(ended)}
            rows.append({**base, **ivr})
            continue
        if kind < 0.09:
            talk = round(rng.lognormvariate(math.log(150), 0.5))
            answered = entered + dt.timedelta(seconds=rng.randint(5, 25))
            rows.append(
                {
                    **base,
                    "direction": "outbound",
                    "queue_id": "outbound",
                    "outcome": "answered",
                    "entered_at": _iso(entered),
                    "answered_at": _iso(answered),
                    "ended_at": _iso(answered + dt.timedelta(seconds=talk)),
                    "wait_seconds": 0,
                    "talk_seconds": talk,
                    "agent_id": rng.choice(AGENTS),
                }
            )
            continue
        queue = rng.choice(QUEUES)
        if queue == "billing" and rng.random() < 0.15:
            # Overflow: billing gives up after 45 s and passes the caller to general.
            overflow_wait = 45
            rows.append(
                {
                    **base,
                    "queue_id": "billing",
                    "outcome": "overflow",
                    "entered_at": _iso(entered),
                    "ended_at": _iso(entered + dt.timedelta(seconds=overflow_wait)),
                    "wait_seconds": overflow_wait,
                }
            )
            entered, queue = entered + dt.timedelta(seconds=overflow_wait), "general"
        # Half the callers find a free agent at once; the rest queue (exponential wait).
        wait = rng.uniform(0, 3) if rng.random() < 0.5 else rng.expovariate(1 / 30)
        patience = rng.expovariate(1 / 120)
        leave = rng.random()
        stint = {**base, "queue_id": queue, "entered_at": _iso(entered)}
        if leave < 0.015:
            stint.update(outcome="timeout", wait_seconds=300, ended_at=_iso(entered + dt.timedelta(seconds=300)))
        elif leave < 0.025:
            waited = round(rng.uniform(10, 60))
            stint.update(outcome="exit_key", wait_seconds=waited, ended_at=_iso(entered + dt.timedelta(seconds=waited)))
        elif patience < wait:
            waited = round(patience)
            stint.update(
                outcome="abandoned", wait_seconds=waited, ended_at=_iso(entered + dt.timedelta(seconds=waited))
            )
        else:
            waited = round(wait)
            answered = entered + dt.timedelta(seconds=waited)
            talk = round(rng.lognormvariate(math.log(210), 0.55))
            hold = rng.randint(10, 90) if rng.random() < 0.2 else 0
            wrap = rng.randint(10, 60)
            stint.update(
                outcome="answered",
                wait_seconds=waited,
                answered_at=_iso(answered),
                ended_at=_iso(answered + dt.timedelta(seconds=talk + hold)),
                talk_seconds=talk,
                hold_seconds=hold,
                after_call_work_seconds=wrap,
                agent_id=rng.choice(AGENTS),
            )
        rows.append(stint)
    return rows


def write_sample(
    config: Config,
    start: dt.date,
    end: dt.date,
    *,
    calls_per_day: int,
    seed: int,
    landing: Path,
) -> list[tuple[Path, int]]:
    written = []
    day = start
    while day <= end:
        for tenant in config.tenants:
            rows = contacts_for_day(tenant, day, calls_per_day, seed)
            folder = landing / FEED / tenant.id / day.isoformat()
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"contacts_{day.isoformat()}.csv"
            partial = path.with_name(path.name + ".partial")
            with partial.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=CONTACT_CSV.names, lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows)
            partial.replace(path)  # appear whole: the loader skips *.partial files
            written.append((path, len(rows)))
        day += dt.timedelta(days=1)
    return written
