"""The pseudonymisation key never changes silently; `callops rekey` rotates it deliberately.

The warehouse keeps the key's fingerprint (never the key). A run with another key, or whose key file
was deleted, exits 2 before any delivery is opened, naming the change and `callops rekey`; a warehouse
built before fingerprints adopts the current key. `callops rekey` re-pseudonymises the raw layer (in
place from the clear numbers the telephony tables keep, by reading again the files whose tables keep
only pseudonyms), rebuilds in full, republishes, and drops the published versions of the old key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import shutil
import textwrap

import pytest

from callops import airflow_runner, cli, dbt, pipeline, pseudonym, publish, rekey, warehouse
from tests.conftest import deliver

KEY_A, KEY_B = "key-A-the-first-of-two", "key-B-the-second-of-two"
DAY1, DAY2 = dt.date(2026, 3, 2), dt.date(2026, 3, 3)
HEADER = "contact_id,queue_id,entered_at,outcome,wait_seconds,talk_seconds,caller_number\n"
# caller +8613800000001 calls on both days (a repeat within the FCR window), +8613800000002 once
DAY1_CALLS = (
    "c1,cards,2026-03-02 09:00:00,answered,10,100,+8613800000001\n"
    "c2,cards,2026-03-02 09:05:00,answered,12,90,+86 138-0000-0002\n"
    "c3,cards,2026-03-02 09:10:00,abandoned,40,,anonymous\n"
)
DAY2_CALLS = "d1,cards,2026-03-03 10:00:00,answered,8,80,+8613800000001\n"
SURVEYS = textwrap.dedent(
    """\
    survey_id,contact_id,caller_number,customer_id,answered_at,score,scale_max
    s1,c1,+8613800000001,CUST-1,2026-03-02 10:00:00,5,5
    s2,c2,+8613800000002,CUST-2,2026-03-02 11:00:00,3,5
    """
)


def query(sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connection(read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def pseudonym_of(key: str, tenant: str, value: str) -> str:
    """What callops must store for ``value`` (already normalised) of ``tenant`` under ``key``."""
    return hmac.new(pseudonym.tenant_key(tenant, key.encode()), value.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def no_airflow(monkeypatch):
    """`callops run` must stop before it starts Airflow."""

    def refuse(*args, **kwargs):
        raise AssertionError("Airflow was started although the key had changed")

    monkeypatch.setattr(airflow_runner, "run_pipeline", refuse)


def run_cli(capsys, *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    return code, capsys.readouterr().out


def test_a_run_with_another_key_exits_2_before_opening_any_delivery(home, monkeypatch, capsys, no_airflow):
    monkeypatch.setenv("CALLOPS_PSEUDONYM_KEY", KEY_A)
    path = deliver(home, "shanghai_bank", "2026-03-02", "calls.csv", HEADER + DAY1_CALLS)
    pipeline.load_deliveries("r1", DAY1, DAY1)
    before = query("select contact_id, caller_id_hash from raw.telephony_contacts order by 1")
    assert before[0][1] == pseudonym_of(KEY_A, "shanghai_bank", "+8613800000001")
    path.write_text(HEADER + DAY1_CALLS.replace("10,100", "11,100"))  # a corrected re-delivery
    deliver(home, "shanghai_bank", "2026-03-03", "calls.csv", HEADER + DAY2_CALLS)

    monkeypatch.setenv("CALLOPS_PSEUDONYM_KEY", KEY_B)
    code, out = run_cli(capsys, "run", "--start", "2026-03-02", "--end", "2026-03-03")
    assert code == 2
    assert "pseudonymisation key changed" in out and "`callops rekey`" in out and "CALLOPS_PSEUDONYM_KEY" in out
    assert KEY_A not in out and KEY_B not in out
    # the scheduled DAGs' load step refuses it too, and nothing is opened or loaded
    monkeypatch.setattr(pipeline, "sha256_of", lambda path: pytest.fail(f"{path} was opened"))
    with pytest.raises(pipeline.DataProblem, match="pseudonymisation key changed"):
        pipeline.load_deliveries("r2", DAY1, DAY2)
    assert query("select contact_id, caller_id_hash from raw.telephony_contacts order by 1") == before
    assert query("select count(*) from raw.manifest") == [(1,)]


def test_a_deleted_key_file_is_not_regenerated_silently(home, monkeypatch, capsys, no_airflow):
    monkeypatch.delenv("CALLOPS_PSEUDONYM_KEY", raising=False)
    deliver(home, "shanghai_bank", "2026-03-02", "calls.csv", HEADER + DAY1_CALLS)
    pipeline.load_deliveries("r1", DAY1, DAY1)
    key_file = home / "secrets" / "pseudonym.key"
    assert key_file.exists()
    key_file.unlink()
    deliver(home, "shanghai_bank", "2026-03-03", "calls.csv", HEADER + DAY2_CALLS)

    code, out = run_cli(capsys, "run", "--start", "2026-03-02", "--end", "2026-03-03")
    assert code == 2
    assert "pseudonymisation key changed" in out and str(key_file) in out and "`callops rekey`" in out
    with pytest.raises(pipeline.DataProblem, match="pseudonymisation key changed"):
        pipeline.load_deliveries("r2", DAY1, DAY2)
    assert not key_file.exists()
    assert query("select count(*) from raw.manifest") == [(1,)]


def test_a_warehouse_built_before_fingerprints_adopts_the_current_key(home, monkeypatch, capsys, no_airflow):
    monkeypatch.setenv("CALLOPS_PSEUDONYM_KEY", KEY_A)
    deliver(home, "shanghai_bank", "2026-03-02", "calls.csv", HEADER + DAY1_CALLS)
    pipeline.load_deliveries("r1", DAY1, DAY1)
    with warehouse.connection() as con:  # as the previous release left it
        con.execute("drop table ops.pseudonym_key")
    deliver(home, "shanghai_bank", "2026-03-03", "calls.csv", HEADER + DAY2_CALLS)
    summary = pipeline.load_deliveries("r2", DAY1, DAY2)
    assert summary["failed"] == [] and summary["rows_loaded"] == 1
    fingerprint = hmac.new(KEY_A.encode(), b"callops key fingerprint", hashlib.sha256).hexdigest()
    assert query("select fingerprint, how from ops.pseudonym_key") == [(fingerprint, "adopted")]
    assert fingerprint != hashlib.sha256(KEY_A.encode()).hexdigest()  # keyed: no dictionary attack on a short key
    monkeypatch.setenv("CALLOPS_PSEUDONYM_KEY", KEY_B)
    code, out = run_cli(capsys, "run", "--start", "2026-03-02", "--end", "2026-03-03")
    assert code == 2 and "pseudonymisation key changed" in out


def test_rekey_recomputes_exactly_what_every_telephony_format_loads(home, monkeypatch):
    """The in-place recomputation and the loaders agree: recomputing with the key they loaded with
    changes nothing, for every telephony format that keeps the caller's number."""
    from tests.conftest import REPO

    monkeypatch.setenv("CALLOPS_PSEUDONYM_KEY", KEY_A)
    fixtures = REPO / "tests" / "fixtures"
    for name, source in (
        ("Master.csv", fixtures / "cdr" / "Master.csv"),
        ("ctr", next((fixtures / "connect").iterdir())),
        ("contacts.csv", None),
    ):
        folder = home / "landing" / "telephony" / "stockholm_telco" / "2026-03-02"
        folder.mkdir(parents=True, exist_ok=True)
        if source is None:
            (folder / name).write_text(HEADER + DAY1_CALLS)
        else:
            shutil.copy(source, folder / name)
    queue_log = next(p for p in (fixtures / "queue_log" / "all_verbs").iterdir() if p.is_file())
    (home / "landing" / "telephony" / "shanghai_bank" / "2026-03-02").mkdir(parents=True)
    shutil.copy(queue_log, home / "landing" / "telephony" / "shanghai_bank" / "2026-03-02" / "queue_log")
    summary = pipeline.load_deliveries("r1", DAY1, DAY1)
    assert summary["failed"] == [], summary
    snapshot = {
        table: query(f"select file_id, source_line, caller_id_hash from {table} order by all")
        for table in rekey.IN_PLACE
    }
    formats = {row[0] for row in query("select source_format from raw.telephony_contacts")}
    assert len(formats) == 3 and all(snapshot.values())
    assert any(row[2] for row in snapshot["raw.queue_log_events"])
    with warehouse.connection() as con:
        rekey._recompute_in_place(con, KEY_A.encode())
    for table in rekey.IN_PLACE:
        assert query(f"select file_id, source_line, caller_id_hash from {table} order by all") == snapshot[table]


def test_every_raw_pseudonym_column_is_recomputed_or_read_again(home):
    """A raw table holding a pseudonym is either recomputed in place (it keeps the clear value) or its
    files are read again (it keeps only the pseudonym): none is left with the old key."""
    warehouse.connect().close()
    columns = query(
        "select table_schema || '.' || table_name, column_name from information_schema.columns "
        "where table_schema = 'raw' and column_name like '%_hash'"
    )
    covered = set(rekey.IN_PLACE) | set(rekey.pseudonym_only_tables())
    assert {table for table, _ in columns} <= covered
    assert {"raw.csat_surveys", "raw.marketing_offers"} <= set(rekey.pseudonym_only_tables())


def kpis() -> list[tuple]:
    with warehouse.connection(read_only=True) as con:
        return con.execute(
            "select tenant_id, kpi_date, offered_count, answered_count, fcr_rate from marts.rpt_daily_kpis order by all"
        ).fetchall()


def run_steps(run_id: str, first: dt.date, last: dt.date) -> None:
    pipeline.load_deliveries(run_id, first, last)
    pipeline.build_marts(run_id)
    pipeline.validate_marts(run_id)
    pipeline.publish_marts(run_id)
    pipeline.finish_run(run_id)


@pytest.mark.dbt
@pytest.mark.gx
def test_rekey_rotates_the_key_callers_keep_one_pseudonym_and_versions_are_dropped(
    home, tmp_path, monkeypatch, capsys, no_airflow
):
    monkeypatch.setenv("CALLOPS_PSEUDONYM_KEY", KEY_A)
    deliver(home, "shanghai_bank", "2026-03-02", "calls.csv", HEADER + DAY1_CALLS)
    deliver(home, "shanghai_bank", "2026-03-02", "surveys.csv", SURVEYS, feed="qa")
    run_steps("a1", DAY1, DAY1)
    run_steps("a2", DAY1, DAY1)  # publishes again: the first version is kept for a rollback
    assert publish.versions()

    monkeypatch.setenv("CALLOPS_PSEUDONYM_KEY", KEY_B)
    deliver(home, "shanghai_bank", "2026-03-03", "calls.csv", HEADER + DAY2_CALLS)
    code, out = run_cli(capsys, "rekey")
    assert code == 0, out
    assert "published with the new key" in out
    assert query("select how from ops.pseudonym_key order by recorded_at") == [("first",), ("rekeying",), ("rekey",)]
    assert not publish.versions()
    code, out = run_cli(capsys, "rollback")
    assert code == 1 and "rollback across a rekey is refused" in out

    # the old key's pseudonyms are gone from the raw layer, in place and in the files read again
    x = pseudonym_of(KEY_B, "shanghai_bank", "+8613800000001")
    y = pseudonym_of(KEY_B, "shanghai_bank", "+8613800000002")
    assert query("select contact_id, caller_id_hash from raw.telephony_contacts order by 1") == [
        ("c1", x), ("c2", y), ("c3", None)
    ]
    customer = pseudonym_of(KEY_B, "shanghai_bank", "cust-1")
    assert query("select survey_id, caller_number_hash, customer_id_hash from raw.csat_surveys order by 1")[0] == (
        "s1", x, customer
    )

    # the next run loads with the new key: one caller, one pseudonym across old and new deliveries
    run_steps("b1", DAY1, DAY2)
    assert query(
        "select count(distinct caller_id_hash) from raw.telephony_contacts where caller_number like '%0001'"
    ) == [(1,)]
    rekeyed = kpis()
    assert [row[4] for row in rekeyed if row[1] == DAY1] == [0.5]  # c1 repeated the next day: c2 alone resolved

    # a fresh warehouse built with key B from the same landing zone has the same figures
    fresh = tmp_path / "fresh"
    shutil.copytree(home / "landing", fresh / "landing")
    monkeypatch.setenv("CALLOPS_HOME", str(fresh))
    pipeline.load_deliveries("fresh", DAY1, DAY2)
    assert dbt.run_models().success
    assert kpis() == rekeyed


def test_rekey_refuses_to_start_when_a_file_to_read_again_is_gone(home, monkeypatch, capsys):
    monkeypatch.setenv("CALLOPS_PSEUDONYM_KEY", KEY_A)
    deliver(home, "shanghai_bank", "2026-03-02", "calls.csv", HEADER + DAY1_CALLS)
    surveys = deliver(home, "shanghai_bank", "2026-03-02", "surveys.csv", SURVEYS, feed="qa")
    pipeline.load_deliveries("a1", DAY1, DAY1)
    before = query("select caller_id_hash from raw.telephony_contacts order by all")
    surveys.unlink()
    monkeypatch.setenv("CALLOPS_PSEUDONYM_KEY", KEY_B)
    code, out = run_cli(capsys, "rekey")
    assert code == 1
    assert "landing/qa/shanghai_bank/2026-03-02/surveys.csv" in out and "Nothing was changed" in out
    assert query("select caller_id_hash from raw.telephony_contacts order by all") == before
    assert query("select how from ops.pseudonym_key") == [("first",)]
