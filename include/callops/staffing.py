"""Staffing math: Erlang C (M/M/N) and Erlang A (M/M/N+M), vectorised over intervals.

All times are seconds and all rates 0-1 (docs/kpis.md "Staffing math", docs/domain.md "Staffing"). Every
function takes numpy arrays (or scalars, or lists, or pandas columns) that broadcast against each
other, and returns numpy arrays of the broadcast shape (0-d for scalar inputs).

Conventions (DECISIONLOG.md, 2026-11-26):

- Offered load ``A = calls * aht_seconds / interval_seconds`` (Erlangs), per interval, never per day.
- Missing inputs (NaN, None, pandas NA) and impossible ones (negative calls, interval <= 0,
  AHT < 0, patience <= 0) give NaN in every output of that row; other rows are unaffected.
- ``*_agents`` return float arrays: whole numbers of agents, NaN where inputs are missing, and 0 where
  there is no work (calls == 0 or AHT == 0).
- Erlang B comes from the recursion ``B(k) = A B(k-1) / (k + A B(k-1))``, never from factorials, so
  A = 500 Erlangs (or 5,000) neither overflows nor loses precision.
- Erlang A's service level is P(answered within T) over **all** arrivals: a caller who abandons, even
  before T, is a miss (pyworkforce's definition; docs/kpis.md "Reference values").

Erlang A, exactly (no uniformisation). Stationary birth-death chain with birth lambda and death
``min(n, N) mu + max(n - N, 0) theta``. With ``p_N`` as unit, the states below N sum to ``1/B(N, A) - 1``
(the Erlang B recursion again) and the states above are ``r_i = p_{N+i}/p_N = prod_{j<=i} A/(N + j g)``,
``g = theta/mu = aht/patience``. An arrival that finds ``i`` callers queued ahead (FCFS) reaches an
agent after ``i + 1`` exponential stages of rates ``N mu + m theta`` (m = i..0) while its own patience
runs at rate theta, so

    P(answered within T | i ahead) = x/(x + i + 1) * I_y(i + 1, x + 1),  x = N mu/theta, y = 1 - exp(-theta T)

with ``I`` the regularised incomplete beta function, which for integer first argument is a negative
binomial tail computed by a two-term recursion. Truncation: the sum over ``i`` stops once
``q_i = A/(N + (i+1) g) < 1`` and ``r_i (i + 1) q_i / (1 - q_i)^2 < 1e-13`` for every row, which bounds
the neglected probability mass and the neglected part of Lq (relative to p_N <= 1) by 1e-13.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Truncation of the Erlang A chain above N (see the module docstring): neglected mass < TAIL_EPSILON.
TAIL_EPSILON = 1e-13
# exp(-z) underflows near z = 745: below this log a negative-binomial term is carried in log space.
_LOG_UNDERFLOW = -700.0
# The agent search decides SL >= target from partial sums once their bounds clear the target by this much.
DECISION_MARGIN = 1e-9


def _as_float(value: Any) -> np.ndarray:
    """Any scalar, list, numpy array or pandas column as a float array; None and pandas NA become NaN."""
    if hasattr(value, "to_numpy"):  # pandas Series/arrays (nullable dtypes hold pd.NA)
        return np.asarray(value.to_numpy(dtype=float, na_value=np.nan), dtype=float)
    array = np.asarray(value)
    if array.dtype == object:
        return np.asarray([np.nan if _missing(item) else item for item in array.ravel()], dtype=float).reshape(
            array.shape
        )
    return array.astype(float)


def _missing(item: Any) -> bool:
    try:
        return item is None or bool(item != item)  # None, NaN, pandas NA (NA != NA is NA: bool raises)
    except TypeError:
        return True


def _broadcast(*values: Any) -> tuple[tuple[int, ...], list[np.ndarray]]:
    arrays = np.broadcast_arrays(*(_as_float(value) for value in values))
    shape = arrays[0].shape
    return shape, [np.ascontiguousarray(array).ravel() for array in arrays]


def offered_load(calls: Any, interval_seconds: Any, aht_seconds: Any) -> np.ndarray:
    """Offered load in Erlangs, ``calls * aht / interval``; NaN where an input is missing or impossible."""
    shape, (calls_, interval, aht) = _broadcast(calls, interval_seconds, aht_seconds)
    return _load(calls_, interval, aht).reshape(shape)


def _load(calls: np.ndarray, interval: np.ndarray, aht: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        load = calls * aht / interval
    bad = ~(calls >= 0) | ~(interval > 0) | ~(aht >= 0) | ~np.isfinite(load)
    return np.where(bad, np.nan, load)


def _whole_agents(agents: np.ndarray) -> np.ndarray:
    """Agents as whole numbers >= 0 (float array); NaN where missing, negative or fractional."""
    good = (agents >= 0) & (np.floor(agents) == agents) & np.isfinite(agents)
    return np.where(good, agents, np.nan)


def _erlang_b(agents: np.ndarray, load: np.ndarray) -> np.ndarray:
    """Erlang B(N, A) row by row for whole N >= 0, by the recursion over k = 1..N (vectorised).

    Rows are sorted by N (descending) so that step k updates one contiguous prefix of the rows.
    """
    blocking = np.ones_like(load)
    if agents.size == 0:
        return blocking
    order = np.argsort(-agents, kind="stable")
    sorted_agents = agents[order]
    sorted_load = load[order]
    sorted_b = np.ones_like(sorted_load)
    top = int(sorted_agents[0]) if sorted_agents.size else 0
    # rows_at_least[k] = number of rows with N >= k (prefix length in the descending order).
    counts = np.bincount(sorted_agents.astype(np.int64), minlength=top + 1)
    rows_at_least = np.cumsum(counts[::-1])[::-1]
    for k in range(1, top + 1):
        m = int(rows_at_least[k])
        part = sorted_load[:m] * sorted_b[:m]
        sorted_b[:m] = part / (k + part)
    blocking[order] = sorted_b
    return blocking


# --- Erlang C -------------------------------------------------------------------------------------


def _erlang_c_stats(
    agents: np.ndarray, load: np.ndarray, blocking: np.ndarray, aht: np.ndarray, within: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(wait), SL(T) and ASA for N > A (callers mask the rest)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        wait = agents * blocking / (agents - load * (1.0 - blocking))
        spare = agents - load
        service_level = 1.0 - wait * np.exp(-spare * within / aht)
        asa = wait * aht / spare
    return wait, service_level, asa


def erlang_c(
    agents: Any, calls: Any, interval_seconds: Any, aht_seconds: Any, answer_within_seconds: Any
) -> dict[str, np.ndarray]:
    """Erlang C figures for given agents.

    Returns ``wait_probability`` (C(N, A)), ``service_level_rate`` (P(wait <= T) = 1 - C e^{-(N-A)T/AHT}),
    ``asa_seconds`` (mean wait over all calls, C AHT/(N - A)) and ``occupancy_rate`` (A/N). Every key is
    NaN where agents <= offered load (the queue is unstable) or an input is missing. With no load
    (calls == 0) and at least one agent: no wait, SL 1, ASA 0, occupancy 0.
    """
    shape, (agents_, calls_, interval, aht, within) = _broadcast(
        agents, calls, interval_seconds, aht_seconds, answer_within_seconds
    )
    agents_ = _whole_agents(agents_)
    load = _load(calls_, interval, aht)
    stable = (agents_ > load) & ~(within < 0) & ~np.isnan(within)
    n = np.where(stable, agents_, 0.0)
    blocking = _erlang_b(n, np.where(stable, load, 0.0))
    wait, service_level, asa = _erlang_c_stats(n, load, blocking, aht, within)
    idle = stable & (load == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        occupancy = load / n
    result = {
        "wait_probability": np.where(idle, 0.0, wait),
        "service_level_rate": np.where(idle, 1.0, service_level),
        "asa_seconds": np.where(idle, 0.0, asa),
        "occupancy_rate": occupancy,
    }
    return {key: np.where(stable, value, np.nan).reshape(shape) for key, value in result.items()}


def erlang_c_agents(
    calls: Any,
    interval_seconds: Any,
    aht_seconds: Any,
    target_sl: Any,
    answer_within_seconds: Any,
    max_occupancy: Any = None,
) -> np.ndarray:
    """Smallest N > A with SL(T) >= target (and A/N <= max_occupancy when given), row by row.

    Float array of whole numbers: 0 where there is no work (calls or AHT 0), NaN where an input is
    missing. One upward pass over k = 1, 2, ... keeps B(k) for every unfinished row and records the
    first k that meets the target, so the cost is about max(N) vectorised steps over shrinking rows.
    ``target_sl`` must be in [0, 1) and ``max_occupancy`` in (0, 1] (ValueError otherwise; NaN is missing).
    """
    occupancy_cap = np.nan if max_occupancy is None else max_occupancy
    shape, (calls_, interval, aht, target, within, cap) = _broadcast(
        calls, interval_seconds, aht_seconds, target_sl, answer_within_seconds, occupancy_cap
    )
    _check_rate("target_sl", target, upper_open=True)
    if max_occupancy is not None:
        _check_rate("max_occupancy", cap, lower_open=True)
    load = _load(calls_, interval, aht)
    result = np.full(load.shape, np.nan)
    known = ~np.isnan(load) & ~np.isnan(target) & (within >= 0) & (max_occupancy is None or ~np.isnan(cap))
    result[known & (load == 0)] = 0.0
    rows = np.flatnonzero(known & (load > 0))
    # The occupancy cap as a lower bound on N (a hair of tolerance so that 10/0.7 -> 15 and 7/0.7 -> 10).
    floor_n = np.where(np.isnan(cap), 0.0, np.ceil(load / np.where(np.isnan(cap), 1.0, cap) - 1e-9))
    result[rows] = _search_erlang_c(load[rows], aht[rows], target[rows], within[rows], floor_n[rows])
    return result.reshape(shape)


def _search_erlang_c(
    load: np.ndarray, aht: np.ndarray, target: np.ndarray, within: np.ndarray, floor_n: np.ndarray
) -> np.ndarray:
    found = np.full(load.shape, np.nan)
    rows = np.arange(load.size)
    blocking = np.ones_like(load)
    decay = within / aht
    # Safety net only: SL(T) -> 1 as N grows, so a target < 1 is met long before this.
    give_up = load + 40.0 * np.sqrt(load) + 200.0
    k = 0
    while rows.size:
        k += 1
        part = load * blocking
        blocking = part / (k + part)
        spare = k - load
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            wait = k * blocking / (k - load * (1.0 - blocking))
            service_level = 1.0 - wait * np.exp(-spare * decay)
        done = (spare > 0) & (k >= floor_n) & (service_level >= target)
        lost = k > give_up
        if done.any() or lost.any():
            found[rows[done]] = k
            keep = ~(done | lost)
            rows, load, blocking, decay, target, floor_n, give_up = (
                rows[keep], load[keep], blocking[keep], decay[keep], target[keep], floor_n[keep], give_up[keep]
            )
    return found


def _check_rate(name: str, values: np.ndarray, upper_open: bool = False, lower_open: bool = False) -> None:
    present = values[~np.isnan(values)]
    low_bad = present <= 0 if lower_open else present < 0
    high_bad = present >= 1 if upper_open else present > 1
    if np.any(low_bad | high_bad):
        interval = ("(" if lower_open else "[") + "0, 1" + (")" if upper_open else "]")
        raise ValueError(f"{name} must be a rate in {interval}, got {float(present[low_bad | high_bad][0]):g}")


def scheduled_agents(agents: Any, shrinkage_rate: Any) -> np.ndarray:
    """Agents to schedule: ceil(agents / (1 - shrinkage)); 14 at 0.3 -> 20 (float noise guarded).

    NaN where either input is missing; shrinkage must be in [0, 1) (ValueError otherwise).
    """
    shape, (agents_, shrinkage) = _broadcast(agents, shrinkage_rate)
    _check_rate("shrinkage_rate", shrinkage, upper_open=True)
    with np.errstate(invalid="ignore"):
        scheduled = np.ceil(agents_ / (1.0 - shrinkage) - 1e-9)
    return np.where(agents_ == 0, 0.0, scheduled).reshape(shape)


# --- Erlang A -------------------------------------------------------------------------------------


def _erlang_a_sums(
    agents: np.ndarray, load: np.ndarray, ratio: np.ndarray, theta_within: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sums over the states above N, relative to p_N, for N >= 1 and A > 0 (row-wise).

    Returns (R, Lq', S') with R = sum_i r_i (i >= 0), Lq' = sum_i i r_i and
    S' = sum_i r_i P(answered within T | i ahead). ``ratio`` is g = AHT/patience, ``theta_within`` T/patience.
    """
    n = agents.size
    total = np.zeros(n)
    queued = np.zeros(n)
    served = np.zeros(n)
    if n == 0:
        return total, queued, served
    x = agents / ratio  # N mu / theta
    with np.errstate(divide="ignore"):
        log_y = np.log(-np.expm1(-theta_within))  # log(1 - e^{-theta T}); -inf when T = 0
    log_t = -(x + 1.0) * theta_within  # log of the negative-binomial term t_0
    rows = np.arange(n)
    r = np.ones(n)
    t = np.exp(log_t)
    in_logs = log_t < _LOG_UNDERFLOW
    cumulative = t.copy()
    i = 0
    while rows.size:
        # state N + i: weight r_i; P(answered within T | i ahead) = x/(x+i+1) * (1 - sum_{k<=i} t_k)
        within_t = x / (x + i + 1.0) * np.maximum(1.0 - cumulative, 0.0)
        total[rows] += r
        queued[rows] += i * r
        served[rows] += r * within_t
        i += 1
        q = load / (agents + i * ratio)
        with np.errstate(divide="ignore", invalid="ignore"):
            bound = r * i * q / (1.0 - q) ** 2
        done = (q < 1.0) & (bound < TAIL_EPSILON)
        if done.any():
            keep = ~done
            rows, r, q, x, agents, load, ratio = (rows[keep], r[keep], q[keep], x[keep], agents[keep], load[keep],
                                                  ratio[keep])
            log_t, log_y, t, cumulative, in_logs = log_t[keep], log_y[keep], t[keep], cumulative[keep], in_logs[keep]
            if not rows.size:
                break
        r = r * q
        # t_i = t_{i-1} * y * (i + x)/i; rows whose t_0 underflowed carry log t instead.
        if in_logs.any():
            log_t = log_t + log_y + np.log((i + x) / i)
            t = np.exp(log_t)
            in_logs = log_t < _LOG_UNDERFLOW
        else:
            t = t * np.exp(log_y) * ((i + x) / i)
        cumulative = cumulative + t
    return total, queued, served


def _erlang_a_meets(
    agents: np.ndarray,
    load: np.ndarray,
    blocking: np.ndarray,
    ratio: np.ndarray,
    theta_within: np.ndarray,
    target: np.ndarray,
) -> np.ndarray:
    """Whether Erlang A SL(T) >= target, row by row: the same answer as comparing
    ``_erlang_a_figures(...)["service_level_rate"]`` with the target, usually from far fewer states.

    The loop is ``_erlang_a_sums``' (same terms, same order, R and S' kept per row). After each state the
    neglected mass above it is at most ``E = r_{i-1} q_i / (1 - q_i)`` (q falls with i), and S' <= R, so SL
    lies between (1 - B + B S')/(1 - B + B (R + E)) and (1 - B + B (S' + E))/(1 - B + B R). A row is decided
    as soon as that interval clears the target by DECISION_MARGIN (1e-9, far above the 1e-13 truncation
    and the rounding of the full sums); rows never decided run to the usual truncation and are compared
    on the very SL ``_erlang_a_figures`` computes.
    """
    n = agents.size
    meets = np.zeros(n, dtype=bool)
    if n == 0:
        return meets
    x = agents / ratio
    with np.errstate(divide="ignore"):
        log_y = np.log(-np.expm1(-theta_within))
    log_t = -(x + 1.0) * theta_within
    rows = np.arange(n)
    r = np.ones(n)
    t = np.exp(log_t)
    in_logs = log_t < _LOG_UNDERFLOW
    cumulative = t.copy()
    total = np.zeros(n)
    served = np.zeros(n)
    rest = 1.0 - blocking
    i = 0
    while rows.size:
        within_t = x / (x + i + 1.0) * np.maximum(1.0 - cumulative, 0.0)
        total = total + r
        served = served + r * within_t
        i += 1
        q = load / (agents + i * ratio)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            bound = r * i * q / (1.0 - q) ** 2
            finished = (q < 1.0) & (bound < TAIL_EPSILON)
            left = np.where(q < 1.0, r * q / (1.0 - q), np.inf)  # neglected mass above this state
            lowest = (rest + blocking * served) / (rest + blocking * (total + left))
            highest = (rest + blocking * (served + left)) / (rest + blocking * total)
        yes = lowest >= target + DECISION_MARGIN
        no = highest < target - DECISION_MARGIN
        exact = finished & ~yes & ~no
        if exact.any():
            yes = yes | (exact & ((rest + blocking * served) / (rest + blocking * total) >= target))
        done = finished | yes | no
        if done.any():
            meets[rows[yes]] = True
            keep = ~done
            rows, r, q, x, agents, load, ratio, target = (
                rows[keep], r[keep], q[keep], x[keep], agents[keep], load[keep], ratio[keep], target[keep]
            )
            log_t, log_y, t, cumulative, in_logs = log_t[keep], log_y[keep], t[keep], cumulative[keep], in_logs[keep]
            total, served, rest, blocking = total[keep], served[keep], rest[keep], blocking[keep]
            if not rows.size:
                break
        r = r * q
        if in_logs.any():
            log_t = log_t + log_y + np.log((i + x) / i)
            t = np.exp(log_t)
            in_logs = log_t < _LOG_UNDERFLOW
        else:
            t = t * np.exp(log_y) * ((i + x) / i)
        cumulative = cumulative + t
    return meets


def _erlang_a_figures(
    agents: np.ndarray, load: np.ndarray, blocking: np.ndarray, ratio: np.ndarray, theta_within: np.ndarray
) -> dict[str, np.ndarray]:
    """Erlang A figures (A > 0, N >= 1) from B(N, A), with p_N eliminated so that B -> 0 is harmless."""
    total, queued, served = _erlang_a_sums(agents, load, ratio, theta_within)
    # p_N = B / (1 - B + B R): states below N weigh 1/B - 1 relative to p_N.
    norm = 1.0 - blocking + blocking * total
    wait = blocking * total / norm
    queue_length = blocking * queued / norm  # Lq in calls
    abandon = ratio * queue_length / load  # theta Lq / lambda
    service_level = (1.0 - blocking + blocking * served) / norm
    return {
        "wait_probability": wait,
        "abandon_probability": abandon,
        "service_level_rate": service_level,
        "queue_length": queue_length,
        "occupancy_rate": load * (1.0 - abandon) / agents,
    }


def erlang_a(
    agents: Any,
    calls: Any,
    interval_seconds: Any,
    aht_seconds: Any,
    patience_seconds: Any,
    answer_within_seconds: Any,
) -> dict[str, np.ndarray]:
    """Erlang A (M/M/N+M, exponential patience with mean ``patience_seconds``) for given agents.

    Returns ``wait_probability`` (P(an arrival waits)), ``abandon_probability`` (theta Lq / lambda),
    ``service_level_rate`` (P(answered within T) over all arrivals, abandoners are misses),
    ``asa_seconds`` (mean wait of all arrivals, Lq/lambda) and ``occupancy_rate`` (lambda (1 - P(ab)) / N mu).
    Always stable; NaN where an input is missing or agents < 1 with work to do. No load: no wait, SL 1.
    """
    shape, (agents_, calls_, interval, aht, patience, within) = _broadcast(
        agents, calls, interval_seconds, aht_seconds, patience_seconds, answer_within_seconds
    )
    agents_ = _whole_agents(agents_)
    load = _load(calls_, interval, aht)
    known = ~np.isnan(agents_) & ~np.isnan(load) & (patience > 0) & (within >= 0)
    idle = known & (load == 0) & (agents_ >= 1)
    rows = np.flatnonzero(known & (load > 0) & (agents_ >= 1))
    keys = ("wait_probability", "abandon_probability", "service_level_rate", "asa_seconds", "occupancy_rate")
    result = {key: np.full(load.shape, np.nan) for key in keys}
    for key in keys:
        result[key][idle] = 1.0 if key == "service_level_rate" else 0.0
    if rows.size:
        n, a = agents_[rows], load[rows]
        figures = _erlang_a_figures(n, a, _erlang_b(n, a), aht[rows] / patience[rows], within[rows] / patience[rows])
        arrival_rate = calls_[rows] / interval[rows]
        figures["asa_seconds"] = figures.pop("queue_length") / arrival_rate
        for key in keys:
            result[key][rows] = figures[key]
    return {key: value.reshape(shape) for key, value in result.items()}


def predicted_service_level(
    agents: Any,
    calls: Any,
    interval_seconds: Any,
    aht_seconds: Any,
    patience_seconds: Any,
    answer_within_seconds: Any,
) -> np.ndarray:
    """SL(T) predicted for given agents, row by row: Erlang A where the row has a patience (> 0), else
    Erlang C. A queue that cannot keep up (Erlang C with agents <= offered load, or no agent for work to
    do) predicts 0, its limit; NaN where calls, AHT, agents or T are missing. The dispatch ladder's
    figure (DECISIONLOG "The dispatch ladder").
    """
    shape, (agents_, calls_, interval, aht, patience, within) = _broadcast(
        agents, calls, interval_seconds, aht_seconds, patience_seconds, answer_within_seconds
    )
    with_patience = patience > 0
    by_a = erlang_a(agents_, calls_, interval, aht, np.where(with_patience, patience, np.nan), within)
    by_c = erlang_c(agents_, calls_, interval, aht, within)
    level = np.where(with_patience, by_a["service_level_rate"], by_c["service_level_rate"])
    load = _load(calls_, interval, aht)
    whole = _whole_agents(agents_)
    known = ~np.isnan(load) & ~np.isnan(whole) & (within >= 0)
    overloaded = known & (load > 0) & np.where(with_patience, whole < 1, whole <= load)
    return np.where(overloaded, 0.0, level).reshape(shape)


def erlang_a_agents(
    calls: Any,
    interval_seconds: Any,
    aht_seconds: Any,
    patience_seconds: Any,
    target_sl: Any,
    answer_within_seconds: Any,
) -> np.ndarray:
    """Smallest N >= 1 with Erlang A SL(T) >= target, row by row (same conventions as erlang_c_agents).

    N may be at or below the offered load: abandonment keeps the queue stable. The answer is the first N
    from the bound N >= target * A (at most N mu of the lambda arrivals per unit time can be answered, so
    SL <= N/A) that meets the target, found by bracketing from the Erlang C answer (``_search_erlang_a``);
    it equals the plain upward scan's (``_search_erlang_a_linear``) row by row.
    """
    shape, (calls_, interval, aht, patience, target, within) = _broadcast(
        calls, interval_seconds, aht_seconds, patience_seconds, target_sl, answer_within_seconds
    )
    _check_rate("target_sl", target, upper_open=True)
    load = _load(calls_, interval, aht)
    result = np.full(load.shape, np.nan)
    known = ~np.isnan(load) & ~np.isnan(target) & (within >= 0) & (patience > 0)
    result[known & (load == 0)] = 0.0
    rows = np.flatnonzero(known & (load > 0))
    load, aht, patience, target, within = load[rows], aht[rows], patience[rows], target[rows], within[rows]
    # Erlang C's answer (one cheap vectorised pass) is where the Erlang A search starts looking.
    guess = _search_erlang_c(load, aht, target, within, np.zeros_like(load)) - 1.0
    result[rows] = _search_erlang_a(load, aht / patience, within / patience, target, guess)
    return result.reshape(shape)


def _search_erlang_a(
    load: np.ndarray, ratio: np.ndarray, theta_within: np.ndarray, target: np.ndarray, guess: np.ndarray
) -> np.ndarray:
    """Smallest N in [ceil(target A), last] with SL(N) >= target, NaN if none: the same answer as the plain
    upward scan (``_search_erlang_a_linear``, whose last N is the first whole number above its give-up bound),
    with far fewer chain evaluations.

    SL(N) increases with N, so each row keeps ``lo`` (largest N known to miss; ceil(target A) - 1 stands in,
    as the scan never looks below it) and ``hi`` (smallest N known to meet; last + 1 stands in for "none").
    The first probe is ``guess`` (the Erlang C answer less one, usually within an agent or two of the Erlang A
    answer); rows then gallop (steps 1, 2, 4, ...) away from it until the bracket closes on both sides, and
    bisect. Every probe evaluates SL(N) exactly as the scan does (B(N) by the same recursion from k = 1).
    """
    found = np.full(load.shape, np.nan)
    start = np.maximum(1.0, np.ceil(target * load - 1e-9))
    last = np.floor(load + 40.0 * np.sqrt(load) + 200.0) + 1.0
    lo = start - 1.0
    hi = last + 1.0
    probe = np.clip(np.where(np.isnan(guess), start, guess), start, last)
    step = np.ones_like(load)
    seen_miss = np.zeros(load.shape, dtype=bool)
    seen_meet = np.zeros(load.shape, dtype=bool)
    rows = np.arange(load.size)
    while rows.size:
        n, a = probe[rows], load[rows]
        meets = _erlang_a_meets(n, a, _erlang_b(n, a), ratio[rows], theta_within[rows], target[rows])
        hi[rows] = np.where(meets, n, hi[rows])
        lo[rows] = np.where(meets, lo[rows], n)
        seen_meet[rows] |= meets
        seen_miss[rows] |= ~meets
        closed = hi[rows] - lo[rows] <= 1.0
        done = rows[closed]
        found[done] = np.where(hi[done] <= last[done], hi[done], np.nan)
        rows = rows[~closed]
        if not rows.size:
            break
        low, high, stride = lo[rows], hi[rows], step[rows]
        bisect = np.floor((low + high) / 2.0)
        down = np.maximum(high - stride, low + 1.0)  # only meets seen so far: gallop down
        up = np.minimum(low + stride, high - 1.0)  # only misses seen so far: gallop up
        probe[rows] = np.where(
            seen_meet[rows] & seen_miss[rows], bisect, np.where(seen_meet[rows], down, up)
        )
        step[rows] = 2.0 * stride
    return found


def _search_erlang_a_linear(
    load: np.ndarray, ratio: np.ndarray, theta_within: np.ndarray, target: np.ndarray
) -> np.ndarray:
    """The plain upward scan (evaluates every N from ceil(target A)); the reference for _search_erlang_a."""
    found = np.full(load.shape, np.nan)
    rows = np.arange(load.size)
    start = np.maximum(1.0, np.ceil(target * load - 1e-9))
    give_up = load + 40.0 * np.sqrt(load) + 200.0
    blocking = np.ones_like(load)
    k = 0
    while rows.size:
        k += 1
        part = load * blocking
        blocking = part / (k + part)
        check = np.flatnonzero(k >= start)
        if not check.size:
            continue
        agents = np.full(check.size, float(k))
        figures = _erlang_a_figures(agents, load[check], blocking[check], ratio[check], theta_within[check])
        done = np.zeros(rows.size, dtype=bool)
        done[check] = figures["service_level_rate"] >= target[check]
        lost = k > give_up
        if done.any() or lost.any():
            found[rows[done]] = k
            keep = ~(done | lost)
            rows, load, blocking, ratio, theta_within, target, start, give_up = (
                rows[keep], load[keep], blocking[keep], ratio[keep], theta_within[keep], target[keep], start[keep],
                give_up[keep],
            )
    return found
