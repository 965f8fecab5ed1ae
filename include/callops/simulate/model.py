"""The simulation model: arrivals, rosters and schedules, and the event-driven queue.

One tenant-day at a time, deterministically from ``(seed, tenant, day)``:

1. **Arrivals** are a non-homogeneous Poisson process, piecewise constant per local wall-clock hour
   (per-hour Poisson counts placed uniformly in the hour), shaped by the intraday profile and the
   weekday factors of the real month (``calls_1999-02.tsv``, an Israeli bank, week Sun-Thu; see
   :data:`HOURLY_PROFILES`). A day-level gamma factor adds the over-dispersion real days show.
2. **Staffing**: per half hour, Erlang C on the *forecast* (the profile without the day's noise) gives the
   agents a queue needs for the tenant's service-level target; a greedy cover turns that into 8.5-hour
   shifts with two breaks and a lunch, which are assigned to the rostered agents working that day.
   Absent agents never log in; some log in late.
3. **The queue** is an event-driven multi-server simulation per tenant: two agent pools (``front``
   serves ``vip`` before ``general``, ``back`` serves ``billing``), longest-idle agent first, FIFO
   within a queue, exponential caller patience, a queue timeout on ``billing`` that overflows the
   caller to ``general``, transfers of answered calls to the other pool's queue (a second stint),
   IVR containment before any queue. Waits, service level and abandons come out of this; none is
   drawn on its own.

Every time is an integer number of UTC epoch seconds, so all four writers render the same calls
exactly.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import zlib
from collections import deque
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from callops.config import Tenant

# --- the real month (calls_1999-02.tsv), arrivals per local hour -------------------------------------
# Sun-Thu (the bank's working week), Friday (short day) and Saturday (after the Sabbath) as day types.
# Mapped onto a Monday-Friday week: Sun-Thu -> Mon-Fri, Friday -> Saturday, Saturday -> Sunday, so a
# European or Chinese tenant keeps its two quiet days at the weekend and the real shapes stay intact.
REAL_HOURLY = {
    "weekday": (96, 30, 14, 4, 4, 19, 101, 810, 1905, 2169, 2499, 2259, 1880, 2408, 2301, 2268, 2322, 1890,
                1669, 1333, 1176, 1242, 1064, 814),
    "friday": (26, 2, 7, 3, 5, 3, 10, 94, 304, 296, 274, 298, 286, 186, 80, 26, 8, 4, 5, 3, 8, 3, 0, 1),
    "saturday": (0, 2, 0, 0, 0, 0, 0, 0, 0, 5, 1, 2, 0, 0, 4, 4, 5, 6, 21, 237, 165, 145, 124, 136),
}
# Calls per day of each type in the real month (4 of each weekday): Sun-Thu mean, Friday, Saturday.
REAL_DAILY = {"weekday": 1514.0, "friday": 483.0, "saturday": 214.25}
# Real Sun..Thu daily means, in that order, mapped onto Mon..Fri.
REAL_WEEKDAY_MEANS = (1531.25, 1431.5, 1586.25, 1573.0, 1447.25)
OPEN_HOUR = 7  # the bank's agents answered from 07:00; earlier callers hear the closed message (IVR)

# Service (talk) time: log-normal fitted to the real served calls (ln seconds: mean 4.607, sd 1.219).
TALK_LOG_MEAN, TALK_LOG_SD = 4.607, 1.219
# Caller patience: exponential, mean = abandons / total queue time of the real month (Brown et al. 2005).
PATIENCE_MEAN_SECONDS = 348.0


def _day_type(day: dt.date) -> str:
    return "friday" if day.weekday() == 5 else "saturday" if day.weekday() == 6 else "weekday"


def _profiles() -> dict[int, np.ndarray]:
    """Expected share of the *weekly mean* day's volume per local hour, for each Python weekday (Mon=0)."""
    week_total = sum(REAL_WEEKDAY_MEANS) + REAL_DAILY["friday"] + REAL_DAILY["saturday"]
    mean_day = week_total / 7.0
    out = {}
    for weekday in range(7):
        kind = "weekday" if weekday < 5 else "friday" if weekday == 5 else "saturday"
        daily = REAL_WEEKDAY_MEANS[weekday] if weekday < 5 else REAL_DAILY[kind]
        hourly = np.asarray(REAL_HOURLY[kind], dtype=float)
        out[weekday] = hourly / hourly.sum() * daily / mean_day
    return out


HOURLY_PROFILES = _profiles()  # weekday -> 24 factors; sum over the week = 7


# --- tenants, queues, agents ---------------------------------------------------------------------------

FORMATS = ("asterisk_queue_log", "amazon_connect_ctr", "callops_contact_csv", "asterisk_cdr")
THREE_TENANT_FORMATS = ("asterisk_queue_log", "amazon_connect_ctr", "callops_contact_csv")

QUEUES = ("general", "vip", "billing")
Q_GENERAL, Q_VIP, Q_BILLING = 0, 1, 2
POOL_OF_QUEUE = (0, 0, 1)  # front pool: vip + general; back pool: billing
POOL_QUEUES = ((Q_VIP, Q_GENERAL), (Q_BILLING,))  # priority order within a pool
POOLS = ("front", "back")
TRANSFER_TARGET = (Q_BILLING, Q_BILLING, Q_GENERAL)

# Outcomes of a stint (the contact CSV's words).
OUTCOMES = ("answered", "abandoned", "timeout", "overflow", "ivr_contained")
O_ANSWERED, O_ABANDONED, O_TIMEOUT, O_OVERFLOW, O_IVR = range(5)

# Agent state changes (the agent-state CSV's words).
STATES = ("logged_in", "ready", "paused", "logged_out")
S_LOGIN, S_READY, S_PAUSED, S_LOGOUT = range(4)
PAUSE_REASONS = ("Break", "Lunch")
COUNTRY_PREFIX = {"Asia/Shanghai": "+86138", "Europe/Stockholm": "+46701", "America/New_York": "+1212"}


@dataclass(frozen=True)
class Surge:
    """A surge of one queue's arrivals on the last simulated day: from ``start_minute`` after local
    midnight for ``minutes``, the queue's arrivals (after the IVR) are multiplied by ``factor``."""

    queue: str
    start_minute: int
    minutes: int
    factor: float

    def problem(self) -> str | None:
        """Why this surge cannot be simulated, or None."""
        if self.queue not in QUEUES:
            return f"no queue '{self.queue}': a simulated tenant's queues are {', '.join(QUEUES)}"
        if not self.factor > 0:
            return f"the surge factor must be above 0, not {self.factor:g}"
        if self.minutes < 1:
            return f"the surge must last at least a minute, not {self.minutes}"
        if not 0 <= self.start_minute < 1440 or self.start_minute + self.minutes > 1440:
            end = self.start_minute + self.minutes
            return (f"the surge {self.start_minute // 60:02d}:{self.start_minute % 60:02d} + {self.minutes} minutes "
                    f"ends at {end // 60:02d}:{end % 60:02d}, past midnight: it must end by 24:00")
        return None


@dataclass(frozen=True)
class Params:
    """Behaviour shares and times of a tenant's simulation (defaults near the real month where it tells)."""

    vip_share: float = 0.15
    billing_share: float = 0.22
    ivr_containment: float = 0.08
    transfer_share: float = 0.05
    billing_timeout_seconds: int = 120
    patience_mean_seconds: float = PATIENCE_MEAN_SECONDS
    talk_log_mean: float = TALK_LOG_MEAN
    talk_log_sd: float = TALK_LOG_SD
    hold_share: float = 0.15
    acw_median_seconds: float = 25.0
    ring_no_answer_share: float = 0.03
    day_noise_shape: float = 400.0  # gamma shape of the day's volume factor (cv = 1/sqrt(shape) = 5 %)
    staffing_factor: float = 1.0  # scheduled agents = Erlang C requirement x factor (calibration < 1)
    absence_rate: float = 0.04
    late_login_share: float = 0.2
    annual_attrition: float = 0.30
    new_hire_slowdown: float = 0.25  # talk time of a fresh hire is 25 % longer, fading over 120 days
    surge: Surge | None = None  # on the last day: not in the forecast the schedules are built from


@dataclass(frozen=True)
class Roster:
    """A tenant's agents over the simulated period (index = agent number)."""

    agent_ids: tuple[str, ...]
    pool: np.ndarray  # 0 front, 1 back
    hire_date: np.ndarray  # datetime64[D]
    leave_date: np.ndarray  # datetime64[D]; NaT while employed
    day_off: np.ndarray  # weekday (Mon=0) of each agent's first day off; the next day is off too
    team: tuple[str, ...]
    is_dispatched: np.ndarray  # labour-dispatch (劳务派遣) contract
    base_speed: np.ndarray  # personal talk-time factor

    def active(self, day: dt.date) -> np.ndarray:
        d = np.datetime64(day, "D")
        return (self.hire_date + np.timedelta64(7, "D") <= d) & ~(self.leave_date <= d)

    def speed(self, day: dt.date, slowdown: float) -> np.ndarray:
        tenure = (np.datetime64(day, "D") - self.hire_date).astype(float)
        return self.base_speed * (1.0 + slowdown * np.clip(1.0 - tenure / 120.0, 0.0, 1.0))


@dataclass(frozen=True)
class TenantPlan:
    """Everything fixed for a tenant over a run: identity, format, calls per day, roster, seed."""

    tenant: Tenant
    index: int
    fmt: str
    calls_per_day: float
    seed: int
    start: dt.date
    end: dt.date
    roster: Roster
    params: Params = field(default_factory=Params)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tenant.timezone)

    @property
    def caller_prefix(self) -> str:
        return COUNTRY_PREFIX.get(self.tenant.timezone, "+44770")


def tenant_format(index: int, tenant_count: int) -> str:
    """Round-robin formats; with exactly three tenants: queue_log, Connect CTR, contact CSV."""
    order = THREE_TENANT_FORMATS if tenant_count == 3 else FORMATS
    return order[index % len(order)]


def rng_for(seed: int, tenant_id: str, day: dt.date | None, stream: int = 0) -> np.random.Generator:
    """The generator of one (seed, tenant, day, stream): any day can be simulated on its own."""
    key = [seed & 0xFFFFFFFF, zlib.crc32(tenant_id.encode()), day.toordinal() if day else 0, stream]
    return np.random.default_rng(np.random.SeedSequence(key))


# --- staffing: Erlang C and shifts ---------------------------------------------------------------------

def erlang_c_agents(calls: float, aht: float, interval_seconds: float, target: float, threshold: float) -> int:
    """Fewest agents with SL(T) >= target (Erlang B recursion, no factorials); 0 for no calls."""
    if calls <= 0:
        return 0
    load = calls * aht / interval_seconds
    b, n = 1.0, 0
    while True:
        n += 1
        b = load * b / (n + load * b)
        if n <= load:
            continue
        c = n * b / (n - load * (1.0 - b))
        if 1.0 - c * math.exp(-(n - load) * threshold / aht) >= target:
            return n


SHIFT_SLOTS = 17  # 8.5 hours in half hours: 8 hours paid work plus a 30-minute lunch
BREAKS = ((2.0, 15 * 60, 0), (4.0, 30 * 60, 1), (6.5, 15 * 60, 0))  # (hours into shift, seconds, reason)
SHRINKAGE = 0.12  # breaks, lunch and absence, grossed up when scheduling


def shift_starts(required: np.ndarray) -> list[int]:
    """Greedy cover of required agents per half-hour slot (local) by 8.5-hour shifts: start slots."""
    slots = len(required)
    cover = np.zeros(slots, dtype=int)
    starts: list[int] = []
    last_start = slots - SHIFT_SLOTS
    for slot in range(slots):
        deficit = int(required[slot] - cover[slot])
        if deficit > 0:
            start = min(slot, last_start)
            starts.extend([start] * deficit)
            cover[start : start + SHIFT_SLOTS] += deficit
    return starts


# --- the day's calls -------------------------------------------------------------------------------------

@dataclass
class DayCalls:
    """One simulated tenant-day: contacts, queue stints and agent state changes (numpy columns, UTC epochs)."""

    plan: TenantPlan
    day: dt.date
    midnight: int  # epoch of local 00:00
    next_midnight: int
    # contacts (index = contact number of the day)
    arrival: np.ndarray  # IVR entry
    queue_entry: np.ndarray  # first queue entry (= IVR exit); IVR end for contained calls
    is_vip: np.ndarray
    caller: list[str]
    # stints (one row per contact per queue, in creation order)
    contact: np.ndarray
    stint_no: np.ndarray
    queue: np.ndarray
    entered: np.ndarray
    outcome: np.ndarray
    answered: np.ndarray  # agent connect, -1 if none
    ended: np.ndarray  # caller leaves this queue / the agent call ends (talk + hold)
    talk: np.ndarray
    hold: np.ndarray
    acw: np.ndarray
    agent: np.ndarray  # roster index, -1 if none
    ring: np.ndarray  # ring seconds before connect (answered stints)
    ring_no_answer: np.ndarray  # an earlier unanswered ring of this many ms (0: none)
    position: np.ndarray  # queue position on entry
    transferred: np.ndarray  # the answered stint ended in a transfer
    # shifts and agent states
    shifts: list[tuple[int, int, int, bool, int]]  # (agent, start epoch, end epoch, absent, actual login epoch)
    breaks: list[tuple[int, int, int, int]]  # (agent, scheduled start epoch, seconds, reason)
    state_time: np.ndarray
    state_agent: np.ndarray
    state: np.ndarray
    state_reason: np.ndarray  # -1 none, else PAUSE_REASONS index
    state_queue_pool: np.ndarray
    cache: dict = field(default_factory=dict, repr=False)  # rendered ids, shared by the writers and feeds

    @property
    def stint_count(self) -> int:
        return len(self.contact)

    @property
    def contact_count(self) -> int:
        return len(self.arrival)


def local_epoch(zone: ZoneInfo, day: dt.date, seconds: float) -> int:
    """Epoch of a local wall-clock time `seconds` after local midnight of `day` (naive wall clock)."""
    # aware + timedelta is wall-clock arithmetic: 09:00 stays 09:00 on a 23- or 25-hour day
    return int((dt.datetime.combine(day, dt.time(), tzinfo=zone) + dt.timedelta(seconds=seconds)).timestamp())


def _day_hours(zone: ZoneInfo, day: dt.date) -> tuple[int, int, list[tuple[int, int]]]:
    """Local midnight, next midnight and the day's real hours as (UTC start epoch, local hour label)."""
    midnight = int(dt.datetime.combine(day, dt.time(), tzinfo=zone).timestamp())
    nxt = int(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone).timestamp())
    hours = []
    for start in range(midnight, nxt, 3600):
        label = dt.datetime.fromtimestamp(start, zone).hour
        hours.append((start, label))
    return midnight, nxt, hours


_STAFFING_CACHE: dict[tuple, tuple[list[int], list[int]]] = {}


def _required_agents(plan: TenantPlan, weekday: int) -> tuple[list[int], list[int]]:
    """Shift start slots (local half hours) per pool for a weekday, from the forecast (cached)."""
    p = plan.params
    key = (plan.calls_per_day, weekday, p, plan.tenant.service_level_target, plan.tenant.service_level_seconds)
    if key in _STAFFING_CACHE:
        return _STAFFING_CACHE[key]
    hourly = HOURLY_PROFILES[weekday] * plan.calls_per_day * (1 - p.ivr_containment)
    hourly[:OPEN_HOUR] = 0.0
    talk_mean = math.exp(p.talk_log_mean + p.talk_log_sd**2 / 2)
    aht = talk_mean * 1.05 + p.hold_share * 60 + p.acw_median_seconds * 1.1 + 8
    shares = {
        0: (1 - p.billing_share) + p.billing_share * p.transfer_share,
        1: p.billing_share + (1 - p.billing_share) * p.transfer_share,
    }
    result = []
    for pool in (0, 1):
        required = np.zeros(48, dtype=int)
        for slot in range(48):
            calls = hourly[slot // 2] / 2 * shares[pool]
            need = erlang_c_agents(
                calls, aht, 1800.0, plan.tenant.service_level_target, plan.tenant.service_level_seconds
            )
            required[slot] = math.ceil(need * p.staffing_factor / (1 - SHRINKAGE)) if need else 0
        required[: OPEN_HOUR * 2] = 0
        result.append(shift_starts(required))
    _STAFFING_CACHE[key] = (result[0], result[1])
    return result[0], result[1]


def simulate_day(plan: TenantPlan, day: dt.date) -> DayCalls:
    """Simulate one tenant-day: arrivals, schedules, the queue; deterministic in (seed, tenant, day)."""
    p = plan.params
    zone = plan.zone
    rng = rng_for(plan.seed, plan.tenant.id, day)
    midnight, next_midnight, hours = _day_hours(zone, day)

    # 1. arrivals: Poisson counts per real hour, uniform placement, integer seconds
    factor = rng.gamma(p.day_noise_shape, 1.0 / p.day_noise_shape)
    profile = HOURLY_PROFILES[day.weekday()]
    rates = np.array([profile[label] for _, label in hours]) * plan.calls_per_day * factor
    counts = rng.poisson(rates)
    n = int(counts.sum())
    starts = np.repeat(np.array([s for s, _ in hours], dtype=np.int64), counts)
    arrival = np.sort(starts + rng.integers(0, 3600, n))
    labels = np.repeat(np.array([lab for _, lab in hours]), counts)  # hours stay in blocks when sorted
    # per-contact draws
    closed = labels < OPEN_HOUR
    contained = closed | (rng.random(n) < p.ivr_containment)
    ivr_seconds = np.where(contained, rng.lognormal(math.log(70), 0.5, n), rng.lognormal(math.log(10), 0.35, n))
    ivr_seconds = np.maximum(ivr_seconds.round().astype(np.int64), 2)
    queue_entry = arrival + ivr_seconds
    u = rng.random(n)
    first_queue = np.where(u < p.vip_share, Q_VIP, np.where(u < p.vip_share + p.billing_share, Q_BILLING, Q_GENERAL))
    is_vip = first_queue == Q_VIP
    if p.surge is not None and day == plan.end:
        arrival, queue_entry, contained, first_queue = _surge(plan, day, arrival, queue_entry, contained, first_queue)
        n, is_vip = len(arrival), first_queue == Q_VIP
    draws = {
        "patience": np.ceil(rng.exponential(p.patience_mean_seconds, (2, n))).astype(np.int64),
        "talk": np.maximum(rng.lognormal(p.talk_log_mean, p.talk_log_sd, (2, n)), 5.0),
        "hold": np.where(rng.random((2, n)) < p.hold_share, rng.integers(10, 120, (2, n)), 0),
        "acw": np.maximum(rng.lognormal(math.log(p.acw_median_seconds), 0.6, (2, n)).round(), 3).astype(np.int64),
        "ring": rng.integers(2, 8, (2, n)),
        "noans": rng.random((2, n)) < p.ring_no_answer_share,
        "xfer": rng.random(n) < p.transfer_share,
    }
    callers = _callers(plan, rng, n, is_vip)

    # 2. schedules for the day
    agents_rng = rng_for(plan.seed, plan.tenant.id, day, stream=1)
    shifts, breaks = _schedule(plan, day, zone, agents_rng)
    speed = plan.roster.speed(day, p.new_hire_slowdown)

    # 3. the queue
    sim = _QueueSim(plan.roster.pool, speed, p.billing_timeout_seconds)
    out = sim.run(queue_entry, first_queue, contained, draws, shifts, breaks)
    ivr = out["outcome"] == O_IVR  # an IVR stint runs from the IVR entry to the end of the IVR
    out["entered"][ivr] = arrival[out["contact"][ivr]]
    return DayCalls(
        plan=plan,
        day=day,
        midnight=midnight,
        next_midnight=next_midnight,
        arrival=arrival,
        queue_entry=queue_entry,
        is_vip=is_vip,
        caller=callers,
        shifts=shifts,
        breaks=breaks,
        **out,
    )


def _surge(
    plan: TenantPlan, day: dt.date, arrival: np.ndarray, queue_entry: np.ndarray, contained: np.ndarray,
    first_queue: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The day's contacts with the surge queue's arrivals in the surge window multiplied by the factor:
    above 1, (factor - 1) x as many more contacts spread evenly over the window; below 1, each kept with
    probability factor. Draws of its own (stream 5), so the rest of the day is the day without the surge."""
    surge = plan.params.surge
    rng = rng_for(plan.seed, plan.tenant.id, day, stream=5)
    begin = local_epoch(plan.zone, day, surge.start_minute * 60)
    end = local_epoch(plan.zone, day, (surge.start_minute + surge.minutes) * 60)
    q = QUEUES.index(surge.queue)
    hit = (first_queue == q) & ~contained & (queue_entry >= begin) & (queue_entry < end)
    keep = ~hit | (rng.random(len(arrival)) < surge.factor)
    extra = int(rng.poisson((surge.factor - 1) * hit.sum())) if surge.factor > 1 else 0
    entry = rng.integers(begin, max(end, begin + 1), extra)
    ivr = np.maximum(rng.lognormal(math.log(10), 0.35, extra).round().astype(np.int64), 2)
    arrival = np.concatenate([arrival[keep], entry - ivr])
    queue_entry = np.concatenate([queue_entry[keep], entry])
    contained = np.concatenate([contained[keep], np.zeros(extra, bool)])
    first_queue = np.concatenate([first_queue[keep], np.full(extra, q, first_queue.dtype)])
    order = np.argsort(arrival, kind="stable")
    return arrival[order], queue_entry[order], contained[order], first_queue[order]


def _callers(plan: TenantPlan, rng: np.random.Generator, n: int, is_vip: np.ndarray) -> list[str]:
    """Caller numbers from a customer base; about 3 % withheld.

    Callers are drawn uniformly from a base of 60 days' calls (so about one call in ten comes from
    a customer who called in the week before, across days), and 8 % of calls are a same-day retry
    of an earlier caller (after an abandon or an unresolved call): repeat contacts for FCR at a
    realistic rate.
    """
    base = max(int(plan.calls_per_day * 60), 1000)
    customer = rng.integers(0, base, n)
    order = np.arange(n)
    retry = (rng.random(n) < 0.08) & (order > 0)
    earlier = (rng.random(n) * order).astype(np.int64)
    customer[retry] = customer[earlier[retry]]
    customer = (customer * 2654435761 + zlib.crc32(plan.tenant.id.encode())) % (10**8)
    customer = np.where(is_vip, customer % 10**6, customer)  # VIPs are a small, known club
    withheld = rng.random(n) < 0.03
    prefix = plan.caller_prefix
    return ["" if w else f"{prefix}{c:08d}" for c, w in zip(customer.tolist(), withheld.tolist())]


def _schedule(
    plan: TenantPlan, day: dt.date, zone: ZoneInfo, rng: np.random.Generator
) -> tuple[list[tuple[int, int, int, bool, int]], list[tuple[int, int, int, int]]]:
    """Assign the day's shifts to rostered agents at work; absences and break times."""
    roster, p = plan.roster, plan.params
    front_starts, back_starts = _required_agents(plan, day.weekday())
    active = roster.active(day)
    weekday = day.weekday()
    off = (roster.day_off == weekday) | ((roster.day_off + 1) % 7 == weekday)
    shifts: list[tuple[int, int, int, bool, int]] = []
    breaks: list[tuple[int, int, int, int]] = []
    absent_draw = rng.random(len(roster.agent_ids)) < p.absence_rate
    order = rng.permutation(len(roster.agent_ids))
    for pool, starts in ((0, front_starts), (1, back_starts)):
        candidates = [a for a in order.tolist() if active[a] and not off[a] and roster.pool[a] == pool]
        for agent, slot in zip(candidates, sorted(starts)):
            start = local_epoch(zone, day, slot * 1800)
            end = local_epoch(zone, day, (slot + SHIFT_SLOTS) * 1800)
            absent = bool(absent_draw[agent])
            late = int(rng.exponential(240)) if rng.random() < p.late_login_share else 0
            shifts.append((agent, start, end, absent, start + late))
            if absent:
                continue
            jitter = rng.integers(-15, 16, len(BREAKS)) * 60
            for (hours_in, seconds, reason), shift_min in zip(BREAKS, jitter.tolist()):
                breaks.append((agent, start + int(hours_in * 3600) + shift_min, seconds, reason))
    return shifts, breaks


# --- the event-driven queue ---------------------------------------------------------------------------

_ARRIVE, _FREE, _GIVEUP, _LOGIN, _BREAK, _BREAK_END, _LOGOUT = range(7)


class _QueueSim:
    """Multi-server queue with priorities, patience, timeouts, overflow and transfers (integer seconds)."""

    def __init__(self, pool: np.ndarray, speed: np.ndarray, billing_timeout: int) -> None:
        self.pool = pool.tolist()
        self.speed = speed.tolist()
        self.billing_timeout = billing_timeout

    def run(self, queue_entry, first_queue, contained, draws, shifts, breaks) -> dict:  # noqa: C901 - one hot loop
        patience = draws["patience"].tolist()
        talk = draws["talk"].tolist()
        hold = draws["hold"].tolist()
        acw = draws["acw"].tolist()
        ring = draws["ring"].tolist()
        noans = draws["noans"].tolist()
        xfer = draws["xfer"].tolist()
        speed, pool_of_agent = self.speed, self.pool
        timeout = self.billing_timeout

        # stint columns
        s_contact: list[int] = []
        s_no: list[int] = []
        s_queue: list[int] = []
        s_entered: list[int] = []
        s_outcome: list[int] = []
        s_answered: list[int] = []
        s_ended: list[int] = []
        s_talk: list[int] = []
        s_hold: list[int] = []
        s_acw: list[int] = []
        s_agent: list[int] = []
        s_ring: list[int] = []
        s_noans: list[int] = []
        s_pos: list[int] = []
        s_xfer: list[bool] = []
        # agent states
        a_time: list[int] = []
        a_agent: list[int] = []
        a_state: list[int] = []
        a_reason: list[int] = []

        def new_stint(c: int, no: int, q: int, t: int, pos: int) -> int:
            s_contact.append(c)
            s_no.append(no)
            s_queue.append(q)
            s_entered.append(t)
            s_outcome.append(-1)
            s_answered.append(-1)
            s_ended.append(-1)
            s_talk.append(0)
            s_hold.append(0)
            s_acw.append(0)
            s_agent.append(-1)
            s_ring.append(0)
            s_noans.append(0)
            s_pos.append(pos)
            s_xfer.append(False)
            return len(s_contact) - 1

        heap: list[tuple] = []
        seq = 0
        for agent, _start, end, absent, login in shifts:
            if absent:
                continue
            heapq.heappush(heap, (login, seq, _LOGIN, agent, 0))
            heapq.heappush(heap, (end, seq + 1, _LOGOUT, agent, 0))
            seq += 2
        for agent, start, seconds, reason in breaks:
            heapq.heappush(heap, (start, seq, _BREAK, agent, seconds * 2 + reason))
            seq += 1

        # agent status: 0 out, 1 idle, 2 busy, 3 paused
        status: dict[int, int] = {}
        idle_token: dict[int, int] = {}
        pending_break: dict[int, int] = {}
        pending_logout: set[int] = set()
        idle = ([], [])  # per pool: heap of (idle since, token, agent)
        waiting = (deque(), deque(), deque())  # per queue: stint ids
        live = [0, 0, 0]
        waiting_state: dict[int, bool] = {}  # stint -> still waiting

        def state(t: int, agent: int, st: int, reason: int = -1) -> None:
            a_time.append(t)
            a_agent.append(agent)
            a_state.append(st)
            a_reason.append(reason)

        def serve(t: int, agent: int, s: int) -> None:
            nonlocal seq
            c, k = s_contact[s], s_no[s] if s_no[s] < 2 else 1
            r = ring[k][c] + (15 if noans[k][c] else 0)
            connect = t + r
            tk = max(int(round(talk[k][c] * speed[agent])), 1)
            hd = hold[k][c]
            end = connect + tk + hd
            s_outcome[s] = O_ANSWERED
            s_answered[s] = connect
            s_ended[s] = end
            s_talk[s] = tk
            s_hold[s] = hd
            s_acw[s] = acw[k][c]
            s_agent[s] = agent
            s_ring[s] = r
            s_noans[s] = 15000 if noans[k][c] else 0
            status[agent] = 2
            heapq.heappush(heap, (end + acw[k][c], seq, _FREE, agent, 0))
            seq += 1
            if xfer[c] and s_no[s] == 0 and s_queue[s] != Q_VIP:
                s_xfer[s] = True
                heapq.heappush(heap, (end, seq, _ARRIVE, c, TRANSFER_TARGET[s_queue[s]] * 4 + s_no[s] + 1))
                seq += 1

        def enqueue(t: int, c: int, q: int, no: int) -> None:
            nonlocal seq
            s = new_stint(c, no, q, t, live[q] + 1)
            pool = POOL_OF_QUEUE[q]
            heap_idle = idle[pool]
            while heap_idle:
                _, token, agent = heapq.heappop(heap_idle)
                if status.get(agent) == 1 and idle_token[agent] == token:
                    serve(t, agent, s)
                    return
            waiting[q].append(s)
            live[q] += 1
            waiting_state[s] = True
            k = 0 if no == 0 else 1
            limit = patience[k][c]
            if q == Q_BILLING and no == 0 and timeout < limit:
                heapq.heappush(heap, (t + timeout, seq, _GIVEUP, s, 1))
            else:
                heapq.heappush(heap, (t + limit, seq, _GIVEUP, s, 0))
            seq += 1

        def free(t: int, agent: int) -> None:
            """The agent can take a call: pending break or logout first, then the queues, else idle."""
            nonlocal seq
            if agent in pending_logout:
                status[agent] = 0
                state(t, agent, S_LOGOUT)
                return
            if agent in pending_break:
                code = pending_break.pop(agent)
                status[agent] = 3
                state(t, agent, S_PAUSED, code & 1)
                heapq.heappush(heap, (t + code // 2, seq, _BREAK_END, agent, 0))
                seq += 1
                return
            for q in POOL_QUEUES[pool_of_agent[agent]]:
                line = waiting[q]
                while line:
                    s = line.popleft()
                    if waiting_state.pop(s, False):
                        live[q] -= 1
                        serve(t, agent, s)
                        return
            status[agent] = 1
            token = idle_token.get(agent, 0) + 1
            idle_token[agent] = token
            heapq.heappush(idle[pool_of_agent[agent]], (t, token, agent))

        arrivals = np.flatnonzero(~contained)
        arrivals = arrivals[np.argsort(queue_entry[arrivals], kind="stable")].tolist()
        entry = queue_entry.tolist()
        fq = first_queue.tolist()
        i, total = 0, len(arrivals)
        inf = 1 << 62
        while i < total or heap:
            next_arrival = entry[arrivals[i]] if i < total else inf
            if heap and heap[0][0] < next_arrival:
                t, _, kind, a, b = heapq.heappop(heap)
            else:
                c = arrivals[i]
                i += 1
                enqueue(next_arrival, c, fq[c], 0)
                continue
            if kind == _FREE:
                free(t, a)
            elif kind == _GIVEUP:
                if waiting_state.pop(a, False):
                    q = s_queue[a]
                    live[q] -= 1
                    s_ended[a] = t
                    if b == 1:  # billing timeout: overflow to general
                        s_outcome[a] = O_OVERFLOW
                        enqueue(t, s_contact[a], Q_GENERAL, 1)
                    else:
                        s_outcome[a] = O_ABANDONED
            elif kind == _ARRIVE:  # transfer into another queue
                enqueue(t, a, b // 4, b % 4)
            elif kind == _LOGIN:
                state(t, a, S_LOGIN)
                state(t, a, S_READY)
                free(t, a)
            elif kind == _BREAK:
                st = status.get(a, 0)
                if st == 1:
                    status[a] = 3
                    state(t, a, S_PAUSED, b & 1)
                    heapq.heappush(heap, (t + b // 2, seq, _BREAK_END, a, 0))
                    seq += 1
                elif st == 2:
                    pending_break[a] = b
            elif kind == _BREAK_END:
                if status.get(a) == 3:
                    state(t, a, S_READY)
                    free(t, a)
            elif kind == _LOGOUT:
                st = status.get(a, 0)
                if st in (1, 3):
                    status[a] = 0
                    state(t, a, S_LOGOUT)
                elif st == 2:
                    pending_logout.add(a)
        # contained contacts: one IVR stint each
        for c in np.flatnonzero(contained).tolist():
            s = new_stint(c, 0, -1, int(entry[c]), 0)
            s_outcome[s] = O_IVR
            s_ended[s] = int(entry[c])
        order = np.lexsort((np.asarray(s_no), np.asarray(s_contact)))

        def col(values: list, dtype=np.int64) -> np.ndarray:
            return np.asarray(values, dtype=dtype)[order]

        states_order = np.argsort(np.asarray(a_time, dtype=np.int64), kind="stable")
        return {
            "contact": col(s_contact),
            "stint_no": col(s_no),
            "queue": col(s_queue),
            "entered": col(s_entered),
            "outcome": col(s_outcome),
            "answered": col(s_answered),
            "ended": col(s_ended),
            "talk": col(s_talk),
            "hold": col(s_hold),
            "acw": col(s_acw),
            "agent": col(s_agent),
            "ring": col(s_ring),
            "ring_no_answer": col(s_noans),
            "position": col(s_pos),
            "transferred": col(s_xfer, bool),
            "state_time": np.asarray(a_time, dtype=np.int64)[states_order],
            "state_agent": np.asarray(a_agent, dtype=np.int64)[states_order],
            "state": np.asarray(a_state, dtype=np.int64)[states_order],
            "state_reason": np.asarray(a_reason, dtype=np.int64)[states_order],
            "state_queue_pool": np.asarray([pool_of_agent[x] for x in a_agent], dtype=np.int64)[states_order],
        }


# --- the roster -------------------------------------------------------------------------------------------

def build_roster(tenant: Tenant, calls_per_day: float, seed: int, start: dt.date, end: dt.date,
                 params: Params | None = None) -> Roster:
    """Agents enough for the busiest weekday, with tenure, hires and leavers over [start, end]."""
    p = params or Params()
    rng = rng_for(seed, tenant.id, None, stream=2)
    probe = TenantPlan(tenant, 0, "", calls_per_day, seed, start, end, _EMPTY_ROSTER, p)
    need = [max(len(_required_agents(probe, wd)[pool]) for wd in range(7)) for pool in (0, 1)]
    # two days off a week and absences: headcount = peak daily shifts x 7/5 x (1 + margin)
    heads = [math.ceil(k * 7 / 5 * 1.08) + 1 for k in need]
    pool = np.concatenate([np.zeros(heads[0], dtype=np.int64), np.ones(heads[1], dtype=np.int64)])
    count = len(pool)
    tenure_days = rng.exponential(700, count).astype(np.int64) + 30
    hire = np.datetime64(start, "D") - tenure_days.astype("timedelta64[D]")
    first, last = np.datetime64(start, "D"), np.datetime64(end, "D")
    mean_stay = 365.0 / p.annual_attrition if p.annual_attrition > 0 else 1e9
    # each seat is held by a chain of agents: a leaver is replaced by a new hire three weeks later
    agent_pool, hires, leaves = [], [], []
    for seat in range(count):
        hired, since = hire[seat], first
        while hired <= last:
            leave = since + np.timedelta64(int(rng.exponential(mean_stay)) + 1, "D")  # memoryless stay
            agent_pool.append(pool[seat])
            hires.append(hired)
            if leave > last:
                leaves.append(np.datetime64("NaT"))
                break
            leaves.append(leave)
            hired = since = leave + np.timedelta64(21, "D")
    total = len(hires)
    prefix = "".join(part[0] for part in tenant.id.split("_"))[:3]
    agent_ids = tuple(f"{prefix}{1001 + i}" for i in range(total))
    teams = tuple(f"{POOLS[int(agent_pool[i])]}_{(i % 8) + 1}" for i in range(total))
    return Roster(
        agent_ids=agent_ids,
        pool=np.asarray(agent_pool, dtype=np.int64),
        hire_date=np.asarray(hires, dtype="datetime64[D]"),
        leave_date=np.asarray(leaves, dtype="datetime64[D]"),
        day_off=rng.integers(0, 7, total),
        team=teams,
        is_dispatched=rng.random(total) < 0.3,
        base_speed=rng.lognormal(0.0, 0.12, total),
    )


_EMPTY_ROSTER = Roster((), np.zeros(0, np.int64), np.zeros(0, "datetime64[D]"), np.zeros(0, "datetime64[D]"),
                       np.zeros(0, np.int64), (), np.zeros(0, bool), np.zeros(0))


def plan_tenant(tenant: Tenant, index: int, tenant_count: int, *, calls_per_day: float, seed: int,
                start: dt.date, end: dt.date, params: Params | None = None, fmt: str | None = None) -> TenantPlan:
    """The fixed part of a tenant's run: its format, roster and parameters."""
    params = params or Params()
    roster = build_roster(tenant, calls_per_day, seed, start, end, params)
    return TenantPlan(tenant, index, fmt or tenant_format(index, tenant_count), float(calls_per_day), seed,
                      start, end, roster, params)
