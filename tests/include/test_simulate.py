"""The simulator: determinism, arrival shape, causal queue behaviour, well-formed files in every format."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from callops import cli, settings
from callops.config import Tenant
from callops.contracts.telephony import AGENT_STATE_CSV as AGENT_STATES
from callops.contracts.telephony import CONTACT_CSV
from callops.simulate import calibration, feeds
from callops.simulate.model import (
    HOURLY_PROFILES,
    O_ABANDONED,
    O_ANSWERED,
    O_IVR,
    Q_GENERAL,
    Q_VIP,
    Params,
    erlang_c_agents,
    plan_tenant,
    simulate_day,
    tenant_format,
)
from callops.simulate.run import simulate
from callops.simulate.writers import contact_ids, write_telephony

STOCKHOLM = Tenant("stockholm_telco", "Stockholm", "Europe/Stockholm")
SHANGHAI = Tenant("shanghai_bank", "Shanghai", "Asia/Shanghai")
DAY = dt.date(2026, 3, 3)  # a Tuesday
FORMATS = ("asterisk_queue_log", "amazon_connect_ctr", "callops_contact_csv", "asterisk_cdr")
QUEUE_LOG_FIELDS = {  # verb -> data fields written
    "ENTERQUEUE": 3, "CONNECT": 3, "COMPLETECALLER": 3, "COMPLETEAGENT": 3, "ABANDON": 3, "EXITWITHTIMEOUT": 3,
    "RINGNOANSWER": 1, "BLINDTRANSFER": 5, "ADDMEMBER": 1, "REMOVEMEMBER": 1, "PAUSEALL": 1, "UNPAUSEALL": 1,
}


def _plan(tenant=STOCKHOLM, calls=600, seed=3, params=None, start=DAY, end=DAY):
    return plan_tenant(tenant, 0, 3, calls_per_day=calls, seed=seed, start=start, end=end, params=params)


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file()}


def _wait_stats(calls):
    queued = calls.outcome != O_IVR
    answered = calls.outcome == O_ANSWERED
    waits = calls.answered[answered] - calls.entered[answered]
    return waits.mean(), (calls.outcome == O_ABANDONED).sum() / queued.sum()


# --- determinism ----------------------------------------------------------------------------------------

def test_same_seed_gives_byte_identical_files_different_seed_differs(tmp_path):
    tenants = (SHANGHAI, STOCKHOLM, Tenant("utc_tenant", "UTC", "UTC"))
    kwargs = dict(tenants=3, days=3, start=DAY, calls_per_day=300, progress=None)
    simulate(tenants, seed=5, landing=tmp_path / "a", workers=1, **kwargs)
    simulate(tenants, seed=5, landing=tmp_path / "b", workers=2, **kwargs)  # chunking does not matter
    simulate(tenants, seed=6, landing=tmp_path / "c", workers=1, **kwargs)
    a, b, c = _digest(tmp_path / "a"), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert a and a == b
    assert a != c


def test_each_day_can_be_simulated_alone():
    plan = _plan(start=DAY, end=DAY + dt.timedelta(days=5))
    later = DAY + dt.timedelta(days=2)
    alone = simulate_day(plan, later)
    simulate_day(plan, DAY)
    again = simulate_day(plan, later)
    assert np.array_equal(alone.entered, again.entered) and np.array_equal(alone.agent, again.agent)


# --- arrivals -------------------------------------------------------------------------------------------

def test_arrivals_follow_the_intraday_profile_and_weekday_pattern():
    plan = _plan(tenant=Tenant("utc", "UTC", "UTC"), calls=2000, start=DAY, end=DAY + dt.timedelta(days=13))
    counts = np.zeros((7, 24))
    for k in range(14):
        day = DAY + dt.timedelta(days=k)
        calls = simulate_day(plan, day)
        counts[day.weekday()] += np.bincount((calls.arrival - calls.midnight) // 3600, minlength=24)[:24]
    weekday = counts[:5].sum(axis=0)
    expected = sum(HOURLY_PROFILES[d] for d in range(5))
    assert np.argmax(weekday) == np.argmax(expected) == 10  # morning peak 10-11
    assert weekday[10] / weekday.sum() == pytest.approx(expected[10] / expected.sum(), abs=0.006)
    assert np.abs(weekday / weekday.sum() - expected / expected.sum()).max() < 0.01
    per_day = counts.sum(axis=1) / 2
    assert per_day[6] < 0.2 * per_day[:5].mean()  # the quiet weekend day
    assert per_day[5] < 0.45 * per_day[:5].mean()


def test_erlang_c_matches_the_published_example():
    assert erlang_c_agents(100, 180, 1800, 0.8, 20) == 14  # docs/kpis.md "Reference values"


# --- the queue responds to staffing -----------------------------------------------------------------------

def test_fewer_agents_mean_longer_waits_and_more_abandons():
    full = _plan(calls=1500, params=Params(staffing_factor=1.0))
    lean = _plan(calls=1500, params=Params(staffing_factor=0.7))
    waits_full, abandon_full = _wait_stats(simulate_day(full, DAY))
    waits_lean, abandon_lean = _wait_stats(simulate_day(lean, DAY))
    # same seed: identical callers and patience, only the schedules differ
    assert waits_lean > 2 * waits_full
    assert abandon_lean > abandon_full + 0.03


def test_impatient_callers_abandon_more_with_the_same_staff():
    patient = simulate_day(_plan(calls=1500, params=Params(staffing_factor=0.8)), DAY)
    hasty = simulate_day(_plan(calls=1500, params=Params(staffing_factor=0.8, patience_mean_seconds=60)), DAY)
    assert _wait_stats(hasty)[1] > _wait_stats(patient)[1]


def test_vip_callers_wait_less_than_standard_under_load():
    calls = simulate_day(_plan(calls=3000, params=Params(staffing_factor=0.75)), DAY)
    answered = calls.outcome == O_ANSWERED
    wait = calls.answered - calls.entered
    vip = wait[answered & (calls.queue == Q_VIP)].mean()
    standard = wait[answered & (calls.queue == Q_GENERAL)].mean()
    assert vip < 0.5 * standard


def test_no_call_is_answered_by_an_agent_off_shift_or_absent():
    calls = simulate_day(_plan(calls=1500, params=Params(absence_rate=0.2)), DAY)
    absent = {a for a, _s, _e, is_absent, _l in calls.shifts if is_absent}
    assert absent
    on_shift = {a: (login, end) for a, _s, end, is_absent, login in calls.shifts if not is_absent}
    answered = np.flatnonzero(calls.outcome == O_ANSWERED)
    assert not set(calls.agent[answered].tolist()) & absent
    for s in answered.tolist():
        login, end = on_shift[int(calls.agent[s])]
        assert login <= calls.answered[s] - calls.ring[s] <= end


def test_transfers_overflows_and_ivr_containment_happen():
    calls = simulate_day(_plan(calls=1500, params=Params(staffing_factor=0.8)), DAY)
    assert calls.transferred.sum() > 0
    assert (calls.outcome == 3).sum() > 0  # overflow from billing
    assert (calls.outcome == O_IVR).sum() > 0
    second = calls.stint_no == 1
    assert second.sum() >= calls.transferred.sum()


# --- formats ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def day_calls():
    return simulate_day(_plan(calls=800, params=Params(staffing_factor=0.85)), DAY)


def test_queue_log_lines_parse_with_the_right_field_counts(day_calls, tmp_path):
    [(path, count)] = write_telephony(day_calls, "asterisk_queue_log", tmp_path)
    lines = path.read_text().splitlines()
    assert len(lines) == count
    epochs = []
    callids = set()
    for line in lines:
        fields = line.split("|")
        verb = fields[4]
        assert len(fields) - 5 == QUEUE_LOG_FIELDS[verb], line
        epochs.append(int(fields[0]))
        if verb == "ENTERQUEUE":
            assert fields[5] == "" and fields[3] == "NONE"
            callids.add(fields[1])
        if verb == "CONNECT":
            assert int(fields[5]) >= 0 and "." in fields[6]
    assert epochs == sorted(epochs)
    assert callids <= set(contact_ids(day_calls, "asterisk_queue_log"))
    verbs = {line.split("|")[4] for line in lines}
    assert {"ENTERQUEUE", "CONNECT", "ABANDON", "BLINDTRANSFER", "EXITWITHTIMEOUT", "PAUSEALL"} <= verbs


def test_cdr_has_21_columns_and_the_quoting_rules(day_calls, tmp_path):
    [(path, _)] = write_telephony(day_calls, "asterisk_cdr", tmp_path)
    raw = path.read_text().splitlines()
    rows = list(csv.reader(raw))
    assert all(len(row) == 21 for row in rows)
    dispositions = {row[14] for row in rows}
    assert dispositions <= {"ANSWERED", "NO ANSWER"} and "NO ANSWER" in dispositions
    for line, row in zip(raw, rows):
        duration, billsec = int(row[12]), int(row[13])
        assert duration >= billsec >= 0
        if row[14] == "NO ANSWER":
            assert row[10] == "" and ',"2026-03-03' in line and ',,"' in line  # empty, unquoted answer
        else:
            assert row[10] >= row[9]
    assert raw[0].startswith('"",') and raw[0].split(",")[12].isdigit()  # strings quoted, integers not


def test_ctr_lines_are_json_with_the_required_keys_and_at_least_once_delivery(tmp_path):
    calls = simulate_day(_plan(calls=3000, params=Params(staffing_factor=0.85)), DAY)
    written = write_telephony(calls, "amazon_connect_ctr", tmp_path)
    assert all(p.name.startswith("callops-ctr-stream-1-2026-03-") and "." not in p.name for p, _ in written)
    records = [json.loads(line) for p, _ in written for line in p.read_text().splitlines()]
    required = {"AWSAccountId", "AWSContactTraceRecordFormatVersion", "ContactId", "Channel", "InitiationMethod",
                "InitiationTimestamp", "DisconnectTimestamp", "LastUpdateTimestamp", "Queue", "Agent", "Attributes"}
    for record in records:
        assert required <= record.keys()
        assert record["AWSContactTraceRecordFormatVersion"] == "2017-03-10"
        assert record["InitiationTimestamp"].endswith("Z") and len(record["InitiationTimestamp"]) == 20
        if record["Agent"]:
            assert record["Queue"]["EnqueueTimestamp"] <= record["Agent"]["ConnectedToAgentTimestamp"]
    ids = [r["ContactId"] for r in records]
    assert len(ids) > len(set(ids))  # duplicates and later versions
    transfers = [r for r in records if r["InitiationMethod"] == "TRANSFER"]
    assert transfers and all(r["InitialContactId"] and r["PreviousContactId"] for r in transfers)
    segments = {r["Attributes"]["segment"] for r in records}
    assert segments == {"vip", "standard"}


def test_contact_csv_and_agent_states_follow_their_contracts(day_calls, tmp_path):
    [(path, count)] = write_telephony(day_calls, "callops_contact_csv", tmp_path)
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0].keys()) == list(CONTACT_CSV.names) and len(rows) == count == day_calls.stint_count
    assert all(r["entered_at"].endswith("+01:00") for r in rows)
    assert {r["outcome"] for r in rows} >= {"answered", "abandoned", "overflow", "ivr_contained"}
    [(states, _)] = write_telephony(day_calls, "callops_agent_state_csv", tmp_path)
    with states.open() as handle:
        state_rows = list(csv.DictReader(handle))
    assert list(state_rows[0].keys()) == list(AGENT_STATES.names)
    assert {r["state"] for r in state_rows} == {"logged_in", "ready", "paused", "logged_out"}


def test_the_same_calls_give_the_same_counts_in_every_format(day_calls, tmp_path):
    """Offered / answered / abandoned read back from each format's files agree."""
    offered = len({c for c, o in zip(day_calls.contact.tolist(), day_calls.outcome.tolist()) if o != O_IVR})
    answered = len(set(day_calls.contact[day_calls.outcome == O_ANSWERED].tolist()))
    write_telephony(day_calls, "asterisk_queue_log", tmp_path / "ql")
    ql = [line.split("|") for line in (tmp_path / "ql" / "queue_log").read_text().splitlines()]
    assert len({f[1] for f in ql if f[4] == "ENTERQUEUE"}) == offered
    assert len({f[1] for f in ql if f[4] == "CONNECT"}) == answered
    write_telephony(day_calls, "callops_contact_csv", tmp_path / "csv")
    with (tmp_path / "csv" / f"contacts_{DAY}.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len({r["contact_id"] for r in rows if r["queue_id"]}) == offered
    assert len({r["contact_id"] for r in rows if r["outcome"] == "answered"}) == answered
    written = write_telephony(day_calls, "amazon_connect_ctr", tmp_path / "ctr")
    records = {}
    for p, _ in written:
        for line in p.read_text().splitlines():
            r = json.loads(line)
            records[r["ContactId"]] = r
    initial = {r["InitialContactId"] or r["ContactId"] for r in records.values() if r["Queue"]}
    assert len(initial) == offered
    assert len({r["InitialContactId"] or r["ContactId"] for r in records.values() if r["Agent"]}) == answered


def test_queue_log_rotation_overlap_repeats_lines_exactly(tmp_path):
    tenants = (SHANGHAI,)
    simulate(tenants, tenants=1, days=2, start=DAY, calls_per_day=400, seed=2, landing=tmp_path, workers=1,
             rotate_hour=0, overlap_seconds=3600, write_feeds=False, progress=None)
    folder = tmp_path / "telephony" / "shanghai_bank"
    first = (folder / str(DAY) / f"queue_log-{DAY:%Y%m%d}").read_text().splitlines()
    second_day = DAY + dt.timedelta(days=1)
    second = (folder / str(second_day) / f"queue_log-{second_day:%Y%m%d}").read_text().splitlines()
    boundary = int(dt.datetime(2026, 3, 4, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp())
    repeated = [line for line in second if int(line.split("|")[0]) < boundary]
    assert repeated and repeated == [line for line in first if int(line.split("|")[0]) >= boundary - 3600]
    assert all(int(line.split("|")[0]) < boundary for line in first)


def test_queue_log_rotating_at_three_keeps_the_night_in_the_previous_file(tmp_path):
    simulate((SHANGHAI,), tenants=1, days=2, start=DAY, calls_per_day=400, seed=2, landing=tmp_path, workers=1,
             rotate_hour=3, write_feeds=False, progress=None)
    first = (tmp_path / "telephony" / "shanghai_bank" / str(DAY) / f"queue_log-{DAY:%Y%m%d}").read_text()
    midnight = int(dt.datetime(2026, 3, 4, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp())
    epochs = [int(line.split("|")[0]) for line in first.splitlines()]
    assert max(epochs) >= midnight  # calls still talking at midnight end in the file of the day they began
    assert min(epochs) >= midnight - 21 * 3600


# --- feeds and the command --------------------------------------------------------------------------------

def test_cli_writes_every_feed_into_the_landing_zone(home):
    assert cli.main(["simulate", "--tenants", "3", "--days", "2", "--start", "2026-03-02", "--calls-per-day", "300",
                     "--workers", "1"]) == 0
    landing = home / "landing"
    for tenant, fmt in (("shanghai_bank", "queue_log-20260302"), ("stockholm_telco", "callops-ctr-stream-1-"),
                        ("variant_tenant", "contacts_2026-03-02.csv")):
        names = [p.name for p in (landing / "telephony" / tenant / "2026-03-02").iterdir()]
        assert any(n.startswith(fmt) for n in names), (tenant, names)
    assert (landing / "telephony" / "stockholm_telco" / "2026-03-02" / "agent_states_2026-03-02.csv").exists()
    for feed, table in (("hr", "hr_roster"), ("hr", "hr_shifts"), ("hr", "hr_attendance"), ("qa", "qa_evaluations"),
                        ("qa", "csat_surveys"), ("marketing", "marketing_offers"),
                        ("marketing", "marketing_campaigns")):
        files = list((landing / feed / "shanghai_bank").rglob("*.csv"))
        headers = {p.read_text().splitlines()[0] for p in files}
        assert ",".join(feeds.CONTRACTS[table].names) in headers, (feed, table)


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_lines_name_the_days_count_the_calls_and_end_with_the_totals(tmp_path, workers):
    stream = io.StringIO()
    summary = simulate((SHANGHAI, STOCKHOLM), tenants=2, days=2, start=DAY, calls_per_day=300, seed=1,
                       landing=tmp_path, workers=workers, write_feeds=False, progress=stream, progress_every=0)
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 2 and all(line.startswith("simulate [") for line in lines)
    assert f"]: done, 4/4 tenant-days, {summary['contacts']:,} calls ({summary['stints']:,} stints), " in lines[-1]
    during = lines[:-1]
    assert all(re.search(r"\]: [0-3]/4 tenant-days, [\d,]+ calls", line) for line in during)
    assert any("; simulating shanghai_bank 2026-03-0" in line or "; simulating stockholm_telco 2026-03-0" in line
               for line in during)
    assert any(re.search(r"; about [\d.]+s left$", line) for line in during)


def test_a_short_simulation_prints_no_progress(tmp_path):
    stream = io.StringIO()
    simulate((SHANGHAI,), tenants=1, days=1, start=DAY, calls_per_day=300, seed=1, landing=tmp_path, workers=1,
             write_feeds=False, progress=stream)  # the default interval: 10 s
    assert stream.getvalue() == ""


def test_feeds_agree_with_the_calls(tmp_path):
    plan = _plan(calls=2000, params=Params(staffing_factor=0.9))
    calls = simulate_day(plan, DAY)
    writer = feeds.FeedWriter(plan, tmp_path)
    ids = contact_ids(calls)
    rng = np.random.default_rng(1)
    evaluations = writer.evaluation_rows(calls, ids, rng)
    agents = set(plan.roster.agent_ids)
    assert evaluations and {r["contact_id"] for r in evaluations} <= set(ids)
    assert {r["agent_id"] for r in evaluations} <= agents
    surveys = writer.csat_rows(calls, ids, rng)
    assert surveys and {r["contact_id"] for r in surveys} <= set(ids)
    offers = writer.offer_rows(calls, ids, rng)
    assert all(r["is_shown"] == "true" or r["is_pitched"] == "false" for r in offers)
    assert all(r["is_pitched"] == "true" or r["is_accepted"] == "false" for r in offers)
    shifts = writer.shift_rows(calls)
    assert {r["agent_id"] for r in shifts} == {plan.roster.agent_ids[a] for a, *_ in calls.shifts}
    attendance = writer.attendance_rows(calls)
    absent = {r["agent_id"] for r in attendance if r["status"] in ("absent", "sick")}
    logged_in = {plan.roster.agent_ids[a] for a in calls.state_agent.tolist()}
    assert not absent & logged_in


def test_qa_scores_rise_with_tenure_and_training(tmp_path):
    plan = _plan(calls=20000, params=Params(staffing_factor=0.9))
    calls = simulate_day(plan, DAY)
    writer = feeds.FeedWriter(plan, tmp_path)
    rows = writer.evaluation_rows(calls, contact_ids(calls), np.random.default_rng(2))
    index = {a: i for i, a in enumerate(plan.roster.agent_ids)}
    tenure = {a: (np.datetime64(DAY) - plan.roster.hire_date[i]).astype(int) for a, i in index.items()}
    scores = [(tenure[r["agent_id"]], writer.trained[index[r["agent_id"]]], r["score"] / r["max_score"]) for r in rows]
    senior = np.mean([s for t, tr, s in scores if t > 365 and tr])
    junior = np.mean([s for t, tr, s in scores if t < 180])
    untrained = np.mean([s for _t, tr, s in scores if not tr])
    trained = np.mean([s for _t, tr, s in scores if tr])
    assert senior > junior and trained > untrained


def test_formats_round_robin():
    assert [tenant_format(i, 3) for i in range(3)] == list(FORMATS[:3])
    assert {tenant_format(i, 4) for i in range(4)} == set(FORMATS)
    assert dataclasses.is_dataclass(Params())


def test_the_real_month_ships_with_the_repository_and_reads_as_documented():
    """`make simulate-compare` works from a clone: the Anonymous Bank month is in docs/data/, with its source."""
    assert calibration.REAL_TSV.is_relative_to(settings.project_dir())
    assert (calibration.REAL_TSV.parent / "SOURCE.md").is_file()
    real = calibration.real_shapes()
    assert real.calls == 33066  # 33,344 records less the PHANTOM ones (docs/simulator.md's table)
    assert real.abandon_share == pytest.approx(0.126, abs=5e-4)
    assert int(np.argmax(real.hourly)) == 10
