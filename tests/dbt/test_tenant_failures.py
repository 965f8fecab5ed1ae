"""dbt data tests decide per tenant (issue 19).

Inside callops every data test runs as a warning, so a failing one never skips the models downstream
of it for any tenant; callops.dbt reads each failing test's rows per tenant (DbtResult.test_failures)
with the severity its yml declares. On a two-tenant build where one tenant's data breaks a row rule,
a relationship, a unique key and a warn-level rule, the build succeeds and only that tenant is named.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from callops import dbt, pipeline, settings, warehouse
from tests.conftest import TEST_CONFIG, deliver

pytestmark = pytest.mark.dbt

CONTACTS = (
    "contact_id,queue_id,direction,entered_at,outcome,wait_seconds,talk_seconds,hold_seconds,"
    "after_call_work_seconds,agent_id\n"
)
ROW_RULES = "row_rules_stg_telephony__contacts"
ORPHANS = "relationships_stg_telephony__contacts_file_id__file_id__source_config_manifest_"
REPEATED_DAYS = "unique_combination_of_columns_rpt_daily_kpis_tenant_id__kpi_date"
TRANSFERRED = (
    "expression_is_true_stg_telephony__contacts_is_transferred__outcome_answered_or_is_transferred_is_not_true"
)
# Two tests the project does not declare, added to a copy of it (accepted_values is not used in the
# project; every unique_combination_of_columns key there holds tenant_id)
OUTCOMES = "accepted_values_stg_telephony__contacts_outcome__answered__abandoned"
CONTACT_IDS = "unique_combination_of_columns_stg_telephony__contacts_contact_id"


# --- the records, from failing rows as a test returns them ------------------------------------------


def failing_test(code: str, status: str = "warn", failures: int = 0, severity: str | None = None, meta=None):
    """A data test's result as dbt reports it (the attributes callops.dbt reads)."""
    node = SimpleNamespace(
        resource_type="test",
        name="row_rules_x",
        compiled_code=code,
        attached_node="model.callops.x",
        column_name=None,
        depends_on=SimpleNamespace(nodes=["model.callops.x"]),
        unrendered_config={"severity": severity} if severity else {},
        config=SimpleNamespace(meta=meta or {}),
    )
    return SimpleNamespace(status=status, failures=failures, node=node)


MODEL_X = {"model.callops.x": {"name": "x", "config": {"meta": {"window_column": "entered_at"}}}}


def records(result, nodes=MODEL_X) -> list[dbt.TestFailure]:
    with warehouse.connection(read_only=True) as con:
        return dbt._tenant_failures(con, result, nodes)


def test_a_failing_test_gives_one_record_per_tenant_with_its_own_rows_counts_and_days(home):
    warehouse.connect().close()
    rows = (
        "select * from (values"
        " ('hold_seconds', 'hold_seconds >= 0', 'b', timestamp '2026-03-03 23:30:00', 2),"
        " ('hold_seconds', 'hold_seconds >= 0', 'b', timestamp '2026-03-02 10:00:00', 1),"
        " ('talk_seconds', 'talk_seconds >= 0', 'b', timestamp '2026-03-02 11:00:00', 4),"
        " ('talk_seconds', 'talk_seconds >= 0', 'a', timestamp '2026-03-02 01:00:00', 5))"
        " as t(column_name, rule, tenant_id, entered_at, broken_rows)"
    )
    found = records(failing_test(rows, failures=4))
    assert [(f.tenant_id, f.unexpected_count, f.failing_keys) for f in found] == [
        ("a", 5, ["a 2026-03-02"]),
        ("b", 7, ["b 2026-03-02", "b 2026-03-03"]),  # the broken rows of each rule and day, added up
    ]
    a, b = found
    assert (a.test, a.table, a.column, a.severity) == ("row_rules_x", "x", None, "blocking")
    assert a.notes == (
        "column_name=talk_seconds, rule=talk_seconds >= 0, tenant_id=a, entered_at=2026-03-02 01:00:00, broken_rows=5"
    )
    # nothing of the other tenant: its rules, days and counts stay in its own record
    assert "tenant_id=a" not in b.notes and "2026-03-02 01:00" not in b.notes and "broken_rows=5" not in b.notes
    assert b.notes.count("tenant_id=b") == 3


def test_failing_rows_without_a_tenant_block_every_tenant_with_the_tests_own_count(home):
    warehouse.connect().close()
    found = records(failing_test("select * from (values ('q1', 2), ('q2', 3)) as t(queue_id, row_count)", failures=2))
    assert [(f.tenant_id, f.unexpected_count, f.failing_keys) for f in found] == [(None, 2, [])]
    assert found[0].notes == "queue_id=q1, row_count=2 | queue_id=q2, row_count=3"
    # a row whose tenant_id is null cannot be attributed either: a record without a tenant, beside the others
    rows = "select * from (values ('a', 'x'), (null, 'y'), (null, 'z')) as t(tenant_id, agent_id)"
    found = records(failing_test(rows, failures=3))
    assert [(f.tenant_id, f.unexpected_count, f.failing_keys) for f in found] == [("a", 1, []), (None, 2, [])]
    # rows that cannot be read again (a table dropped since): the test's count, for every tenant
    found = records(failing_test("select * from marts.dropped_since", failures=4))
    assert [(f.tenant_id, f.unexpected_count, f.notes) for f in found] == [(None, 4, None)]


def test_the_declared_severity_decides_blocking_or_warning_and_a_tests_own_day_column_dates_its_rows(home):
    warehouse.connect().close()
    rows = "select * from (values ('a', timestamp '2026-03-02 23:59:00', 1)) as t(tenant_id, interval_start_at, n)"
    declared_warn = failing_test(rows, severity="warn", meta={"day_column": "interval_start_at"})
    (found,) = records(declared_warn, nodes={})
    assert (found.severity, found.failing_keys, found.table) == ("warning", ["a 2026-03-02"], "x")
    assert records(failing_test(rows, severity="error"))[0].severity == "blocking"
    assert records(failing_test(rows, severity="{{ env_var('X', 'error') }}"))[0].severity == "blocking"


# --- the severity mechanism, on a real parse -------------------------------------------------------


def test_inside_callops_every_data_test_warns_and_its_declared_severity_is_read_back(home):
    """No data test stops a callops build (each is a warning, so dbt skips nothing downstream); what its
    yml declares is kept in the manifest's unrendered config, which callops reads back."""
    warehouse.connect().close()
    parsed = dbt.invoke("parse")
    assert parsed.success, parsed.error
    tests = [
        node
        for node in json.loads((settings.dbt_work_dir() / "target" / "manifest.json").read_text())["nodes"].values()
        if node["resource_type"] == "test"
    ]
    assert len(tests) > 100
    assert {node["config"]["severity"].lower() for node in tests} == {"warn"}
    declared_warn = {node["name"] for node in tests if node["unrendered_config"].get("severity") == "warn"}
    yml_warn = sum(
        path.read_text().count("severity: warn") for path in (settings.dbt_project_dir() / "models").rglob("*.yml")
    )
    assert len(declared_warn) == yml_warn > 0
    assert TRANSFERRED in declared_warn and ROW_RULES not in declared_warn


def test_by_hand_dbt_keeps_the_declared_severities(home, tmp_path, monkeypatch):
    from dbt.cli.main import dbtRunner

    warehouse.connect().close()
    args = dbt.command("parse", target=tmp_path / "by_hand")
    monkeypatch.delenv(dbt.DATA_TEST_SEVERITY_ENV)  # what a shell in dbt_project/ has
    try:
        assert dbtRunner().invoke(args).success
    finally:
        dbt._release_warehouse()
    nodes = json.loads((tmp_path / "by_hand" / "manifest.json").read_text())["nodes"].values()
    severity = {node["name"]: node["config"]["severity"].lower() for node in nodes if node["resource_type"] == "test"}
    assert severity[ROW_RULES] == "error" and severity[TRANSFERRED] == "warn"


# --- a two-tenant build where one tenant's data breaks the rules ------------------------------------


@pytest.fixture(scope="module")
def broken_build(tmp_path_factory: pytest.TempPathFactory):
    """Two tenants' contacts over two days; stockholm_telco's raw rows are then damaged (as a loader
    defect or a hand edit would) and the project, with two tests added, is built once."""
    root = tmp_path_factory.mktemp("tenant_failures")
    project = root / "project"
    shutil.copytree(settings.dbt_project_dir(), project / "dbt_project")
    add_tests(project / "dbt_project" / "models" / "staging" / "telephony" / "_telephony__models.yml")
    (root / "callops.yml").write_text(TEST_CONFIG)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CALLOPS_HOME", str(root / "data"))
        patch.setenv("CALLOPS_CONFIG", str(root / "callops.yml"))
        patch.setenv(settings.PROJECT_DIR_ENV, str(project))
        home = root / "data"
        for day, shanghai, stockholm in DELIVERIES:
            deliver(home, "shanghai_bank", day, "contacts.csv", CONTACTS + shanghai)
            deliver(home, "stockholm_telco", day, "contacts.csv", CONTACTS + stockholm)
        pipeline.load_deliveries("tenant_failures", dt.date(2026, 3, 2), dt.date(2026, 3, 3))
        with warehouse.connection() as con:
            contacts = "update raw.telephony_contacts set {} where tenant_id = 'stockholm_telco' and contact_id in ({})"
            con.execute(contacts.format("hold_seconds = -5", "'s2', 's6'"))  # the row rule hold_seconds >= 0
            con.execute(contacts.format("file_id = 'no_such_file'", "'s5'"))  # a relationship
            con.execute(contacts.format("is_transferred = true", "'s3'"))  # a warn rule: only answered transfer
        built = dbt.build()
        target = settings.dbt_work_dir() / "target"
        models, run_results = dbt.model_statuses(target), json.loads((target / "run_results.json").read_text())
        # a unique key: a published day twice (the loaders and staging de-duplicate every raw record)
        with warehouse.connection() as con:
            con.execute(
                "insert into marts.rpt_daily_kpis select * from marts.rpt_daily_kpis "
                "where tenant_id = 'stockholm_telco' and kpi_date = '2026-03-02'"
            )
        tested = dbt.invoke("test", "--select", "rpt_daily_kpis")
        yield SimpleNamespace(result=built, models=models, run_results=run_results, tested=tested)


# Local times: Shanghai UTC+8, Stockholm UTC+1 (before the end of March).
DELIVERIES = [
    (
        "2026-03-02",
        "c1,q1,inbound,2026-03-02 09:00:05,answered,10,100,0,10,a1\n"
        "c2,q1,inbound,2026-03-02 09:05:00,abandoned,30,,,,\n",
        "c1,q1,inbound,2026-03-02 10:00:00,answered,5,200,10,20,b1\n"
        "s2,q1,inbound,2026-03-02 10:10:00,answered,8,150,0,15,b1\n"
        "s3,q1,inbound,2026-03-02 10:20:00,abandoned,40,,,,\n"
        "s4,q1,inbound,2026-03-02 10:30:00,timeout,60,,,,\n"
        "s5,q1,inbound,2026-03-02 11:00:00,answered,3,90,0,5,b1\n",
    ),
    (
        "2026-03-03",
        "c3,q1,inbound,2026-03-03 10:00:00,answered,12,80,0,10,a1\n",
        "s6,q1,inbound,2026-03-03 09:00:00,answered,4,120,0,10,b1\n",
    ),
]


def add_tests(models_yml: Path) -> None:
    """Add to stg_telephony__contacts an accepted_values test (outcome: answered or abandoned) and, as a
    warning, a unique key without tenant_id (contact_id: c1 is both tenants')."""
    document = yaml.safe_load(models_yml.read_text())
    (model,) = [m for m in document["models"] if m["name"] == "stg_telephony__contacts"]
    model["data_tests"].append(
        {
            "unique_combination_of_columns": {
                "arguments": {"combination_of_columns": ["contact_id"]},
                "config": {"severity": "warn"},
            }
        }
    )
    (outcome,) = [c for c in model["columns"] if c["name"] == "outcome"]
    outcome["data_tests"] = [{"accepted_values": {"arguments": {"values": ["answered", "abandoned"]}}}]
    models_yml.write_text(yaml.safe_dump(document, sort_keys=False))


def by_test(result) -> dict[str, list[dbt.TestFailure]]:
    found: dict[str, list[dbt.TestFailure]] = {}
    for failure in result.test_failures:
        found.setdefault(failure.test, []).append(failure)
    return found


def summary(failures: list[dbt.TestFailure]) -> list[tuple]:
    return [(f.tenant_id, f.severity, f.unexpected_count, f.failing_keys) for f in failures]


def test_a_failing_data_test_stops_nothing_downstream_and_fails_no_build(broken_build):
    result = broken_build.result
    assert result.success and result.failures == [] and result.error is None, result
    assert {ROW_RULES, ORPHANS, OUTCOMES, TRANSFERRED} <= set(by_test(result))
    # every model built (none skipped below a failing test), the marts too
    assert broken_build.models and all(status.startswith("success") for status in broken_build.models.values())
    assert broken_build.models["rpt_daily_kpis"].startswith("success")


def test_only_the_tenant_whose_data_breaks_a_blocking_test_is_named(broken_build):
    found = by_test(broken_build.result)
    assert {f.tenant_id for f in broken_build.result.test_failures if f.severity == "blocking"} == {"stockholm_telco"}
    # the row rule, on both days it broke (UTC days of entered_at, the model's window column)
    assert summary(found[ROW_RULES]) == [
        ("stockholm_telco", "blocking", 2, ["stockholm_telco 2026-03-02", "stockholm_telco 2026-03-03"])
    ]
    (row_rule,) = found[ROW_RULES]
    assert (row_rule.table, row_rule.column) == ("stg_telephony__contacts", None)
    assert "rule=hold_seconds >= 0" in row_rule.notes
    # the relationship: the contact whose file is unknown
    assert summary(found[ORPHANS]) == [("stockholm_telco", "blocking", 1, ["stockholm_telco 2026-03-02"])]
    assert (found[ORPHANS][0].table, found[ORPHANS][0].column) == ("stg_telephony__contacts", "file_id")
    assert "from_field=no_such_file" in found[ORPHANS][0].notes
    # accepted_values (overridden like unique, not_null and relationships): the tenant's value and its count
    assert summary(found[OUTCOMES]) == [("stockholm_telco", "blocking", 1, ["stockholm_telco 2026-03-02"])]
    assert "value_field=timeout" in found[OUTCOMES][0].notes


def test_a_repeated_key_names_the_tenant_and_day_holding_it(broken_build):
    tested = broken_build.tested
    assert tested.success and tested.failures == [], tested
    assert [f.test for f in tested.test_failures] == [REPEATED_DAYS]
    assert summary(tested.test_failures) == [("stockholm_telco", "blocking", 2, ["stockholm_telco 2026-03-02"])]
    assert tested.test_failures[0].notes == "tenant_id=stockholm_telco, kpi_date=2026-03-02, row_count=2"


def test_a_test_declared_warn_reports_a_warning(broken_build):
    assert summary(by_test(broken_build.result)[TRANSFERRED]) == [
        ("stockholm_telco", "warning", 1, ["stockholm_telco 2026-03-02"])
    ]


def test_a_key_without_tenant_id_names_each_tenant_holding_a_repeated_key_with_its_own_rows(broken_build):
    (shanghai, stockholm) = by_test(broken_build.result)[CONTACT_IDS]
    assert summary([shanghai, stockholm]) == [
        ("shanghai_bank", "warning", 1, []),
        ("stockholm_telco", "warning", 1, []),
    ]
    assert shanghai.notes == "contact_id=c1, tenant_id=shanghai_bank, row_count=1"


def test_no_record_holds_another_tenants_rows(broken_build):
    for failure in broken_build.result.test_failures:
        assert failure.tenant_id in ("shanghai_bank", "stockholm_telco"), failure
        other = {"shanghai_bank": "stockholm_telco", "stockholm_telco": "shanghai_bank"}[failure.tenant_id]
        assert other not in f"{failure.notes} {failure.failing_keys}", failure
        if failure.tenant_id == "shanghai_bank":
            assert not any(contact in failure.notes for contact in ("s2", "s3", "s4", "s5", "s6", "b1")), failure


def test_every_data_tests_failing_rows_carry_the_tenant_id_of_its_model(broken_build):
    """Each data test of the build, its compiled SQL as it ran: its failing rows have a tenant_id column
    (every tested model of the project has one)."""
    tests = [r for r in broken_build.run_results["results"] if r["unique_id"].startswith("test.")]
    assert len(tests) > 100
    without = []
    with warehouse.connection(read_only=True) as con:
        for test in tests:
            columns = [row[0] for row in con.execute(f"describe select * from ({test['compiled_code']})").fetchall()]
            if "tenant_id" not in columns:
                without.append(f"{test['unique_id']}: {columns}")
    assert without == [], "failing rows without a tenant_id:\n" + "\n".join(without)
