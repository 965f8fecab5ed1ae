"""The tenant is the unit of gate and publish: one client's blocked day holds back that client alone."""

from __future__ import annotations

import duckdb
import pytest

from callops import dbt, pipeline, publish, settings, warehouse
from tests.conftest import deliver
from tests.include.test_mart_gate import MONDAYS, contacts, query, whole_day

pytestmark = [pytest.mark.dbt, pytest.mark.gx]

TENANTS = ("shanghai_bank", "stockholm_telco")


def published(path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def days(path, tenant: str) -> list[str]:
    return [str(day) for (day,) in published(
        path, f"select kpi_date from marts.rpt_daily_kpis where tenant_id = '{tenant}' order by 1"
    )]


def run(run_id, start, end) -> None:
    """The pipeline's steps as `callops run` chains them (publish runs when the gate let it)."""
    con = warehouse.connect()
    con.execute("insert into ops.runs values (?, ?, ?, now(), null, 'running', null)", [run_id, start, end])
    con.close()
    pipeline.load_deliveries(run_id, start, end)
    pipeline.build_marts(run_id)
    pipeline.validate_marts(run_id)
    pipeline.publish_marts(run_id)
    pipeline.finish_run(run_id)


def test_one_tenants_blocked_day_does_not_hold_back_the_others(home):
    for tenant in TENANTS:
        for day in MONDAYS[:4]:
            deliver(home, tenant, day.isoformat(), "contacts.csv", contacts(day, 12))
    run("r1", MONDAYS[0], MONDAYS[3])

    # the last Monday: shanghai_bank's is whole, stockholm_telco's truncated far below its weekday history
    deliver(home, "shanghai_bank", MONDAYS[4].isoformat(), "contacts.csv", whole_day(MONDAYS[4], 12))
    bad = deliver(home, "stockholm_telco", MONDAYS[4].isoformat(), "contacts.csv", whole_day(MONDAYS[4], 3))
    with pytest.raises(pipeline.DataProblem) as failure:
        run("r2", MONDAYS[4], MONDAYS[4])
    message = str(failure.value)
    assert "tenant stockholm_telco held back" in message
    assert "is_volume_within_blocking_band" in message and "stockholm_telco 2026-03-30" in message
    assert "shanghai_bank" not in message and "nothing published" not in message

    center, last = settings.published_db_path(), str(MONDAYS[4])
    assert last in days(center, "shanghai_bank")
    assert last not in days(center, "stockholm_telco")  # its last good figures: r1's days
    assert days(center, "stockholm_telco") == [str(day) for day in MONDAYS[:4]]
    assert days(publish.tenant_path("shanghai_bank"), "shanghai_bank")[-1] == last
    assert days(publish.tenant_path("stockholm_telco"), "stockholm_telco") == [str(day) for day in MONDAYS[:4]]
    assert query("select tenant_id, publish_action, status from ops.run_tenants where run_id = 'r2' order by 1") == [
        ("shanghai_bank", "published", "success"), ("stockholm_telco", "held_back", "failed"),
        ("variant_tenant", "published", "success"),  # configured, no data yet: an empty file of its own
    ]
    # the blocked tenant's changes stay pending; the other's were passed
    assert query("select distinct tenant_id from ops.changed_partitions where validated_run_id is null") == [
        ("stockholm_telco",)
    ]
    # each tenant's file: its own checks only
    assert published(publish.tenant_path("shanghai_bank"), "select count(*) from marts.run_checks "
                     "where tenant_id is distinct from 'shanghai_bank'") == [(0,)]
    assert published(publish.tenant_path("stockholm_telco"), "select count(*) from marts.run_checks "
                     "where run_id = 'r2' and not success and severity = 'blocking'") == [(1,)]

    # the corrected re-delivery publishes the held-back day
    bad.write_text(whole_day(MONDAYS[4], 11))
    run("r3", MONDAYS[4], MONDAYS[4])
    assert days(center, "stockholm_telco")[-1] == last
    assert days(publish.tenant_path("stockholm_telco"), "stockholm_telco")[-1] == last


def test_a_blocked_tenant_with_no_other_tenant_changed_publishes_nothing(home):
    for tenant in TENANTS:
        for day in MONDAYS[:4]:
            deliver(home, tenant, day.isoformat(), "contacts.csv", contacts(day, 12))
    run("r1", MONDAYS[0], MONDAYS[3])
    served = settings.published_db_path().stat().st_ino
    deliver(home, "stockholm_telco", MONDAYS[4].isoformat(), "contacts.csv", whole_day(MONDAYS[4], 3))
    con = warehouse.connect()
    con.execute("insert into ops.runs values ('r2', ?, ?, now(), null, 'running', null)", [MONDAYS[4], MONDAYS[4]])
    con.close()
    pipeline.load_deliveries("r2", MONDAYS[4], MONDAYS[4])
    assert dbt.run_models().success
    with pytest.raises(pipeline.DataProblem, match="nothing published"):
        pipeline.validate_marts("r2")
    assert settings.published_db_path().stat().st_ino == served


def test_a_dbt_data_test_failing_on_one_tenants_rows_holds_back_that_tenant_alone(home):
    for tenant in TENANTS:
        for day in MONDAYS[:4]:
            deliver(home, tenant, day.isoformat(), "contacts.csv", contacts(day, 12))
    run("r1", MONDAYS[0], MONDAYS[3])
    for tenant in TENANTS:
        deliver(home, tenant, MONDAYS[4].isoformat(), "contacts.csv", whole_day(MONDAYS[4], 12))
    con = warehouse.connect()
    con.execute("insert into ops.runs values ('r2', ?, ?, now(), null, 'running', null)", [MONDAYS[4], MONDAYS[4]])
    con.close()
    pipeline.load_deliveries("r2", MONDAYS[4], MONDAYS[4])
    with warehouse.connection() as con:  # a defect in stockholm_telco's rows the staging row rules catch
        con.execute(
            "update raw.telephony_contacts set hold_seconds = -5 where tenant_id = 'stockholm_telco' "
            "and contact_id = 'c0330_1'"
        )
    built = pipeline.build_marts("r2")  # a failing data test stops no build
    assert built["nodes"] > 0
    gate = pipeline.validate_marts("r2")
    assert gate["held_back"] == ["stockholm_telco"]
    pipeline.publish_marts("r2")
    with pytest.raises(pipeline.DataProblem) as failure:
        pipeline.finish_run("r2")
    message = str(failure.value)
    assert "tenant stockholm_telco held back" in message and "row_rules_stg_telephony__contacts" in message
    assert "stockholm_telco 2026-03-30" in message

    center, last = settings.published_db_path(), str(MONDAYS[4])
    assert days(center, "shanghai_bank")[-1] == last
    assert days(center, "stockholm_telco")[-1] == str(MONDAYS[3])
    assert query(
        "select tenant_id, checked_by, severity from ops.check_results where run_id = 'r2' and not success "
        "and severity = 'blocking'"
    ) == [("stockholm_telco", "dbt", "blocking")]
    # the tenant's own file shows the dbt test that held it back
    assert published(publish.tenant_path("stockholm_telco"), "select check_name, checked_by from marts.run_checks "
                     "where run_id = 'r2' and not success and severity = 'blocking'") == [
        ("row_rules_stg_telephony__contacts", "dbt")
    ]
