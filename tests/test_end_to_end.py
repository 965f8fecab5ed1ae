"""End to end through the real components: `callops run` -> Airflow DAG run -> DuckDB load ->
dbt build -> Great Expectations gate -> published/callops.duckdb, on tiny hand-made deliveries."""

from __future__ import annotations

import datetime as dt
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from tests.conftest import TEST_CONFIG, deliver

pytestmark = pytest.mark.integration

CALLOPS = str(Path(sys.executable).parent / "callops")
HEADER = "contact_id,queue_id,entered_at,outcome,wait_seconds,talk_seconds,hold_seconds,after_call_work_seconds\n"


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("e2e")
    (root / "callops.yml").write_text(TEST_CONFIG)
    environment = dict(os.environ)
    environment.update(CALLOPS_HOME=str(root / "data"), CALLOPS_CONFIG=str(root / "callops.yml"))
    environment.pop("AIRFLOW_HOME", None)  # callops puts it under CALLOPS_HOME
    return environment


def home(env: dict[str, str]) -> Path:
    return Path(env["CALLOPS_HOME"])


def callops(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CALLOPS, *args], env=env, capture_output=True, text=True, timeout=600)


def published(env: dict[str, str]) -> dict[tuple[str, dt.date], tuple]:
    con = duckdb.connect(str(home(env) / "published" / "callops.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "select tenant_id, kpi_date, offered_count, answered_count, abandoned_count, short_abandoned_count, "
            "answered_within_sl_count, answer_rate, service_level_rate, abandon_rate, asa_seconds, aht_seconds "
            "from marts.rpt_daily_kpis"
        ).fetchall()
    finally:
        con.close()
    return {(r[0], r[1]): r[2:] for r in rows}


def test_run_publishes_hand_computed_kpis(env):
    # shanghai_bank: T = 20 s, short abandon < 5 s, Asia/Shanghai (UTC+8).
    deliver(
        home(env),
        "shanghai_bank",
        "2026-03-01",
        "contacts.csv",
        HEADER
        + "c1,cards,2026-03-01 09:00:00,answered,10,200,20,40\n"
        + "c2,cards,2026-03-01 09:05:00,answered,30,100,0,20\n"
        + "c3,cards,2026-03-01 09:10:00,abandoned,4,,,\n"
        + "c4,cards,2026-03-01 09:15:00,abandoned,60,,,\n"
        + "c5,cards,2026-03-01T23:30:00+08:00,answered,5,60,0,0\n",
    )
    deliver(
        home(env),
        "stockholm_telco",
        "2026-03-01",
        "contacts.csv",
        HEADER + "s1,care,2026-03-01 10:00:00,answered,9,120,0,30\n",
    )
    done = callops(env, "run", "--start", "2026-03-01", "--end", "2026-03-01")
    assert done.returncode == 0, done.stdout + done.stderr
    # the default summary: a screen naming the tenants, days, files, what was published and the KPIs
    lines = done.stdout.splitlines()
    assert len(lines) <= 25, done.stdout
    assert "tenants    2: shanghai_bank, stockholm_telco" in lines
    assert "days       2026-03-01 to 2026-03-01: 1 delivery day(s) with files" in lines
    assert "files      2: 2 loaded, 0 unchanged, 0 held back, 0 failed" in lines
    assert any(
        line.startswith("published  ") and line.endswith("published/callops.duckdb and 3 tenant file(s) in tenants/ "
                                                          "beside it; the wallboard in wallboard/index.html")
        for line in lines
    ), done.stdout
    # the publish wrote the wallboard: the center's page and one per tenant, each from its own file
    board = home(env) / "published" / "wallboard"
    assert (board / "index.html").is_file()
    assert 'data-tenant="shanghai_bank"' in (board / "shanghai_bank" / "index.html").read_text()
    assert "stockholm_telco" not in (board / "shanghai_bank" / "index.html").read_text()
    (kpis,) = [line for line in lines if line.startswith("  shanghai_bank ")]  # SL, answer and abandon rates
    assert kpis.split()[1] == "2026-03-01" and " 5  50.0% (>= 80% in 20 s)" in kpis, done.stdout
    assert "60.0% (>= 95%)" in kpis and "25.0% (<= 5%)" in kpis
    # a warning publishes and is listed, once for the tenants it is about: these tenants send no roster
    warning = lines[lines.index("problems   1") + 1]
    assert warning.startswith("  [warning] rpt_daily_kpis: expect_column_values_to_be_in_set on has_roster")
    assert "result: success" in lines
    # the per-day table is in the run log (and `--verbose`)
    (log,) = (home(env) / "runs").glob("*.log")
    assert "2026-03-01    shanghai_bank    telephony" in log.read_text()
    kpis = published(env)
    # offered 5, answered 3 (c1 c2 c5), abandoned 2 (c3 short), within 20 s: c1 c5.
    # SL 2/(5-1), abandon (2-1)/(5-1), ASA (10+30+5)/3, AHT (260+120+60)/3.
    assert kpis[("shanghai_bank", dt.date(2026, 3, 1))] == pytest.approx(
        (5, 3, 2, 1, 2, 0.6, 0.5, 0.25, 15.0, 440 / 3)
    )
    assert kpis[("stockholm_telco", dt.date(2026, 3, 1))] == pytest.approx((1, 1, 0, 0, 1, 1.0, 1.0, 0.0, 9.0, 150.0))
    # Written for DuckDB 1.x readers: storage version 64 (v1.0.0), not this engine's default.
    header = (home(env) / "published" / "callops.duckdb").read_bytes()[:20]
    assert header[8:12] == b"DUCK" and struct.unpack("<Q", header[12:20])[0] == 64


def test_bad_delivery_fails_the_run_names_the_file_and_good_data_still_publishes(env):
    before = published(env)
    deliver(
        home(env), "acme_unknown", "2026-03-02", "contacts.csv", HEADER + "x1,q,2026-03-02 09:00:00,answered,1,1,0,0\n"
    )
    deliver(
        home(env), "shanghai_bank", "2026-03-02", "contacts.csv",
        HEADER + "d1,cards,2026-03-02 09:00:00,answered,1,50,0,10\n",
    )
    # 1 of 2 rows rejected: above the 1 % reject_threshold, so the delivery gate holds the whole file back.
    deliver(
        home(env),
        "shanghai_bank",
        "2026-03-02",
        "late.csv",
        HEADER + "e1,cards,2026-03-02 10:00:00,answered,1,50,0,10\ne2,cards,not-a-time,answered,1,50,0,10\n",
    )
    done = callops(env, "run", "--start", "2026-03-01", "--end", "2026-03-02")
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "landing/telephony/acme_unknown/2026-03-02/contacts.csv: tenant 'acme_unknown' is not in callops.yml"
        in done.stdout
    )
    assert "landing/telephony/shanghai_bank/2026-03-02/late.csv: held back by the delivery gate" in done.stdout
    assert "rule reject_threshold): 1 of 2 rows rejected (50.0%)" in done.stdout
    assert "result: FAILED" in done.stdout
    kpis = published(env)
    # The good file of the same tenant and day published; nothing of the held one did.
    assert kpis[("shanghai_bank", dt.date(2026, 3, 2))] == pytest.approx((1, 1, 0, 0, 1, 1.0, 1.0, 0.0, 1.0, 60.0))
    # Re-running day 1 (its files unchanged) changed nothing and duplicated nothing.
    assert kpis[("shanghai_bank", dt.date(2026, 3, 1))] == before[("shanghai_bank", dt.date(2026, 3, 1))]
    rejects = callops(env, "rejects", "--date", "2026-03-02")
    assert "entered_at is not a timestamp: not-a-time" in rejects.stdout
    assert "late.csv" in rejects.stdout and "  3  " in rejects.stdout
    # A later run that goes well does not let the held-back delivery in.
    (home(env) / "landing" / "telephony" / "acme_unknown").rename(home(env) / "acme_unknown.removed")
    again = callops(env, "run", "--start", "2026-03-02", "--end", "2026-03-02")
    assert again.returncode == 0, again.stdout
    assert "late.csv: already loaded with the same content" in again.stdout and "still held back" in again.stdout
    assert published(env)[("shanghai_bank", dt.date(2026, 3, 2))][0] == 1


def test_a_second_run_at_the_same_time_is_refused_clearly(env):
    lock = home(env) / "warehouse" / "run.lock"
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from callops.warehouse import file_lock
        with file_lock(Path({str(lock)!r}), "test"):
            print("locked", flush=True)
            time.sleep(30)
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "locked"
        done = callops(env, "run", "--start", "2026-03-01", "--end", "2026-03-01")
        assert done.returncode == 3
        assert "another run is in progress" in done.stdout
    finally:
        holder.kill()
        holder.wait()


def test_what_is_not_a_delivery_is_listed_as_skipped_and_the_run_still_succeeds(env):
    landing = home(env) / "landing"
    row = "z1,cards,2026-03-03 09:00:00,answered,1,50,0,10\n"
    folder = deliver(home(env), "shanghai_bank", "2026-03-03", "contacts.csv", HEADER + row).parent
    deliver(home(env), "shanghai_bank", "2026-3-3", "contacts.csv", HEADER + "z2" + row[2:])
    deliver(home(env), ".stockholm_telco", "2026-03-03", "contacts.csv", HEADER + row)
    deliver(home(env), "shanghai_bank", "2026-03-03", "contacts.csv", HEADER + row, feed="crm")
    (landing / "telephony" / "shanghai_bank" / "contacts.csv").write_text(HEADER + row)
    os.mkfifo(folder / "pipe.csv")
    done = callops(env, "run", "--start", "2026-03-03", "--end", "2026-03-03", "--verbose")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2026-03-03    shanghai_bank  telephony" in done.stdout  # --verbose: the per-day table
    assert "skipped in the landing zone (not deliveries, the run does not fail for them):" in done.stdout
    for line in (
        "not a date folder (YYYY-MM-DD): landing/telephony/shanghai_bank/2026-3-3",
        "a file outside a day folder (deliveries go in landing/<feed>/<tenant>/<YYYY-MM-DD>/): "
        "landing/telephony/shanghai_bank/contacts.csv",
        "unknown feed (known: telephony, qa, hr, marketing): landing/crm",
        "hidden (a dot name): landing/telephony/.stockholm_telco",
        "not a regular file (a pipe, socket or device): landing/telephony/shanghai_bank/2026-03-03/pipe.csv",
    ):
        assert f"  - {line}\n" in done.stdout, done.stdout
    assert "result: success" in done.stdout
    # the good delivery is published, and only it (z2 of the misnamed folder is not)
    assert published(env)[("shanghai_bank", dt.date(2026, 3, 3))][:2] == (1, 1)
