"""Marketing and HR marts on hand-computed deliveries: loader -> dbt build -> marts.

fct_campaign_daily (funnel, revenue, cost, ROI, trailing-week pause flag),
fct_headcount_monthly and fct_headcount_monthly_by_team (headcount, hires,
leavers, attrition, tenure bands, dispatched share, trained vs untrained QA).
The formulas also have dbt unit tests (models/*/marketing, models/*/hr); this
file checks the whole path on real CSV files, built once for the module.
Tenant shanghai_bank (Asia/Shanghai) sends every feed: rosters on 31 Dec,
10 Feb and 1 Apr only (January and May are not covered), QA and training into
May; stockholm_telco sends none and must get no rows.
"""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from callops import dbt, pipeline, warehouse
from tests.conftest import TEST_CONFIG, deliver

pytestmark = pytest.mark.dbt

TENANT = "shanghai_bank"
DAY = "2026-04-01"

CAMPAIGNS = """
campaign_id,campaign_name,product,direction,currency,starts_on,unit_value,commission_per_sale,agent_cost_per_hour
k1,Gold card upgrade,Gold card,inbound,CNY,2026-03-01,300,20,60
k2,Loan win-back,Personal loan,outbound,CNY,2026-03-01,800,50,120
"""

# Wall-clock times without an offset are Shanghai time; o22 at 16:30 UTC is 00:30 on 8 March there.
OFFERS = """
offer_id,campaign_id,contact_id,agent_id,offered_at,is_shown,is_pitched,is_accepted,revenue,commission,pitch_seconds
o1,k1,c1,a1,2026-03-01 10:00:00,yes,yes,yes,250,,120
o2,k1,c2,a1,2026-03-01 11:00:00,yes,yes,no,,,60
o3,k1,c3,a2,2026-03-01 12:00:00,yes,no,no,,,
o4,k1,c4,a2,2026-03-01 23:30:00,yes,yes,yes,,15,180
o20,k2,c20,a1,2026-03-01 10:00:00,yes,yes,yes,,,600
o21,k2,c21,a1,2026-03-07 10:00:00,yes,yes,no,,,900
o22,k2,c22,a1,2026-03-07T16:30:00+00:00,yes,yes,no,,,1800
"""

# Roster snapshots as of their delivery day: 31 Dec 2025 (covers December), 10 Feb 2026 (covers February
# only: January needed one by 7 Feb) and 1 Apr (covers March, within its first 7 days after, and April).
ROSTER_DEC = """
agent_id,team_id,employment_type,hire_date,termination_date,termination_type,employee_name
a1,t1,full_time,2024-01-15,,,Wang Wei
a2,t1,dispatched,2025-03-01,,,Li Na
a3,t1,full_time,2025-12-01,,,Zhang Min
"""

ROSTER_FEB = """
agent_id,team_id,employment_type,hire_date,termination_date,termination_type,employee_name
a1,t1,full_time,2024-01-15,,,Wang Wei
a2,t1,dispatched,2025-03-01,,,Li Na
a3,t1,full_time,2025-12-01,,,Zhang Min
a4,t2,dispatched,2026-01-01,,,Chen Jie
"""

ROSTER = """
agent_id,team_id,employment_type,hire_date,termination_date,termination_type,employee_name
a1,t1,full_time,2024-01-15,,,Wang Wei
a2,t1,dispatched,2025-03-01,,,Li Na
a3,t1,full_time,2025-12-01,2026-02-15,voluntary,Zhang Min
a4,t2,dispatched,2026-01-01,,,Chen Jie
a5,t2,part_time,2026-02-20,2026-03-05,involuntary,Liu Yang
a6,t2,full_time,2026-03-16,,,Zhao Lei
"""

TRAINING = """
agent_id,course_id,started_on,completed_on,is_passed
a1,onb,2024-01-15,2024-01-26,yes
a2,onb,2025-03-01,2025-03-14,yes
a4,onb,2026-01-01,2026-03-10,yes
a6,onb,2026-03-16,,
"""

EVALUATIONS = """
evaluation_id,contact_id,agent_id,form_id,criterion_id,score,max_score,is_fatal,is_auto_fail,status,evaluated_at
ev1,c1,a1,f1,greet,9,10,no,no,submitted,2026-03-05 10:00:00
ev1,c1,a1,f1,verify,18,20,no,no,submitted,2026-03-05 10:00:00
ev2,c2,a4,f1,greet,5,10,no,no,submitted,2026-03-05 10:00:00
ev2,c2,a4,f1,verify,10,20,no,no,submitted,2026-03-05 10:00:00
ev3,c3,a4,f1,greet,8,10,no,no,submitted,2026-03-20 10:00:00
ev3,c3,a4,f1,verify,16,20,no,no,submitted,2026-03-20 10:00:00
ev4,c4,a6,f1,greet,10,10,no,no,submitted,2026-03-20 10:00:00
ev4,c4,a6,f1,verify,0,20,yes,yes,submitted,2026-03-20 10:00:00
ev5,c5,a2,f1,greet,1,10,no,no,draft,2026-03-20 10:00:00
ev6,c6,a1,f1,greet,8,10,no,no,submitted,2026-01-20 10:00:00
ev6,c6,a1,f1,verify,16,20,no,no,submitted,2026-01-20 10:00:00
"""

# After the last roster (1 Apr): QA goes on in May; the training export was last delivered on 20 May.
EVALUATIONS_MAY = """
evaluation_id,contact_id,agent_id,form_id,criterion_id,score,max_score,is_fatal,is_auto_fail,status,evaluated_at
ev7,c7,a1,f1,greet,7,10,no,no,submitted,2026-05-10 10:00:00
ev7,c7,a1,f1,verify,14,20,no,no,submitted,2026-05-10 10:00:00
ev8,c8,a6,f1,greet,6,10,no,no,submitted,2026-05-12 10:00:00
ev8,c8,a6,f1,verify,12,20,no,no,submitted,2026-05-12 10:00:00
ev9,c9,a6,f1,greet,9,10,no,no,submitted,2026-05-25 10:00:00
ev9,c9,a6,f1,verify,18,20,no,no,submitted,2026-05-25 10:00:00
"""

DELIVERIES = (
    ("hr", "2025-12-31", "roster.csv", ROSTER_DEC),
    ("hr", "2026-02-10", "roster.csv", ROSTER_FEB),
    ("marketing", DAY, "campaigns.csv", CAMPAIGNS),
    ("marketing", DAY, "offers.csv", OFFERS),
    ("hr", DAY, "roster.csv", ROSTER),
    ("hr", DAY, "training.csv", TRAINING),
    ("qa", DAY, "evaluations.csv", EVALUATIONS),
    ("hr", "2026-05-20", "training.csv", TRAINING),
    ("qa", "2026-05-31", "evaluations.csv", EVALUATIONS_MAY),
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Deliver every feed for one tenant, load and build once for the module."""
    tmp = tmp_path_factory.mktemp("marketing_hr")
    config = tmp / "callops.yml"
    config.write_text(TEST_CONFIG)
    home = tmp / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CALLOPS_HOME", str(home))
        patch.setenv("CALLOPS_CONFIG", str(config))
        patch.setenv("AIRFLOW_HOME", str(home / "airflow"))
        for feed, day, name, text in DELIVERIES:
            deliver(home, TENANT, day, name, textwrap.dedent(text).lstrip(), feed=feed)
        days = sorted(day for _, day, _, _ in DELIVERIES)
        summary = pipeline.load_deliveries("r1", dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1]))
        assert summary["failed"] == [] and summary["rows_rejected"] == 0, summary
        result = dbt.run_models()
        assert result.success, result.failures
        yield home


def query(sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connection(read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_campaign_funnel_revenue_cost_and_roi(built):
    found = query(
        """select offer_date, shown_count, pitched_count, accepted_count, pitch_rate, acceptance_rate,
            conversion_rate, pitch_seconds, revenue, staff_cost, commission_cost, cost, roi, campaign_name, product
        from marts.fct_campaign_daily where tenant_id = ? and campaign_id = 'k1'""",
        [TENANT],
    )
    # o1 accepted at its own 250 (commission from the campaign, 20); o4 at the unit value 300 with its own
    # commission 15; o2 pitched and declined; o3 shown only. Agent time 120 + 60 + 180 s at 60/h = 6.
    assert len(found) == 1
    assert found[0][:13] == pytest.approx(
        (dt.date(2026, 3, 1), 4, 3, 2, 0.75, 2 / 3, 0.5, 360.0, 550.0, 6.0, 35.0, 41.0, 550 / 41)
    )
    assert found[0][13:] == ("Gold card upgrade", "Gold card")


def test_pause_needs_a_bad_trailing_week_not_a_bad_day(built):
    found = query(
        """select offer_date, revenue, cost, roi, revenue_trailing_7d, cost_trailing_7d, roi_trailing_7d,
            roi_pause_threshold, is_pause_recommended
        from marts.fct_campaign_daily where tenant_id = ? and campaign_id = 'k2' order by offer_date""",
        [TENANT],
    )
    # 03-01: one sale at the unit value 800; 600 s at 120/h = 20 + commission 50 = 70. First day: never judged.
    # 03-07: a declined 900 s pitch (cost 30): ROI 0, but the week 03-01..03-07 is 800 / 100 = 8: no pause.
    # 03-08 (00:30 local; 16:30 UTC on 03-07): a declined 1800 s pitch (cost 60); the week 03-02..03-08
    # has no sale: 0 / 90 < 1.0, pause.
    assert [row[:8] for row in found] == [
        pytest.approx((dt.date(2026, 3, 1), 800.0, 70.0, 800 / 70, 800.0, 70.0, 800 / 70, 1.0)),
        pytest.approx((dt.date(2026, 3, 7), 0.0, 30.0, 0.0, 800.0, 100.0, 8.0, 1.0)),
        pytest.approx((dt.date(2026, 3, 8), 0.0, 60.0, 0.0, 0.0, 90.0, 0.0, 1.0)),
    ]
    assert [row[8] for row in found] == [False, False, True]


HEADCOUNT = (
    "month_start_date, headcount_start, headcount_end, average_headcount, hires_count, leavers_count, "
    "attrition_rate, annualised_attrition_rate, tenure_under_3_months_count, tenure_3_to_12_months_count, "
    "tenure_1_to_2_years_count, tenure_over_2_years_count, dispatched_headcount_end, dispatched_share_rate, "
    "is_month_complete"
)


def headcount(month: str) -> tuple:
    (found,) = query(
        f"select {HEADCOUNT} from marts.fct_headcount_monthly where tenant_id = ? and month_start_date = ?",
        [TENANT, dt.date.fromisoformat(month)],
    )
    return found[1:]


ROSTER_COLUMNS = HEADCOUNT.split(", ")[1:-1]  # every figure read from the roster


def test_headcount_movements_attrition_and_tenure_bands(built):
    months = [row[0] for row in query("select month_start_date from marts.fct_headcount_monthly order by 1")]
    # From the first hire's month (a1, January 2024) to the last month with QA of known training status
    # (May 2026, after the last roster delivery in April).
    assert months[0] == dt.date(2024, 1, 1) and months[-1] == dt.date(2026, 5, 1) and len(months) == 29
    # December 2025: a1 (23 whole months at the end of 31 Dec: 1-2 years), a2 (10), a3 hired on 1 Dec (1).
    assert headcount("2025-12-01") == pytest.approx((2, 3, 3.0, 1, 0, 0.0, 0.0, 1, 1, 1, 0, 1, 1 / 3, True))
    # February (28 days): a3 leaves on the 15th, a5 is hired on the 20th. Days 28 + 28 + 15 + 28 + 9 = 108.
    # a2 reaches 12 months (1-2 years); a4 has 2 and a5 0 (under 3).
    assert headcount("2026-02-01") == pytest.approx(
        (4, 4, 108 / 28, 1, 1, 28 / 108, 12 * 28 / 108, 2, 0, 1, 1, 2, 0.5, True)
    )
    # March (31 days): a5 leaves on the 5th, a6 is hired on the 16th. Days 3 x 31 + 5 + 16 = 114.
    # a4 reaches 3 months at the end of 31 Mar (3-12); a6 has 0. Covered by the roster of 1 April.
    assert headcount("2026-03-01") == pytest.approx(
        (4, 4, 114 / 31, 1, 1, 31 / 114, 12 * 31 / 114, 1, 1, 1, 1, 2, 0.5, True)
    )
    # April is in progress: covered by the roster delivered on its first day, not complete. a1 (27 months),
    # a2 (14), a4 (4), a6 (1); a2 and a4 dispatched.
    assert headcount("2026-04-01") == pytest.approx((4, 4, 4.0, 0, 0, 0.0, 0.0, 1, 1, 1, 1, 2, 0.5, False))
    # Every covered month: end = start + hires - leavers.
    assert query(
        "select count(*) from marts.fct_headcount_monthly"
        " where headcount_end <> headcount_start + hires_count - leavers_count"
    ) == [(0,)]


def test_a_month_no_roster_covers_has_no_roster_figures_and_is_not_complete(built):
    covered = query(
        "select month_start_date from marts.fct_headcount_monthly where has_roster_snapshot order by 1"
    )
    # A roster delivered in the month or in the first 7 days after it: 31 Dec, 10 Feb, 1 Apr (March and April).
    assert [row[0] for row in covered] == [
        dt.date(2025, 12, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1), dt.date(2026, 4, 1)
    ]
    # January (the next roster came on 10 Feb), the months before the first roster, and May (after the last
    # one): no headcount, hires, leavers, attrition, tenure or dispatched figure, never complete.
    for month in ("2024-01-01", "2025-11-01", "2026-01-01", "2026-05-01"):
        assert headcount(month) == (None,) * len(ROSTER_COLUMNS) + (False,), month
    assert query(
        "select count(*), count(*) filter (where is_month_complete) from marts.fct_headcount_monthly"
        " where not has_roster_snapshot"
    ) == [(25, 0)]
    # The team split follows the same rule: January's rows (agents of the later snapshots) carry no figure.
    january = query(
        """select team_id, employment_type, headcount_start, headcount_end, average_headcount, hires_count,
            leavers_count, attrition_rate, tenure_under_3_months_count, has_roster_snapshot, is_month_complete
        from marts.fct_headcount_monthly_by_team
        where tenant_id = ? and month_start_date = date '2026-01-01' order by 1, 2""",
        [TENANT],
    )
    assert [row[:2] for row in january] == [("t1", "dispatched"), ("t1", "full_time"), ("t2", "dispatched")]
    assert {row[2:] for row in january} == {(None,) * 7 + (False, False)}
    assert query(
        "select count(*) from marts.fct_headcount_monthly_by_team"
        " where has_roster_snapshot = (headcount_end is null) or (is_month_complete and not has_roster_snapshot)"
    ) == [(0,)]


def test_headcount_by_team_adds_up_to_the_tenant(built):
    assert query(
        """select employment_type, headcount_start, headcount_end, average_headcount, hires_count, leavers_count
        from marts.fct_headcount_monthly_by_team
        where tenant_id = ? and month_start_date = date '2026-02-01' and team_id = 't1' order by 1""",
        [TENANT],
    ) == [("dispatched", 1, 1, 1.0, 0, 0), ("full_time", 2, 1, pytest.approx(43 / 28), 0, 1)]
    mismatches = query(
        """with summed as (
            select tenant_id, month_start_date, sum(headcount_start) as hs, sum(headcount_end) as he,
                sum(average_headcount) as ah, sum(hires_count) as h, sum(leavers_count) as l,
                sum(tenure_under_3_months_count + tenure_3_to_12_months_count + tenure_1_to_2_years_count
                    + tenure_over_2_years_count) as banded
            from marts.fct_headcount_monthly_by_team group by 1, 2
        )
        select month_start_date from summed
        full join marts.fct_headcount_monthly as tenant using (tenant_id, month_start_date)
        where hs is distinct from tenant.headcount_start or he is distinct from tenant.headcount_end
            or abs(ah - tenant.average_headcount) > 1e-9 or h is distinct from tenant.hires_count
            or l is distinct from tenant.leavers_count or banded is distinct from tenant.headcount_end"""
    )
    assert mismatches == []


def test_the_hr_data_tests_hold_with_months_no_roster_covers(built):
    # the row rules: a roster figure is null exactly in a month no roster covers, never complete then
    result = dbt.invoke(
        "test", "--exclude-resource-type", "unit_test",
        "--select", "path:models/staging/hr", "path:models/intermediate/hr", "path:models/marts/hr",
    )  # fmt: skip
    assert result.success, result.failures
    assert result.nodes >= 10


def test_trained_vs_untrained_qa_scores(built):
    found = query(
        """select month_start_date, trained_evaluation_count, untrained_evaluation_count,
            trained_qa_score_rate, untrained_qa_score_rate
        from marts.fct_headcount_monthly
        where tenant_id = ? and month_start_date >= date '2026-01-01' order by 1""",
        [TENANT],
    )
    # January (no roster covers it): a1 (trained 2024) 24/30 = 0.8; the QA figures do not need the roster.
    # February has no evaluation.
    # March: a1 27/30 = 0.9; a4 before completing on 10 Mar 15/30 = 0.5, after it 24/30 = 0.8;
    # a6 (course in progress) auto-failed: 0. The draft ev5 is left out.
    # Trained: 0.9, 0.8 -> 0.85; untrained: 0.5, 0 -> 0.25.
    # May, after the last roster: a1 21/30 = 0.7 trained; a6 (still in onboarding at the training export of
    # 20 May) 18/30 = 0.6 untrained on 12 May; a6's evaluation of 25 May comes after that export, so a course
    # completed since is unknown: in neither group.
    assert found == [
        (dt.date(2026, 1, 1), 1, 0, pytest.approx(0.8), None),
        (dt.date(2026, 2, 1), 0, 0, None, None),
        (dt.date(2026, 3, 1), 2, 2, pytest.approx(0.85), pytest.approx(0.25)),
        (dt.date(2026, 4, 1), 0, 0, None, None),
        (dt.date(2026, 5, 1), 1, 1, pytest.approx(0.7), pytest.approx(0.6)),
    ]


def test_marts_carry_no_personal_fields_and_a_tenant_without_feeds_gets_no_rows(built):
    for table in ("fct_headcount_monthly", "fct_headcount_monthly_by_team"):
        columns = {row[0] for row in query(f"describe marts.{table}")}
        assert not columns & {"agent_id", "employee_id_hash", "employee_name_hash", "supervisor_id"}, table
    for table in ("fct_campaign_daily", "fct_headcount_monthly", "fct_headcount_monthly_by_team"):
        assert query(f"select count(*) from marts.{table} where tenant_id <> ?", [TENANT]) == [(0,)], table
