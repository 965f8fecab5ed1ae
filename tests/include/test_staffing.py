"""callops.staffing and `callops erlang` against the published reference values (docs/kpis.md "Reference values").

Expected numbers are copied from that table (CRAN ErlangC, pyworkforce, callcentrehelper's worked example), to the
digits it prints; none is produced by the code under test.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from callops import cli, staffing

# Calls, interval (s), AHT (s), agents, P(wait), SL(T), T (s), ASA (s), occupancy.
ERLANG_C_TABLE = [
    (100, 1800, 180, 13, 0.285270, 0.795595, 20, 17.116, 0.769),
    (100, 1800, 180, 14, 0.174132, 0.888350, 20, 7.836, 0.714),
    (100, 1800, 180, 15, 0.102042, 0.941453, 20, 3.674, 0.667),
    (360, 3600, 240, 28, 0.333139, 0.761296, 20, 19.988, 0.857),
    (360, 3600, 240, 29, 0.242274, 0.840283, 20, 11.629, 0.828),
    (200, 1800, 300, 39, 0.253995, 0.825916, 20, 13.447, 0.855),
    (100, 900, 180, 25, 0.209103, 0.880027, 20, 7.528, 0.800),
    (360, 1800, 240, 55, 0.238701, 0.845883, 15, 8.184, 0.873),
]

# pyworkforce ErlangA, 100 calls / 30 min, AHT 3 min, patience 5 min, T = 20 s:
# agents, P(wait), P(abandon), occupancy, Lq, mean wait (min), SL(20 s).
ERLANG_A_TABLE = [
    (12, 0.331802, 0.042711, 0.797741, 0.711852, 0.213556, 0.772279),
    (13, 0.225797, 0.024963, 0.750028, 0.416055, 0.124817, 0.858178),
    (14, 0.145260, 0.013984, 0.704297, 0.233062, 0.069919, 0.916792),
    (15, 0.088547, 0.007514, 0.661657, 0.125241, 0.037572, 0.953856),
]


# The tables print probabilities to 6 decimals, ASA and occupancy to 3: half a unit in the last digit.
SIX = 5e-7 + 1e-12
THREE = 5e-4 + 1e-12


@pytest.mark.parametrize("calls, interval, aht, agents, wait, sl, within, asa, occupancy", ERLANG_C_TABLE)
def test_erlang_c_reference_rows(calls, interval, aht, agents, wait, sl, within, asa, occupancy):
    figures = staffing.erlang_c(agents, calls, interval, aht, within)
    assert figures["wait_probability"] == pytest.approx(wait, abs=SIX)
    assert figures["service_level_rate"] == pytest.approx(sl, abs=SIX)
    assert figures["asa_seconds"] == pytest.approx(asa, abs=THREE)
    assert figures["occupancy_rate"] == pytest.approx(occupancy, abs=THREE)


def test_erlang_c_published_example_to_cran_digits():
    """CRAN ErlangC README: 0.1741319, 0.88835, 7.83593701177724 s, 0.7142857 (and pyworkforce's 0.88835001917)."""
    figures = staffing.erlang_c(14, 100, 1800, 180, 20)
    assert figures["wait_probability"] == pytest.approx(0.1741319, abs=5e-8)
    assert figures["service_level_rate"] == pytest.approx(0.8883500191794669, abs=1e-12)
    assert figures["asa_seconds"] == pytest.approx(7.83593701177724, abs=1e-9)
    assert figures["occupancy_rate"] == pytest.approx(0.7142857, abs=5e-8)


def test_erlang_c_vectorised_table_equals_rows():
    columns = [np.array(column) for column in zip(*ERLANG_C_TABLE)]
    calls, interval, aht, agents, *_ = columns
    within = columns[6]
    together = staffing.erlang_c(agents, calls, interval, aht, within)
    for row, (c, i, a, n, *_rest) in enumerate(ERLANG_C_TABLE):
        alone = staffing.erlang_c(n, c, i, a, ERLANG_C_TABLE[row][6])
        for key, values in together.items():
            assert values[row] == alone[key]


def test_erlang_c_unstable_and_missing_rows_are_nan():
    agents = [10, 9, np.nan, 14, 14]
    figures = staffing.erlang_c(agents, [100, 100, 100, None, 100], 1800, 180, [20, 20, 20, 20, np.nan])
    for values in figures.values():
        assert np.isnan(values).all()  # N = A, N < A, agents missing, calls missing, T missing


def test_erlang_c_no_calls_with_agents_on_duty():
    figures = staffing.erlang_c(3, 0, 1800, 180, 20)
    assert figures == {
        "wait_probability": 0.0,
        "service_level_rate": 1.0,
        "asa_seconds": 0.0,
        "occupancy_rate": 0.0,
    }


def test_required_agents_published_example():
    """pyworkforce / CRAN: 14 agents, 20 scheduled with 30 % shrinkage; capped at 0.7 occupancy: 15 and 22."""
    assert staffing.erlang_c_agents(100, 1800, 180, 0.8, 20) == 14
    assert staffing.erlang_c_agents(100, 1800, 180, 0.8, 20, max_occupancy=0.85) == 14
    assert staffing.scheduled_agents(14, 0.3) == 20
    capped = staffing.erlang_c_agents(100, 1800, 180, 0.8, 20, max_occupancy=0.7)
    assert capped == 15
    assert staffing.scheduled_agents(capped, 0.3) == 22
    figures = staffing.erlang_c(capped, 100, 1800, 180, 20)
    assert figures["service_level_rate"] == pytest.approx(0.941, abs=5e-4)
    assert figures["occupancy_rate"] == pytest.approx(0.667, abs=5e-4)
    assert figures["wait_probability"] == pytest.approx(0.102, abs=5e-4)


def test_required_agents_match_the_reference_rows():
    """Each table block's first N meeting its SL: 14 for 100/30 min (80 %), 29 for 360/60 min (0.8), and so on."""
    assert staffing.erlang_c_agents(360, 3600, 240, 0.8, 20) == 29
    assert staffing.erlang_c_agents(360, 3600, 240, 0.76, 20) == 28
    assert staffing.erlang_c_agents(200, 1800, 300, 0.8, 20) == 39
    assert staffing.erlang_c_agents(100, 900, 180, 0.85, 20) == 25
    assert staffing.erlang_c_agents(360, 1800, 240, 0.84, 15) == 55


def test_square_root_staffing_sanity():
    """Halfin-Whitt N ~ A + beta sqrt(A): for A = 10 and beta = 1, 13.2; Erlang C's 80/20 answer is about that."""
    agents = staffing.erlang_c_agents(100, 1800, 180, 0.8, 20)
    assert abs(agents - (10 + math.sqrt(10))) <= 1
    # Across loads the staffing above A grows like sqrt(A): beta stays within a narrow band.
    loads = np.array([10.0, 40.0, 160.0, 640.0])
    needed = staffing.erlang_c_agents(loads * 10, 1800, 180, 0.8, 20)
    beta = (needed - loads) / np.sqrt(loads)
    assert np.all((beta > 0.3) & (beta < 1.5))


def test_large_load_without_overflow():
    """A = 500 Erlangs (factorials overflow near N = 170): finite, sensible and stable figures."""
    calls = 5000  # x 180 s / 1800 s = 500 Erlangs
    agents = staffing.erlang_c_agents(calls, 1800, 180, 0.8, 20)
    assert 500 < agents < 540
    figures = staffing.erlang_c(agents, calls, 1800, 180, 20)
    assert figures["service_level_rate"] >= 0.8
    assert staffing.erlang_c(agents - 1, calls, 1800, 180, 20)["service_level_rate"] < 0.8
    assert 0 < figures["wait_probability"] < 1
    assert figures["occupancy_rate"] == pytest.approx(500 / agents)
    huge = staffing.erlang_c(5200, 50000, 1800, 180, 20)  # 5,000 Erlangs
    assert all(np.isfinite(value) for value in huge.values())
    a_agents = staffing.erlang_a_agents(calls, 1800, 180, 300, 0.8, 20)
    assert 400 < a_agents <= agents


def test_zero_calls_need_no_agents_and_missing_inputs_give_nan():
    agents = staffing.erlang_c_agents([0, 100, np.nan, None, 100], 1800, [180, 0, 180, 180, np.nan], 0.8, 20)
    np.testing.assert_array_equal(agents, [0, 0, np.nan, np.nan, np.nan])
    a_agents = staffing.erlang_a_agents([0, 100, np.nan], 1800, 180, [300, np.nan, 300], 0.8, 20)
    np.testing.assert_array_equal(a_agents, [0, np.nan, np.nan])
    np.testing.assert_array_equal(staffing.scheduled_agents([0, 14, np.nan], 0.3), [0, 20, np.nan])


def test_pandas_nullable_columns():
    pandas = pytest.importorskip("pandas")
    calls = pandas.Series([100, None, 0], dtype="Int64")
    np.testing.assert_array_equal(staffing.erlang_c_agents(calls, 1800, 180, 0.8, 20), [14, np.nan, 0])


def test_rates_out_of_range_are_refused():
    with pytest.raises(ValueError, match="target_sl"):
        staffing.erlang_c_agents(100, 1800, 180, 80, 20)
    with pytest.raises(ValueError, match="target_sl"):
        staffing.erlang_a_agents(100, 1800, 180, 300, 1.0, 20)
    with pytest.raises(ValueError, match="max_occupancy"):
        staffing.erlang_c_agents(100, 1800, 180, 0.8, 20, max_occupancy=0)
    with pytest.raises(ValueError, match="shrinkage"):
        staffing.scheduled_agents(14, 1.0)


def test_agent_search_vectorised_equals_scalar():
    rows = 60
    rng = np.random.default_rng(11)
    calls = rng.integers(0, 400, size=rows).astype(float)
    aht = rng.uniform(60, 600, size=rows)
    within = rng.choice([10.0, 20.0, 30.0, 60.0], size=rows)
    target = rng.uniform(0.5, 0.95, size=rows)
    patience = rng.uniform(30, 900, size=rows)
    cap = rng.uniform(0.6, 1.0, size=rows)
    c_all = staffing.erlang_c_agents(calls, 1800, aht, target, within)
    capped_all = staffing.erlang_c_agents(calls, 1800, aht, target, within, max_occupancy=cap)
    a_all = staffing.erlang_a_agents(calls, 1800, aht, patience, target, within)
    c_figures = staffing.erlang_c(c_all, calls, 1800, aht, within)
    a_figures = staffing.erlang_a(a_all, calls, 1800, aht, patience, within)
    for row in range(rows):
        assert c_all[row] == staffing.erlang_c_agents(calls[row], 1800, aht[row], target[row], within[row])
        assert capped_all[row] == staffing.erlang_c_agents(
            calls[row], 1800, aht[row], target[row], within[row], max_occupancy=cap[row]
        )
        one_agents = staffing.erlang_a_agents(calls[row], 1800, aht[row], patience[row], target[row], within[row])
        assert a_all[row] == one_agents
        one_c = staffing.erlang_c(c_all[row], calls[row], 1800, aht[row], within[row])
        one_a = staffing.erlang_a(a_all[row], calls[row], 1800, aht[row], patience[row], within[row])
        for key in one_c:
            np.testing.assert_array_equal(c_figures[key][row], one_c[key])
        for key in one_a:
            np.testing.assert_array_equal(a_figures[key][row], one_a[key])
    # The searches return the smallest N that meets the target.
    busy = calls > 0
    assert np.all(c_figures["service_level_rate"][busy] >= target[busy])
    below = staffing.erlang_c(c_all - 1, calls, 1800, aht, within)["service_level_rate"]
    assert np.all(~(below[busy] >= target[busy]))
    assert np.all(a_figures["service_level_rate"][busy] >= target[busy])
    below_a = staffing.erlang_a(np.maximum(a_all - 1, 1), calls, 1800, aht, patience, within)["service_level_rate"]
    assert np.all((a_all[busy] == 1) | (below_a[busy] < target[busy]))


@pytest.mark.parametrize("agents, wait, abandon, occupancy, queue_length, wait_minutes, sl", ERLANG_A_TABLE)
def test_erlang_a_reference_rows(agents, wait, abandon, occupancy, queue_length, wait_minutes, sl):
    figures = staffing.erlang_a(agents, 100, 1800, 180, 300, 20)
    assert figures["wait_probability"] == pytest.approx(wait, abs=SIX)
    assert figures["abandon_probability"] == pytest.approx(abandon, abs=SIX)
    assert figures["occupancy_rate"] == pytest.approx(occupancy, abs=SIX)
    assert figures["asa_seconds"] * 100 / 1800 == pytest.approx(queue_length, abs=SIX)  # Lq
    assert figures["asa_seconds"] / 60 == pytest.approx(wait_minutes, abs=SIX)
    assert figures["service_level_rate"] == pytest.approx(sl, abs=SIX)


def test_erlang_a_required_positions():
    """pyworkforce ErlangA(...).required_positions(service_level=0.8) -> 13 (SL 0.8582); Erlang C needs 14."""
    assert staffing.erlang_a_agents(100, 1800, 180, 300, 0.8, 20) == 13
    assert staffing.scheduled_agents(13, 0.3) == 19


def test_erlang_a_simulation_figures_for_14_agents():
    """docs/kpis.md's independent 600k-arrival simulation at N = 14: P(wait) 0.149, P(ab) 0.0145, SL 0.914."""
    figures = staffing.erlang_a(14, 100, 1800, 180, 300, 20)
    assert figures["wait_probability"] == pytest.approx(0.149, abs=0.005)
    assert figures["abandon_probability"] == pytest.approx(0.0145, abs=0.001)
    assert figures["service_level_rate"] == pytest.approx(0.914, abs=0.005)


def test_erlang_a_against_a_dense_chain():
    """An independent reference: the whole birth-death chain (10,000 states) and scipy's incomplete beta."""
    special = pytest.importorskip("scipy.special")
    cases = [(150, 4200, 1800, 60, 300, 300), (3, 200, 1800, 180, 30, 20), (480, 5000, 1800, 180, 300, 20)]
    for agents, calls, interval, aht, patience, within in cases:
        arrival, service, theta = calls / interval, 1 / aht, 1 / patience
        n = np.arange(agents + 10_000)
        death = np.minimum(n[1:], agents) * service + np.maximum(n[1:] - agents, 0) * theta
        log_p = np.concatenate([[0.0], np.cumsum(np.log(arrival / death))])
        p = np.exp(log_p - log_p.max())
        p /= p.sum()
        ahead = n[agents:] - agents
        x = agents * service / theta
        in_time = x / (x + ahead + 1) * special.betainc(ahead + 1, x + 1, -math.expm1(-theta * within))
        figures = staffing.erlang_a(agents, calls, interval, aht, patience, within)
        assert figures["wait_probability"] == pytest.approx(p[agents:].sum(), abs=1e-9)
        assert figures["service_level_rate"] == pytest.approx(p[:agents].sum() + (p[agents:] * in_time).sum(), abs=1e-9)
        assert figures["asa_seconds"] == pytest.approx((ahead * p[agents:]).sum() / arrival, rel=1e-9)


def test_scheduled_agents_guards_float_noise():
    assert 21 / (1 - 0.3) > 30  # 30.000000000000004
    np.testing.assert_array_equal(
        staffing.scheduled_agents([14, 15, 21, 7, 100], [0.3, 0.3, 0.3, 0.3, 0.4]), [20, 22, 30, 10, 167]
    )


def _erlang_json(capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    argv = ["erlang", "--calls", "100", "--interval-s", "1800", "--aht-s", "180", "--target-sl", "0.8"]
    assert cli.main([*argv, "--answer-within-s", "20", *extra, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_erlang_c_json(capsys):
    result = _erlang_json(capsys)
    assert list(result) == ["agents", "service_level_rate", "asa_seconds", "occupancy_rate", "wait_probability"]
    assert result["agents"] == 14
    assert result["service_level_rate"] == pytest.approx(0.888350, abs=5e-7)
    assert result["asa_seconds"] == pytest.approx(7.83593701177724, abs=1e-9)
    assert result["occupancy_rate"] == pytest.approx(0.7142857, abs=5e-8)
    assert result["wait_probability"] == pytest.approx(0.1741319, abs=5e-8)


def test_cli_erlang_c_json_with_shrinkage_and_occupancy_cap(capsys):
    assert _erlang_json(capsys, "--shrinkage", "0.3")["scheduled_agents"] == 20
    capped = _erlang_json(capsys, "--shrinkage", "0.3", "--max-occupancy", "0.7")
    assert (capped["agents"], capped["scheduled_agents"]) == (15, 22)


def test_cli_erlang_a_json(capsys):
    result = _erlang_json(capsys, "--patience-s", "300")
    assert "scheduled_agents" not in result
    assert result["agents"] == 13
    assert result["service_level_rate"] == pytest.approx(0.858178, abs=5e-7)
    assert result["wait_probability"] == pytest.approx(0.225797, abs=5e-7)
    assert result["abandon_probability"] == pytest.approx(0.024963, abs=5e-7)
    assert result["occupancy_rate"] == pytest.approx(0.750028, abs=5e-7)
    assert result["asa_seconds"] / 60 == pytest.approx(0.124817, abs=5e-7)
    with_shrinkage = _erlang_json(capsys, "--patience-s", "300", "--shrinkage", "0.3")
    assert list(with_shrinkage) == [
        "agents",
        "service_level_rate",
        "asa_seconds",
        "occupancy_rate",
        "wait_probability",
        "abandon_probability",
        "scheduled_agents",
    ]
    assert with_shrinkage["scheduled_agents"] == 19


def test_cli_erlang_text_and_refusals(capsys):
    argv = ["erlang", "--calls", "100", "--interval-s", "1800", "--aht-s", "180", "--answer-within-s", "20"]
    assert cli.main([*argv, "--target-sl", "0.8"]) == 0
    out = capsys.readouterr().out
    assert "Erlang C" in out and "agents               14" in out
    assert cli.main([*argv, "--target-sl", "80"]) == 2  # rates are 0-1
    assert "target_sl" in capsys.readouterr().out
    assert cli.main([*argv, "--target-sl", "0.8", "--patience-s", "0"]) == 2
    assert "patience" in capsys.readouterr().out
    zero = ["erlang", "--calls", "0", "--interval-s", "1800", "--aht-s", "180", "--answer-within-s", "20"]
    assert cli.main([*zero, "--target-sl", "0.8", "--shrinkage", "0.3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["agents"] == 0


def test_erlang_a_agent_search_equals_the_plain_scan():
    """The bracketing search (Erlang C start, gallop, bisection, early decisions) returns, row by row, exactly the
    N of the plain upward scan that evaluates the chain at every N from ceil(target A) on."""
    rows = 3000
    rng = np.random.default_rng(2026)
    load = np.exp(rng.uniform(math.log(0.1), math.log(300.0), size=rows))  # 0.1-300 Erlangs, every scale
    aht = rng.uniform(60, 600, size=rows)
    patience = rng.uniform(30, 1200, size=rows)
    target = rng.uniform(0.5, 0.95, size=rows)
    within = rng.uniform(0, 60, size=rows)
    within[:300] = rng.choice([0.0, 10.0, 20.0, 30.0, 60.0], size=300)  # the usual whole-second thresholds, and T = 0
    interval = 1800.0
    calls = load * interval / aht
    fast = staffing.erlang_a_agents(calls, interval, aht, patience, target, within)
    exact_load = staffing.offered_load(calls, interval, aht)
    plain = staffing._search_erlang_a_linear(exact_load, aht / patience, within / patience, target)
    assert np.isfinite(plain).all()
    np.testing.assert_array_equal(fast, plain)
    # And every answer is the smallest N meeting the target by the published figures.
    figures = staffing.erlang_a(fast, calls, interval, aht, patience, within)["service_level_rate"]
    assert np.all(figures >= target)


def test_predicted_service_level_picks_erlang_a_with_a_patience_else_c():
    """The dispatch ladder's figure: the published Erlang A SL where a patience is given (pyworkforce,
    13 agents -> 0.858178), the published Erlang C SL without one (CRAN ErlangC, 14 agents -> 0.888350)."""
    predicted = staffing.predicted_service_level(
        [13, 14, 14], 100, 1800, 180, [300, np.nan, None], 20
    )
    assert predicted[0] == pytest.approx(0.858178, abs=SIX)
    assert predicted[1] == pytest.approx(0.888350, abs=SIX)
    assert predicted[2] == pytest.approx(0.888350, abs=SIX)


def test_predicted_service_level_of_a_queue_that_cannot_keep_up_is_zero():
    """Load 100 x 180 / 1800 = 10 Erlangs: Erlang C with 10 agents (or fewer) never catches up (0, its
    limit, where erlang_c says NaN); with a patience, no agent at all answers nobody. No calls and an
    agent: 1. Missing calls or AHT: NaN."""
    predicted = staffing.predicted_service_level(
        [10, 9, 0, 1, 11, 5, 5], [100, 100, 100, 0, 100, None, 100], 1800,
        [180, 180, 180, 180, 180, 180, None], [np.nan, np.nan, 300, 300, np.nan, np.nan, np.nan], 20
    )
    assert np.isnan(staffing.erlang_c(10, 100, 1800, 180, 20)["service_level_rate"])
    assert predicted[:3].tolist() == [0.0, 0.0, 0.0]
    assert predicted[3] == 1.0
    assert 0 < predicted[4] < 1
    assert np.isnan(predicted[5]) and np.isnan(predicted[6])


def test_predicted_service_level_of_the_ladder_example_in_the_docs():
    """docs/kpis.md "The dispatch ladder": 90 calls at 300 s with 14 agents (15 Erlangs) predicts 0; 16 agents
    0.317; 8 % of the calls off (82.8) 0.594; 18 agents 0.841."""
    predicted = staffing.predicted_service_level([14, 16, 16, 18], [90, 90, 82.8, 82.8], 1800, 300, np.nan, 20)
    assert predicted.round(3).tolist() == [0.0, 0.317, 0.594, 0.841]
