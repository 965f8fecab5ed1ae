"""A full disk fails a run with its cause and its step named: "no space left on device while <what>,
N MB free under <path>", and the served file stays as it was (issue 16, item 4).

Each test mounts a small tmpfs (CI runs as root) where the run writes, and fills it; where mounting is
not permitted the test is skipped, saying so.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from callops import failures, pipeline, publish, settings, tasks, warehouse
from tests.conftest import TEST_CONFIG, deliver

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 3, 2)
HEADER = "contact_id,queue_id,entered_at,outcome,wait_seconds,talk_seconds,answered_at\n"
CAUSE = re.compile(r"no space left on device while (?P<doing>[^\n]+), (?P<free>[\d.,]+) MB free under (?P<path>/\S+)")


def contact_rows(prefix: str, count: int, day: dt.date = DAY) -> str:
    return "".join(
        f"{prefix}{i},q{i % 7},{day} {9 + i % 10:02d}:{i % 60:02d}:{i % 53:02d},answered,{i % 40},{60 + i % 300},\n"
        for i in range(count)
    )


@pytest.fixture
def small_disk():
    """mount(path, megabytes): a tmpfs of that size at ``path``; unmounted after the test."""
    mounted: list[Path] = []

    def mount(path: Path, megabytes: int) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(path)], capture_output=True, text=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs to fill (needs root): {(done.stderr or done.stdout).strip()}")
        mounted.append(path)
        return path

    try:
        yield mount
    finally:
        for path in reversed(mounted):
            if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(path: Path, leave_mb: float) -> None:
    """Fill the file system under ``path`` until ``leave_mb`` MiB are free."""
    with open(path / f".filler-{uuid.uuid4().hex}", "wb") as handle:
        while (excess := shutil.disk_usage(path).free - int(leave_mb * (1 << 20))) > 0:
            handle.write(b"\0" * min(excess, 1 << 20))
            handle.flush()


def make_marts(rows: int) -> None:
    """Candidate marts in the build warehouse: rpt_daily_kpis and ``rows`` rows of incompressible text."""
    con = warehouse.connect()
    try:
        con.execute("create schema if not exists marts")
        con.execute(
            "create or replace table marts.rpt_daily_kpis as select 'shanghai_bank' as tenant_id, 1 as offered_count"
        )
        con.execute(
            "create or replace table marts.big as select 'shanghai_bank' as tenant_id, range as n, "
            f"md5(range::varchar) || md5((range + 1)::varchar) as h from range({rows})"
        )
    finally:
        con.close()


def context(run_id: str) -> dict:
    """The Airflow task context the steps read (callops.tasks.run_id)."""
    return {"dag_run": SimpleNamespace(conf={"callops_run_id": run_id}), "params": {}}


def test_a_full_disk_under_the_published_file_fails_publish_naming_why_and_the_served_file_stays(home, small_disk):
    small_disk(settings.published_dir(), 8)
    make_marts(10)
    publish.publish("first")
    served = settings.published_db_path()
    before = served.read_bytes()
    free_before = shutil.disk_usage(settings.published_dir()).free
    make_marts(400_000)  # about 30 MB: the candidate cannot fit

    with pytest.raises(Exception) as failed:
        tasks.publish(context("r2"))
    cause = CAUSE.search(str(failed.value))
    assert cause, str(failed.value)
    assert (cause["doing"], Path(cause["path"])) == ("writing the published files", settings.published_dir())
    assert served.read_bytes() == before  # byte for byte what was served
    assert not list(settings.published_dir().glob(".callops.*.tmp*"))  # the half-written candidate is gone
    assert shutil.disk_usage(settings.published_dir()).free >= free_before - (1 << 16)  # and its room is free
    # The build warehouse (another disk) records why, and the run's close names the step and the cause.
    with pytest.raises(Exception) as finished:
        pipeline.finish_run("r2")
    assert f"publish failed: {cause[0]}" in str(finished.value)
    assert "nothing published: the served marts are unchanged" in str(finished.value)


def test_a_full_warehouse_disk_fails_the_load_naming_the_file_and_the_room_left(home, small_disk):
    small_disk(settings.warehouse_dir(), 2)
    deliver(home, "shanghai_bank", DAY.isoformat(), "big.csv", HEADER + contact_rows("b", 200_000))
    with pytest.raises(failures.DiskFull) as failed:
        pipeline.load_deliveries("r1", DAY, DAY)
    cause = CAUSE.search(str(failed.value))
    assert cause, str(failed.value)
    assert cause["doing"] == "loading landing/telephony/shanghai_bank/2026-03-02/big.csv"
    assert Path(cause["path"]) == settings.warehouse_dir()
    assert float(cause["free"].replace(",", "")) < 2
    # Through the task: failed without retrying, the step and the cause reported.
    with pytest.raises(Exception) as task_failed:
        tasks.load(context("r2") | {"params": {"start": DAY.isoformat(), "end": DAY.isoformat()}})
    assert type(task_failed.value).__name__ == "AirflowFailException"
    assert "no space left on device while loading landing/telephony/shanghai_bank/2026-03-02/big.csv" in str(
        task_failed.value
    )


CALLOPS = str(Path(sys.executable).parent / "callops")


def test_callops_run_on_a_full_disk_names_the_step_and_the_cause_and_serves_the_same_file(
    tmp_path, small_disk, monkeypatch
):
    """The issue's case: everything on one disk with a few MB free. Neither the build warehouse nor the
    Airflow log can record the failure there; the run's output still says which step failed and why."""
    (tmp_path / "callops.yml").write_text(TEST_CONFIG)
    home = small_disk(tmp_path / "data", 48)
    monkeypatch.setenv("CALLOPS_HOME", str(home))
    monkeypatch.setenv("CALLOPS_CONFIG", str(tmp_path / "callops.yml"))
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    # a file already served (an earlier publish), and a delivery to load
    make_marts(10)
    publish.publish("earlier")
    served = home / "published" / "callops.duckdb"
    before = served.read_bytes()
    deliver(home, "shanghai_bank", DAY.isoformat(), "contacts.csv", HEADER + contact_rows("c", 20_000))
    fill(home, 6)

    run = subprocess.run(
        [CALLOPS, "run", "--start", str(DAY), "--end", str(DAY)], capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 1, run.stdout + run.stderr
    step = r"(?m)^\s+(?P<step>load|build|validate|publish|finish|airflow)\s+failed: "
    failed = re.search(step + CAUSE.pattern, run.stdout)
    assert failed, run.stdout
    assert Path(failed["path"]).is_relative_to(home)
    assert "result: FAILED" in run.stdout
    assert served.read_bytes() == before
