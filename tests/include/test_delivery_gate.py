"""The delivery gate: a delivery whose rejected share is above the tenant's reject_threshold is held
back as a whole, in this and every later run, until it is re-delivered corrected or accepted."""

from __future__ import annotations

import datetime as dt

import pytest

from callops import cli, dbt, pipeline, warehouse
from tests.conftest import deliver

DAY = dt.date(2026, 3, 2)
HEADER = "contact_id,queue_id,entered_at,outcome,wait_seconds,talk_seconds,answered_at\n"
GOOD = HEADER + "".join(f"g{i},q1,2026-03-02 09:{i:02d}:00,answered,10,100,\n" for i in range(10))
# 2 of 10 rows rejected: 20 %, above the default reject_threshold of 1 %.
DIRTY = (
    HEADER
    + "".join(f"d{i},q1,2026-03-02 10:{i:02d}:00,answered,10,100,\n" for i in range(8))
    + "d8,q1,yesterday,answered,10,100,\n"
    + "d9,q1,2026-03-02 10:09:00,answered,-5,100,\n"
)


def query(sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connection(read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def offered_by_tenant() -> dict[str, int]:
    assert dbt.run_models().success
    return dict(query("select tenant_id, offered_count from marts.rpt_daily_kpis where kpi_date = ?", [DAY]))


@pytest.mark.dbt
def test_a_dirty_delivery_is_held_back_whole_and_named_while_others_publish(home):
    deliver(home, "shanghai_bank", "2026-03-02", "dirty.csv", DIRTY)
    deliver(home, "stockholm_telco", "2026-03-02", "good.csv", GOOD)
    summary = pipeline.load_deliveries("r1", DAY, DAY)
    assert summary["rows_rejected"] == 2
    [held] = summary["held"]
    assert "landing/telephony/shanghai_bank/2026-03-02/dirty.csv" in held
    assert "tenant shanghai_bank" in held and "delivery day 2026-03-02" in held and "reject_threshold" in held
    assert "2 of 10 rows rejected (20.0%)" in held
    # Its accepted rows stay in the raw layer; none reaches the marts.
    assert query("select count(*) from raw.telephony_contacts where contact_id like 'd%'") == [(8,)]
    assert offered_by_tenant() == {"stockholm_telco": 10}
    with pytest.raises(pipeline.DataProblem, match="dirty.csv.*held back"):
        pipeline.finish_run("r1")


@pytest.mark.dbt
def test_a_later_run_does_not_let_the_held_delivery_in(home):
    deliver(home, "shanghai_bank", "2026-03-02", "dirty.csv", DIRTY)
    pipeline.load_deliveries("r1", DAY, DAY)
    later = pipeline.load_deliveries("r2", DAY, DAY)
    assert later["held"] == [] and later["rows_loaded"] == 0
    [message] = query("select message from ops.run_files where run_id = 'r2'")[0]
    assert "still held back" in message and "callops accept" in message
    assert offered_by_tenant() == {}


@pytest.mark.dbt
def test_a_corrected_redelivery_passes_the_gate(home):
    path = deliver(home, "shanghai_bank", "2026-03-02", "dirty.csv", DIRTY)
    pipeline.load_deliveries("r1", DAY, DAY)
    path.write_text(DIRTY.replace("yesterday", "2026-03-02 10:08:00").replace("-5", "5"))
    summary = pipeline.load_deliveries("r2", DAY, DAY)
    assert summary["held"] == [] and summary["rows_loaded"] == 10
    assert query("select gate_status from raw.manifest") == [("passed",)]
    assert offered_by_tenant() == {"shanghai_bank": 10}


@pytest.mark.dbt
def test_accept_lets_the_held_rows_in_and_marks_their_days_for_the_gate(home, capsys):
    deliver(home, "shanghai_bank", "2026-03-02", "dirty.csv", DIRTY)
    pipeline.load_deliveries("r1", DAY, DAY)
    assert cli.main(["accept", "landing/telephony/shanghai_bank/2026-03-02/dirty.csv"]) == 0
    assert "accepted despite the delivery gate (2 of 10 rows rejected" in capsys.readouterr().out
    assert query("select gate_status from raw.manifest") == [("accepted",)]
    assert offered_by_tenant() == {"shanghai_bank": 8}
    spans = query("select run_id like 'accept_%', first_date, last_date from ops.changed_partitions order by 1")
    assert spans == [
        (False, dt.date(2026, 3, 1), dt.date(2026, 3, 3)), (True, dt.date(2026, 3, 1), dt.date(2026, 3, 3))
    ]
    # Accepting again, or a file that was never held, changes nothing and says so.
    assert cli.main(["accept", "dirty.csv"]) == 0
    assert "not held back (gate accepted)" in capsys.readouterr().out
    assert cli.main(["accept", "nosuch.csv"]) == 1
    assert "no loaded delivery by that path or name" in capsys.readouterr().out


def test_the_threshold_is_the_tenants_and_a_share_at_the_threshold_passes(home):
    config = home.parent / "callops.yml"
    config.write_text(
        config.read_text().replace("name: Shanghai test bank", "name: Shanghai test bank\n    reject_threshold: 0.2")
    )
    deliver(home, "shanghai_bank", "2026-03-02", "dirty.csv", DIRTY)
    summary = pipeline.load_deliveries("r1", DAY, DAY)
    assert summary["held"] == []
    assert query("select gate_status, gate_reason from raw.manifest") == [("passed", None)]
