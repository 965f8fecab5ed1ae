"""The QA, HR and marketing CSV contracts: loading, typing, pseudonyms, rejects, detection, staging dedupe."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from pathlib import Path

import pytest

from callops import dbt, pipeline, warehouse
from callops.contracts import hr, marketing, qa
from callops.load import registry
from callops.load.base import Head
from tests.conftest import deliver

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
TENANT = "shanghai_bank"  # Asia/Shanghai: local wall-clock times are UTC+8
DAY = dt.date(2026, 3, 2)
KEY = "feed-contract-test-key"


def fixture(feed: str, name: str) -> str:
    return (FIXTURES / feed / name).read_text(encoding="utf-8")


def load(start: dt.date = DAY, end: dt.date | None = None, run_id: str = "r1") -> dict:
    return pipeline.load_deliveries(run_id, start, end or start)


def query(sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connection(read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def pseudonym(value: str) -> str:
    from callops.pseudonym import tenant_key

    return hmac.new(tenant_key(TENANT, KEY.encode()), value.encode(), hashlib.sha256).hexdigest()


# One sample per contract: (feed, fixture, contract, rows loaded, {line: reject reason}).
SAMPLES = [
    (
        "qa", "evaluations.csv", qa.EVALUATIONS, 3,
        {
            5: "score 12 is above max_score 10",
            6: "is_auto_fail is true on a criterion that is not fatal",
            7: "score is empty (only a not-applicable criterion has no score)",
            8: "status 'reviewed' is not one of submitted, draft, acknowledged, disputed",
        },
    ),
    (
        "qa", "calibrations.csv", qa.CALIBRATIONS, 3,
        {5: "score is below 0: -1", 6: "evaluator_id is empty (only the consensus row has no evaluator)"},
    ),
    (
        "qa", "csat_surveys.tsv", qa.CSAT_SURVEYS, 2,
        {4: "score 9 is outside the scale 1-5", 5: "is_resolved is not true or false: maybe"},
    ),
    (
        "hr", "roster.csv", hr.ROSTER, 2,
        {
            4: "termination_date 2025-08-31 is before hire_date 2025-09-01",
            5: "employment_type 'temp' is not one of full_time, part_time, dispatched, contractor, intern",
            6: "termination_type or termination_reason given without termination_date",
        },
    ),
    (
        "hr", "shifts.csv", hr.SHIFTS, 3,
        {
            5: "ends_at 2026-03-02 13:00:00 is not after starts_at 2026-03-02 14:00:00",
            6: "activity 'nap' is not one of work, break, lunch, training, meeting, coaching, offline, time_off, other",
        },
    ),
    (
        "hr", "attendance.csv", hr.ATTENDANCE, 2,
        {
            4: "an agent who is absent has no clock_in_at",
            5: "clock_out_at 2026-03-02 08:00:00 is before clock_in_at 2026-03-02 09:00:00",
        },
    ),
    (
        "hr", "training.csv", hr.TRAINING, 2,
        {4: "completed_on 2026-02-10 is before started_on 2026-02-20", 5: "is_passed is given without completed_on"},
    ),
    (
        "marketing", "campaigns.csv", marketing.CAMPAIGNS, 2,
        {4: "ends_on 2026-04-01 is before starts_on 2026-05-01", 5: "unit_value is below 0: -100"},
    ),
    (
        "marketing", "offers.csv", marketing.OFFERS, 3,
        {
            5: "is_accepted is true but is_pitched is false",
            6: "is_pitched is true but is_shown is false",
            7: "revenue 300 on an offer that was not accepted",
        },
    ),
]


@pytest.fixture
def keyed_home(home, monkeypatch):
    monkeypatch.setenv("CALLOPS_PSEUDONYM_KEY", KEY)
    return home


@pytest.mark.parametrize(("feed", "name", "contract", "loaded", "rejects"), SAMPLES, ids=[s[1] for s in SAMPLES])
def test_each_sample_loads_and_rule_breaking_rows_are_rejected_by_line(
    keyed_home, feed, name, contract, loaded, rejects
):
    deliver(keyed_home, TENANT, DAY.isoformat(), name, fixture(feed, name), feed=feed)
    summary = load()
    assert len(summary.pop("held")) == (1 if rejects else 0)  # samples reject more than 1 %: held back
    assert summary == {"files": 1, "failed": [], "rows_loaded": loaded, "rows_rejected": len(rejects)}
    assert query(f"select count(*) from raw.{contract.table}") == [(loaded,)]
    assert dict(query("select line, reason from raw.rejects")) == rejects
    assert query("select distinct feed, file_name from raw.rejects") == [(feed, name)]
    assert query("select file_format, status from raw.manifest") == [(contract.format, "loaded")]


@pytest.mark.parametrize(("feed", "name", "contract"), [s[:3] for s in SAMPLES], ids=[s[1] for s in SAMPLES])
def test_detection_picks_the_contract_from_the_header(feed, name, contract):
    head = Head(name, fixture(feed, name), "utf-8")
    assert registry.choose(feed, head).contract is contract
    # Only the feed's own contracts are candidates.
    for other in {"qa", "hr", "marketing"} - {feed}:
        assert registry.choose(other, head) is None


def test_every_contract_has_distinctive_required_columns():
    contracts = qa.CONTRACTS + hr.CONTRACTS + marketing.CONTRACTS
    for feed, module in (("qa", qa), ("hr", hr), ("marketing", marketing)):
        assert tuple(adapter.contract for adapter in registry.adapters(feed)) == module.CONTRACTS
    for contract in contracts:
        for other in contracts:
            if other is not contract and other.feed == contract.feed:
                assert not set(contract.required_columns) <= set(other.names), (contract.format, other.format)


def test_a_header_missing_a_required_column_fails_the_file_naming_it(keyed_home):
    deliver(
        keyed_home, TENANT, DAY.isoformat(), "offers.csv",
        "offer_id,campaign_id,contact_id,offered_at,is_shown,is_pitched\no1,k1,c1,2026-03-02 10:00:00,1,0\n",
        feed="marketing",
    )
    summary = load()
    assert summary["rows_loaded"] == 0
    assert summary["failed"] == [
        "landing/marketing/shanghai_bank/2026-03-02/offers.csv: missing required column(s) is_accepted for "
        "callops_marketing_offer_csv (header has: offer_id, campaign_id, contact_id, offered_at, is_shown, is_pitched)"
    ]


def test_values_are_typed_and_times_are_utc(keyed_home):
    for feed, name, *_ in SAMPLES:
        deliver(keyed_home, TENANT, DAY.isoformat(), name, fixture(feed, name), feed=feed)
    assert load()["failed"] == []
    assert query(
        """select criterion_id, score, max_score, weight, is_fatal, is_auto_fail, is_not_applicable, status,
            form_version, evaluated_at
        from raw.qa_evaluations order by source_line"""
    ) == [
        ("greet", 10.0, 10.0, 0.2, False, False, False, "submitted", 2, dt.datetime(2026, 3, 2, 2, 0)),
        ("verify", 0.0, 20.0, 0.5, True, True, False, "submitted", 2, dt.datetime(2026, 3, 2, 2, 0)),
        ("offer", None, 10.0, 0.3, False, False, True, "submitted", 2, dt.datetime(2026, 3, 2, 2, 0)),
    ]
    # An explicit offset is honoured: 15:00 +08:00 is 07:00 UTC.
    assert query("select distinct calibrated_at from raw.qa_calibrations") == [(dt.datetime(2026, 3, 2, 7, 0),)]
    assert query("select evaluator_id, is_consensus from raw.qa_calibrations order by source_line") == [
        ("qa1", False), ("qa2", False), (None, True),
    ]
    assert query("select survey_id, score, scale_max, is_resolved from raw.csat_surveys order by 1") == [
        ("s1", 5.0, 5.0, True), ("s2", 2.0, 5.0, False),
    ]
    assert query(
        "select agent_id, skills, employment_type, hire_date, termination_date from raw.hr_roster order by 1"
    ) == [
        ("a1", ["cards", "loans"], "full_time", dt.date(2024, 3, 1), None),
        ("a2", ["cards", "sales"], "dispatched", dt.date(2025, 7, 15), dt.date(2026, 2, 27)),
    ]
    assert query("select activity, is_paid, starts_at, ends_at from raw.hr_shifts order by starts_at") == [
        ("work", True, dt.datetime(2026, 3, 2, 1, 0), dt.datetime(2026, 3, 2, 4, 0)),
        ("lunch", False, dt.datetime(2026, 3, 2, 4, 0), dt.datetime(2026, 3, 2, 5, 0)),
        ("training", True, dt.datetime(2026, 3, 2, 5, 0), dt.datetime(2026, 3, 2, 6, 0)),
    ]
    assert query("select agent_id, status, absence_seconds, is_planned from raw.hr_attendance order by 1") == [
        ("a1", "late", 720.0, False), ("a2", "sick", 28800.0, False),
    ]
    assert query("select agent_id, is_passed, training_seconds, certified_until from raw.hr_training order by 1") == [
        ("a1", True, 144000.0, dt.date(2027, 3, 14)), ("a2", None, None, None),
    ]
    assert query("select campaign_id, direction, unit_value, ends_on from raw.marketing_campaigns order by 1") == [
        ("k1", "inbound", 300.0, dt.date(2026, 6, 30)), ("k2", "outbound", 800.0, None),
    ]
    assert query(
        "select offer_id, is_shown, is_pitched, is_accepted, revenue, pitch_seconds"
        " from raw.marketing_offers order by 1"
    ) == [
        ("o1", True, True, True, 300.0, 90.0),
        ("o2", True, True, False, None, 45.0),
        ("o3", True, False, False, None, None),
    ]


def test_personal_data_is_stored_only_as_keyed_pseudonyms(keyed_home):
    for feed, name in [("qa", "csat_surveys.tsv"), ("hr", "roster.csv"), ("marketing", "offers.csv")]:
        deliver(keyed_home, TENANT, DAY.isoformat(), name, fixture(feed, name), feed=feed)
    assert load()["failed"] == []
    stored = " ".join(
        str(row)
        for table in ("csat_surveys", "hr_roster", "marketing_offers")
        for row in query(f"select * from raw.{table}")
    )
    clear_values = ("13800138000", "0013-8000", "13800138001", "CUST-0001", "cust-0001", "E1001", "e1001")
    for clear in (*clear_values, "Wang Wei", "wang wei", "Li Na"):
        assert clear not in stored
    assert query("select survey_id, caller_number_hash, customer_id_hash from raw.csat_surveys order by 1") == [
        ("s1", pseudonym("+8613800138000"), pseudonym("cust-0001")),
        ("s2", pseudonym("13800138001"), pseudonym("cust-0002")),
    ]
    assert query("select employee_id_hash, employee_name_hash from raw.hr_roster where agent_id = 'a1'") == [
        (pseudonym("e1001"), pseudonym("wang wei")),
    ]
    # The same customer has the same pseudonym in every feed.
    offer_customer = query("select customer_id_hash from raw.marketing_offers where offer_id = 'o1'")
    assert offer_customer == [(pseudonym("cust-0001"),)]


def test_a_gbk_roster_with_chinese_names_and_teams_loads(keyed_home):
    text = (
        "agent_id;employee_name;team_id;team_name;site;skills;employment_type;vendor;hire_date;termination_date\n"
        "a1;王伟;t1;信用卡一组;上海;信用卡|贷款;full_time;;2024/03/01;\n"
        "a2;李娜;t1;信用卡一组;上海;信用卡;dispatched;仁力人力资源;2025/07/15;2026/02/27\n"
    )
    path = deliver(keyed_home, TENANT, DAY.isoformat(), "花名册.csv", "", feed="hr")
    path.write_bytes(text.encode("gbk"))
    summary = load()
    assert summary == {"files": 1, "failed": [], "rows_loaded": 2, "rows_rejected": 0, "held": []}
    assert query("select encoding, file_format from raw.manifest") == [("gb18030", "callops_hr_roster_csv")]
    assert query(
        "select agent_id, team_name, site, skills, vendor, hire_date, employee_name_hash from raw.hr_roster order by 1"
    ) == [
        ("a1", "信用卡一组", "上海", ["信用卡", "贷款"], None, dt.date(2024, 3, 1), pseudonym("王伟")),
        ("a2", "信用卡一组", "上海", ["信用卡"], "仁力人力资源", dt.date(2025, 7, 15), pseudonym("李娜")),
    ]


STAGING = (
    "stg_qa__evaluations", "stg_qa__calibrations", "stg_qa__csat_surveys",
    "stg_hr__roster", "stg_hr__shifts", "stg_hr__attendance", "stg_hr__training",
    "stg_marketing__campaigns", "stg_marketing__offers",
)


@pytest.mark.dbt
def test_staging_keeps_the_latest_delivery_and_builds_without_some_feeds(keyed_home):
    day1, day2 = "2026-03-02", "2026-03-03"
    roster_header = "agent_id,team_id,employment_type,hire_date,termination_date,termination_type\n"
    deliver(
        keyed_home, TENANT, day1, "roster.csv",
        roster_header + "a1,t1,full_time,2024-03-01,,\na2,t1,dispatched,2025-07-15,,\n",
        feed="hr",
    )
    # The next day's snapshot moves a1 to team t2 and records a2 leaving; a3 is new.
    deliver(
        keyed_home, TENANT, day2, "roster.csv",
        roster_header
        + "a1,t2,full_time,2024-03-01,,\n"
        + "a2,t1,dispatched,2025-07-15,2026-03-02,voluntary\n"
        + "a3,t2,part_time,2026-03-03,,\n",
        feed="hr",
    )
    eval_header = "evaluation_id,contact_id,agent_id,form_id,criterion_id,score,max_score,evaluated_at\n"
    deliver(
        keyed_home, TENANT, day1, "evals.csv",
        eval_header + "ev1,c1,a1,f1,greet,5,10,2026-03-02 10:00:00\nev1,c1,a1,f1,verify,0,20,2026-03-02 10:00:00\n",
        feed="qa",
    )
    # A dispute re-scores ev1 on the form's new version, which has no 'verify': the whole evaluation is replaced.
    deliver(
        keyed_home, TENANT, day2, "evals.csv",
        eval_header + "ev1,c1,a1,f1,greet,8,10,2026-03-03 09:00:00\nev1,c1,a1,f1,close,10,10,2026-03-03 09:00:00\n",
        feed="qa",
    )
    shift_header = "agent_id,shift_date,activity,starts_at,ends_at\n"
    deliver(
        keyed_home, TENANT, day1, "shifts.csv",
        shift_header
        + "a1,2026-03-04,work,2026-03-04 09:00:00,2026-03-04 12:00:00\n"
        + "a1,2026-03-04,lunch,2026-03-04 12:00:00,2026-03-04 13:00:00\n"
        + "a2,2026-03-04,work,2026-03-04 09:00:00,2026-03-04 18:00:00\n",
        feed="hr",
    )
    # The re-published schedule changes a1's day only; a2's day stays as first published.
    deliver(
        keyed_home, TENANT, day2, "shifts.csv",
        shift_header + "a1,2026-03-04,training,2026-03-04 09:00:00,2026-03-04 17:00:00\n",
        feed="hr",
    )
    # Load the later day first (a backfill of the earlier day must not win by being loaded last).
    assert load(dt.date(2026, 3, 3), run_id="r1")["failed"] == []
    assert load(dt.date(2026, 3, 2), run_id="r2")["failed"] == []

    result = dbt.run_models()
    assert result.error is None, result.error
    assert not [failure for failure in result.failures if any(model in failure for model in STAGING)], result.failures

    assert query(
        "select agent_id, team_id, termination_date, termination_type from staging.stg_hr__roster order by 1"
    ) == [
        ("a1", "t2", None, None),
        ("a2", "t1", dt.date(2026, 3, 2), "voluntary"),
        ("a3", "t2", None, None),
    ]
    assert query("select criterion_id, score, evaluation_status from staging.stg_qa__evaluations order by 1") == [
        ("close", 10.0, "submitted"), ("greet", 8.0, "submitted"),
    ]
    assert query("select agent_id, activity, activity_seconds from staging.stg_hr__shifts order by 1, 2") == [
        ("a1", "training", 28800), ("a2", "work", 32400),
    ]
    # Feeds this tenant never sent still build, empty.
    for model in ("stg_marketing__campaigns", "stg_marketing__offers", "stg_qa__csat_surveys", "stg_hr__training"):
        assert query(f"select count(*) from staging.{model}") == [(0,)]
