"""Quality marts on hand-computed deliveries: loader -> dbt build -> marts.fct_*quality*.

One small month for shanghai_bank (Asia/Shanghai, fcr_window_days 7) through
every QA feed, the roster and the contact CSV; a second tenant sends
telephony only. The formulas also have dbt unit tests
(models/*/quality/_quality__models.yml).
"""

from __future__ import annotations

import datetime as dt

import pytest

from callops import dbt, pipeline, warehouse
from tests.conftest import deliver

pytestmark = pytest.mark.dbt

TENANT = "shanghai_bank"
MARCH = dt.date(2026, 3, 1)

CONTACTS = (
    "contact_id,queue_id,direction,entered_at,outcome,wait_seconds,talk_seconds,agent_id,caller_number\n"
    "c1,q1,inbound,2026-03-02 09:00:00,answered,5,100,a1,13800138000\n"
    "c2,q1,inbound,2026-03-02 10:00:00,answered,5,100,a1,13800138001\n"
    "c3,q1,inbound,2026-03-03 09:00:00,answered,5,100,a2,13800138002\n"
    "c4,q1,inbound,2026-03-04 09:00:00,answered,5,100,a2,anonymous\n"  # withheld: not in FCR
    "c7,q1,inbound,2026-03-05 09:00:00,abandoned,30,,,13800138002\n"  # c3's caller again: c3 unresolved
    "c5,q1,inbound,2026-03-09 09:00:00,answered,5,100,a2,13800138000\n"  # c1's caller exactly 7 days later
    "c6,q1,inbound,2026-03-10 10:00:01,abandoned,30,,,13800138001\n"  # c2's caller 7 days + 1 s later
    "c9,q1,inbound,2026-03-21 09:00:00,answered,5,100,a1,13800138009\n"
    "c9,q2,inbound,2026-03-21 09:05:00,answered,5,100,a2,13800138009\n"  # transferred: FCR goes to a2
)
EVALUATIONS = (
    "evaluation_id,contact_id,agent_id,evaluator_id,form_id,criterion_id,criterion_name,score,max_score,weight,"
    "is_fatal,is_auto_fail,is_not_applicable,status,evaluated_at\n"
    "ev1,c1,a1,qa1,f1,greet,Greets,10,10,0.2,no,no,no,submitted,2026-03-06 10:00:00\n"
    "ev1,c1,a1,qa1,f1,verify,Verifies identity,20,20,0.5,yes,no,no,submitted,2026-03-06 10:00:00\n"
    "ev1,c1,a1,qa1,f1,offer,Offers,,10,0.3,no,no,yes,submitted,2026-03-06 10:00:00\n"
    "ev2,c2,a1,qa1,f1,greet,Greets,5,10,0.2,no,no,no,submitted,2026-03-06 11:00:00\n"
    "ev2,c2,a1,qa1,f1,verify,Verifies identity,0,20,0.5,yes,yes,no,submitted,2026-03-06 11:00:00\n"
    "ev2,c2,a1,qa1,f1,offer,Offers,10,10,0.3,no,no,no,submitted,2026-03-06 11:00:00\n"
    "ev3,c3,a2,qa2,f1,greet,Greets,8,10,0.2,no,no,no,submitted,2026-03-06 12:00:00\n"
    "ev3,c3,a2,qa2,f1,verify,Verifies identity,20,20,0.5,yes,no,no,submitted,2026-03-06 12:00:00\n"
    "ev3,c3,a2,qa2,f1,offer,Offers,5,10,0.3,no,no,no,submitted,2026-03-06 12:00:00\n"
    "ev4,c3,a2,qa1,f1,greet,Greets,9,10,0.2,no,no,no,submitted,2026-03-07 12:00:00\n"
    "ev4,c3,a2,qa1,f1,verify,Verifies identity,10,20,0.5,yes,no,no,submitted,2026-03-07 12:00:00\n"
    "ev4,c3,a2,qa1,f1,offer,Offers,10,10,0.3,no,no,no,submitted,2026-03-07 12:00:00\n"
    "ev5,c4,a2,qa1,f1,greet,Greets,0,10,0.2,no,no,no,draft,2026-03-07 13:00:00\n"  # a draft counts nowhere
)
CSAT = (
    "survey_id,contact_id,agent_id,answered_at,score,scale_min,scale_max\n"
    "s1,c1,,2026-03-02 09:10:00,5,1,5\n"  # agent from the contact: a1
    "s2,c2,a1,2026-03-02 10:10:00,3,1,5\n"
    "s3,c3,a2,2026-03-03 09:10:00,9,0,10\n"
    "s4,c5,a2,2026-03-09 09:10:00,8,0,10\n"
    "s5,c99,a3,2026-03-15 09:10:00,4,1,5\n"  # contact not in telephony: dated by the answer
)
ROSTER = (
    "agent_id,team_id,employment_type,hire_date\n"
    "a1,t1,full_time,2024-01-01\n"
    "a2,t2,full_time,2026-02-15\n"  # a new hire in March
    "a3,t1,part_time,2025-01-01\n"
)
CALIBRATIONS = (
    "calibration_id,evaluator_id,criterion_id,form_id,score,max_score,is_consensus,calibrated_at\n"
    "cal1,,greet,f1,9,10,yes,2026-03-10 15:00:00\n"
    "cal1,qa1,greet,f1,10,10,no,2026-03-10 15:00:00\n"
    "cal1,qa2,greet,f1,8,10,no,2026-03-10 15:00:00\n"
    "cal1,qa1,verify,f1,20,20,no,2026-03-10 15:00:00\n"  # no consensus row: median of 20, 10, 20
    "cal1,qa2,verify,f1,10,20,no,2026-03-10 15:00:00\n"
    "cal1,qa3,verify,f1,20,20,no,2026-03-10 15:00:00\n"
)
TELEPHONY_ONLY = (
    "contact_id,queue_id,direction,entered_at,outcome,wait_seconds,talk_seconds,agent_id,caller_number\n"
    "s1,q1,inbound,2026-03-02 09:00:00,answered,5,100,b1,46701234567\n"
)


@pytest.fixture(scope="module")
def marts(tmp_path_factory):
    """Load the deliveries and build once; return the three marts as lists of dicts."""
    from tests.conftest import TEST_CONFIG

    monkeypatch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("quality")
    (root / "callops.yml").write_text(TEST_CONFIG)
    home = root / "data"
    monkeypatch.setenv("CALLOPS_HOME", str(home))
    monkeypatch.setenv("CALLOPS_CONFIG", str(root / "callops.yml"))
    monkeypatch.setenv("CALLOPS_PSEUDONYM_KEY", "quality-test-key")
    day = "2026-03-21"
    deliver(home, TENANT, day, "contacts.csv", CONTACTS)
    deliver(home, TENANT, day, "evaluations.csv", EVALUATIONS, feed="qa")
    deliver(home, TENANT, day, "csat.csv", CSAT, feed="qa")
    deliver(home, TENANT, day, "calibrations.csv", CALIBRATIONS, feed="qa")
    deliver(home, TENANT, day, "roster.csv", ROSTER, feed="hr")
    deliver(home, "stockholm_telco", day, "contacts.csv", TELEPHONY_ONLY)
    loaded = pipeline.load_deliveries("r1", dt.date(2026, 3, 21), dt.date(2026, 3, 21))
    assert loaded["failed"] == []
    result = dbt.run_models()
    assert result.success, result.failures
    tables = {}
    with warehouse.connection(read_only=True) as con:
        for table in ("fct_agent_quality_monthly", "fct_qa_criteria_monthly", "fct_evaluator_calibration"):
            cursor = con.execute(f"select * from marts.{table}")
            names = [d[0] for d in cursor.description]
            tables[table] = [dict(zip(names, row)) for row in cursor.fetchall()]
        # What rpt_daily_kpis' owner reads: FCR flags per contact, and the fcr_rate per tenant-day.
        tables["flags"] = {
            row[0]: row[1:]
            for row in con.execute(
                "select contact_id, contact_date, agent_id, is_repeat_within_window, has_repeat_within_window,"
                " is_resolved_first_contact from intermediate.int_contacts_repeat_flagged where tenant_id = ?",
                [TENANT],
            ).fetchall()
        }
    yield tables
    monkeypatch.undo()


def agent_rows(marts, tenant=TENANT):
    return {
        (row["grain"], row["team_id"] if row["grain"] == "team" else row["agent_id"]): row
        for row in marts["fct_agent_quality_monthly"]
        if row["tenant_id"] == tenant and row["month_start_date"] == MARCH
    }


def test_qa_score_fatal_rate_and_coverage_per_agent_team_and_tenant(marts):
    rows = agent_rows(marts)
    assert set(rows) == {
        ("agent", "a1"), ("agent", "a2"), ("agent", "a3"), ("team", "t1"), ("team", "t2"), ("tenant", None)
    }
    # ev1: (0.2*10 + 0.5*20) / (0.2*10 + 0.5*20), offer not applicable = 1; ev2 auto-failed = 0.
    a1 = rows[("agent", "a1")]
    assert (a1["team_id"], a1["evaluation_count"], a1["fatal_error_count"]) == ("t1", 2, 1)
    assert a1["qa_score"] == pytest.approx(0.5)
    assert a1["fatal_error_rate"] == pytest.approx(0.5)
    # a1 answered c1, c2, c9; c1 and c2 are evaluated.
    assert (a1["handled_count"], a1["handled_contact_count"], a1["evaluated_contact_count"]) == (3, 3, 2)
    assert a1["qa_coverage_rate"] == pytest.approx(2 / 3)
    # ev3: (1.6 + 10 + 1.5) / 15; ev4 failed the fatal 'verify' (10 of 20) = 0. Both evaluate c3.
    a2 = rows[("agent", "a2")]
    assert a2["qa_score"] == pytest.approx(13.1 / 15 / 2)
    assert a2["fatal_error_rate"] == pytest.approx(0.5)
    assert (a2["handled_count"], a2["evaluated_contact_count"], a2["qa_coverage_rate"]) == (4, 1, pytest.approx(0.25))
    # Tenant: recomputed over the 4 evaluations and 6 distinct handled contacts (c9 once).
    tenant = rows[("tenant", None)]
    assert tenant["qa_score"] == pytest.approx((1 + 0 + 13.1 / 15 + 0) / 4)
    assert (tenant["evaluation_count"], tenant["fatal_error_count"]) == (4, 2)
    assert (tenant["handled_count"], tenant["handled_contact_count"], tenant["evaluated_contact_count"]) == (7, 6, 3)
    assert tenant["qa_coverage_rate"] == pytest.approx(0.5)


def test_csat_top_two_box_and_mean_on_5_and_10_point_scales(marts):
    rows = agent_rows(marts)
    # a1: 5/5 (top) and 3/5 -> 1/2, mean (1 + 0.5) / 2. a2: 9/10 (top), 8/10 on 0-10 -> 1/2, (0.9 + 0.8) / 2.
    assert (rows[("agent", "a1")]["csat_rate"], rows[("agent", "a1")]["csat_score"]) == (0.5, pytest.approx(0.75))
    assert (rows[("agent", "a2")]["csat_rate"], rows[("agent", "a2")]["csat_score"]) == (0.5, pytest.approx(0.85))
    # a3 has only a survey (4/5: top-2); team t1 = a1 + a3, recomputed over its 3 surveys.
    assert rows[("agent", "a3")]["csat_rate"] == 1.0
    assert rows[("agent", "a3")]["evaluation_count"] == 0 and rows[("agent", "a3")]["qa_score"] is None
    assert rows[("team", "t1")]["csat_rate"] == pytest.approx(2 / 3)
    assert rows[("team", "t1")]["csat_score"] == pytest.approx(0.75)
    assert rows[("tenant", None)]["survey_count"] == 5
    assert rows[("tenant", None)]["csat_rate"] == pytest.approx(0.6)
    assert rows[("tenant", None)]["csat_score"] == pytest.approx((1 + 0.5 + 0.9 + 0.8 + 0.75) / 5)


def test_fcr_window_edge_withheld_caller_and_transfer(marts):
    rows = agent_rows(marts)
    # a1: c1 (repeat c5 exactly 7 days later: unresolved), c2 (next contact 7 days + 1 s later: resolved).
    assert (rows[("agent", "a1")]["fcr_contact_count"], rows[("agent", "a1")]["fcr_resolved_count"]) == (2, 1)
    # a2: c3 (repeat c7, abandoned, counts), c5 resolved, c9 (transferred from a1) resolved; c4 withheld: out.
    assert (rows[("agent", "a2")]["fcr_contact_count"], rows[("agent", "a2")]["fcr_resolved_count"]) == (3, 2)
    assert rows[("tenant", None)]["fcr_rate"] == pytest.approx(3 / 5)
    # A tenant with telephony only: its rows, FCR known, QA and CSAT null, no team row.
    other = agent_rows(marts, "stockholm_telco")
    assert set(other) == {("agent", "b1"), ("tenant", None)}
    assert other[("agent", "b1")]["fcr_rate"] == 1.0
    assert other[("agent", "b1")]["qa_score"] is None and other[("agent", "b1")]["csat_rate"] is None
    assert other[("agent", "b1")]["qa_coverage_rate"] == 0.0


def test_fcr_flags_per_contact_in_the_intermediate_model(marts):
    d = dt.date
    assert marts["flags"] == {
        # contact: (contact_date, agent, is a repeat, followed by a repeat, resolved on first contact)
        "c1": (d(2026, 3, 2), "a1", False, True, False),  # c5 comes exactly 7 days later: within the window
        "c2": (d(2026, 3, 2), "a1", False, False, True),  # c6 comes 7 days + 1 s later: outside
        "c3": (d(2026, 3, 3), "a2", False, True, False),
        "c4": (d(2026, 3, 4), "a2", None, None, None),  # withheld caller
        "c7": (d(2026, 3, 5), None, True, False, None),  # unanswered: not in FCR
        "c5": (d(2026, 3, 9), "a2", True, False, True),
        "c6": (d(2026, 3, 10), None, False, False, None),
        "c9": (d(2026, 3, 21), "a2", False, False, True),  # last answering agent
    }


def test_criteria_ranking_overall_and_for_new_hires(marts):
    rows = {
        row["criterion_id"]: row
        for row in marts["fct_qa_criteria_monthly"]
        if row["tenant_id"] == TENANT and row["month_start_date"] == MARCH
    }
    # greet fails in ev2, ev3, ev4 (3/4); verify in ev2 (auto-fail) and ev4 (2/4); offer in ev3 (1/3, N/A in ev1).
    assert {k: (r["failure_count"], r["evaluation_count"], r["failure_rank"]) for k, r in rows.items()} == {
        "greet": (3, 4, 1), "verify": (2, 4, 2), "offer": (1, 3, 3)
    }
    assert rows["verify"]["fatal_failure_count"] == 2 and rows["verify"]["is_fatal"]
    assert rows["offer"]["not_applicable_count"] == 1
    # a2 (hired 2026-02-15) is the new hire: greet 2/2, verify 1/2, offer 1/2; a1 tenured.
    assert {k: (r["new_hire_failure_rate"], r["new_hire_failure_rank"]) for k, r in rows.items()} == {
        "greet": (1.0, 1), "verify": (0.5, 2), "offer": (0.5, 2)
    }
    assert {k: r["tenured_failure_rate"] for k, r in rows.items()} == {"greet": 0.5, "verify": 0.5, "offer": 0.0}
    assert rows["greet"]["criterion_name"] == "Greets" and rows["greet"]["form_id"] == "f1"


def test_evaluator_deviation_from_consensus_row_and_median(marts):
    rows = {row["evaluator_id"]: row for row in marts["fct_evaluator_calibration"] if row["tenant_id"] == TENANT}
    # greet consensus row 9 of 10; verify has no consensus row: median(20, 10, 20) = 20 of 20.
    assert rows["qa1"]["mean_absolute_deviation"] == pytest.approx(0.05)  # (|+0.1| + 0) / 2
    assert rows["qa1"]["signed_bias"] == pytest.approx(0.05)
    assert rows["qa2"]["mean_absolute_deviation"] == pytest.approx(0.3)  # (|-0.1| + |-0.5|) / 2
    assert rows["qa2"]["signed_bias"] == pytest.approx(-0.3)
    assert (rows["qa1"]["criteria_compared_count"], rows["qa1"]["consensus_source"]) == (2, "mixed")
    assert (rows["qa3"]["mean_absolute_deviation"], rows["qa3"]["consensus_source"]) == (0.0, "median")
    assert rows["qa1"]["calibrated_date"] == dt.date(2026, 3, 10)


def test_marts_carry_no_personal_field(marts):
    for table in ("fct_agent_quality_monthly", "fct_qa_criteria_monthly", "fct_evaluator_calibration"):
        rows = marts[table]
        assert rows, table
        columns = set(rows[0]) if rows else set()
        assert not {c for c in columns if c.endswith("_hash") or "employee" in c or "caller" in c}, table
