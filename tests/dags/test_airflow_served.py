"""`callops airflow` (make airflow) end to end: the embedded Airflow (api-server, scheduler,
dag-processor, triggerer) serves every DAG on 127.0.0.1; a delivery dropped into the landing zone
is loaded, built, gated and published by itself; the build DAG triggered through the REST API
with a range succeeds; `callops run` is refused meanwhile. A first start on a fresh home runs nothing
before the API server answers, keeps the console short, and Ctrl-C stops every process with exit 0."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import psutil
import pytest

from callops import airflow_runner
from tests.conftest import TEST_CONFIG, deliver

pytestmark = pytest.mark.integration

CALLOPS = str(Path(sys.executable).parent / "callops")
HEADER = "contact_id,queue_id,entered_at,outcome,wait_seconds,talk_seconds,hold_seconds,after_call_work_seconds\n"
PASSWORD = "served-test-password"
DEADLINE_SECONDS = 480
SERVED_DAGS = {"callops_pipeline", "build_warehouse", "load_landing", "publish_deadline_watch"} | {
    f"load_telephony__{tenant}" for tenant in ("shanghai_bank", "stockholm_telco", "variant_tenant")
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Api:
    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.token = None

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            self.base + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Content-Type": "application/json"} | (
                {"Authorization": f"Bearer {self.token}"} if self.token else {}
            ),
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def wait_until_up(self, process: subprocess.Popen, log: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert process.poll() is None, f"callops airflow exited: {log.read_text()[-3000:]}"
            try:
                if self.call("GET", "/api/v2/monitor/health")["scheduler"]["status"] == "healthy":
                    self.token = self.call("POST", "/auth/token", {"username": "admin", "password": PASSWORD})[
                        "access_token"
                    ]
                    return
            except (OSError, KeyError, ValueError):
                pass
            time.sleep(1)
        raise AssertionError(f"Airflow did not come up in {timeout} s: {log.read_text()[-3000:]}")

    def runs(self, dag_id: str) -> list[dict]:
        return self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]

    def wait_for(self, what: str, check, timeout: float, log: Path):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (found := check()) is not None:
                return found
            time.sleep(2)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}:\n{self.states()}")

    def states(self) -> str:
        """Every run of the DAGs that load and build, with its tasks' states (for a failure message)."""
        lines = []
        for dag_id in ("load_landing", "build_warehouse"):
            for run in self.runs(dag_id):
                tis = self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances")
                states = ", ".join(f"{ti['task_id']}={ti['state']}" for ti in tis["task_instances"])
                lines.append(f"{dag_id} {run['dag_run_id']} {run['state']}: {states}")
        return "\n".join(lines)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    (root / "callops.yml").write_text(TEST_CONFIG)
    home = root / "data"
    env = dict(os.environ)
    env.pop("AIRFLOW_HOME", None)  # callops puts it under CALLOPS_HOME
    env.update(
        CALLOPS_HOME=str(home),
        CALLOPS_CONFIG=str(root / "callops.yml"),
        CALLOPS_LANDING_POLL_SECONDS="2",
        CALLOPS_AIRFLOW_ADMIN_PASSWORD=PASSWORD,
    )
    port = free_port()
    log = root / "airflow.log"
    started = time.monotonic()
    with log.open("w") as handle:
        process = subprocess.Popen(
            [CALLOPS, "airflow", "--port", str(port)], env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    api = Api(port)
    try:
        api.wait_until_up(process, log, timeout=120)

        def parsed() -> bool | None:
            return api.call("GET", "/api/v2/dags?limit=100")["total_entries"] >= len(SERVED_DAGS) or None

        # the DAG processor starts once the API answers: its first parse of the DAG files takes a moment
        api.wait_for("every DAG parsed", parsed, 180, log)
        yield {"api": api, "env": env, "home": home, "log": log, "started": started, "process": process}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)  # a second one kills every component at once
            process.wait(timeout=30)


def test_every_dag_is_served_unpaused_and_the_writer_pool_has_one_slot(served):
    api = served["api"]
    dags = {d["dag_id"]: d for d in api.call("GET", "/api/v2/dags?limit=100")["dags"]}
    assert set(dags) == SERVED_DAGS
    assert not any(d["is_paused"] for d in dags.values())
    assert api.call("GET", "/api/v2/importErrors")["total_entries"] == 0
    assert api.call("GET", "/api/v2/pools/duckdb_writer")["slots"] == 1
    login = served["log"].read_text()
    assert f"Airflow UI and REST API on {api.base}" in login and f"login: admin / {PASSWORD}" in login


def test_callops_run_is_refused_while_airflow_serves(served):
    done = subprocess.run(
        [CALLOPS, "run", "--start", "2026-03-01", "--end", "2026-03-01"],
        env=served["env"], capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 3
    assert "Airflow (make airflow) is serving this CALLOPS_HOME; trigger the DAG there" in done.stdout


def test_a_dropped_delivery_is_published_and_a_rest_triggered_build_succeeds(served):
    api, log = served["api"], served["log"]

    def run_of(dag_id: str, wanted_run: str | None = None, run_type: str | None = None, done: bool = True):
        for found in api.runs(dag_id):
            if (wanted_run and found["dag_run_id"] != wanted_run) or (run_type and found["run_type"] != run_type):
                continue
            if not done or found["state"] in ("success", "failed"):
                return found
        return None

    def finished(dag_id: str, wanted_run: str | None = None, run_type: str | None = None):
        return run_of(dag_id, wanted_run, run_type)

    # Nobody triggers anything: the landing watch finds the file, and its asset event starts a build.
    dropped = time.monotonic()
    deliver(
        served["home"],
        "shanghai_bank",
        "2026-03-01",
        "contacts.csv",
        HEADER
        + "c1,cards,2026-03-01 09:00:00,answered,10,200,20,40\n"
        + "c2,cards,2026-03-01 09:05:00,answered,30,100,0,20\n"
        + "c3,cards,2026-03-01 09:10:00,abandoned,4,,,\n",
    )
    api.wait_for(
        "a build triggered by the landing watch's load",
        lambda: run_of("build_warehouse", run_type="asset_triggered", done=False),
        DEADLINE_SECONDS,
        log,
    )
    picked_up = time.monotonic() - dropped
    # A backfill of the same day as one run, through the REST API (it queues behind the asset-triggered run).
    triggered = time.monotonic()
    run = api.call(
        "POST",
        "/api/v2/dags/build_warehouse/dagRuns",
        {"logical_date": None, "conf": {"start": "2026-03-01", "end": "2026-03-01"}},
    )
    run_id = run["dag_run_id"]

    asset_run = api.wait_for(
        "the asset-triggered build",
        lambda: finished("build_warehouse", run_type="asset_triggered"),
        DEADLINE_SECONDS,
        log,
    )
    assert asset_run["state"] == "success", api.states()
    published_after = time.monotonic() - dropped
    rest_run = api.wait_for(
        "the REST-triggered build", lambda: finished("build_warehouse", run_id), DEADLINE_SECONDS, log
    )
    rest_seconds = time.monotonic() - triggered
    assert rest_run["state"] == "success", api.states()
    events = api.call("GET", f"/api/v2/dags/build_warehouse/dagRuns/{asset_run['dag_run_id']}/upstreamAssetEvents")
    (event,) = [e for e in events["asset_events"] if e["source_dag_id"] == "load_landing"]
    assert event["uri"] == "callops://raw/telephony" and event["extra"]["days"] == ["2026-03-01"]
    marts = api.call("GET", "/api/v2/assets?uri_pattern=callops://published/marts")["assets"]
    assert [a["name"] for a in marts] == ["marts"]
    print(
        f"\ndropped delivery: build started {picked_up:.0f} s after the drop, published {published_after:.0f} s "
        f"after it (asset-triggered run {asset_run['duration']:.0f} s); REST-triggered run: "
        f"{rest_run['duration']:.0f} s in Airflow, {rest_seconds:.0f} s from the POST (queued behind the other); "
        f"{time.monotonic() - served['started']:.0f} s since `callops airflow` started"
    )

    published = served["home"] / "published" / "callops.duckdb"
    con = duckdb.connect(str(published), read_only=True)
    try:
        kpis = con.execute(
            "select offered_count, answered_count, abandoned_count from marts.rpt_daily_kpis "
            "where tenant_id = 'shanghai_bank' and kpi_date = ?",
            [dt.date(2026, 3, 1)],
        ).fetchone()
        runs = dict(con.execute("select run_id, status from marts.runs").fetchall())
    finally:
        con.close()
    assert kpis == (3, 2, 1)
    assert any(r.startswith("load_landing__") and status == "success" for r, status in runs.items())
    assert f"build_warehouse__{run_id}" in runs


def _processes_of(home: Path) -> list[psutil.Process]:
    """Every process running with this CALLOPS_HOME in its environment (however it was started)."""
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if process.environ().get("CALLOPS_HOME") == str(home):
                found.append(process)
    return found


def test_a_first_start_runs_nothing_before_the_api_answers_and_ctrl_c_stops_everything(tmp_path):
    """A fresh CALLOPS_HOME (the metadata database created on the way): the scheduler, DAG processor and
    triggerer start only once the API server answers, no task fails, the console shows a short banner
    and task outcomes (no traceback, no component chatter), and Ctrl-C, sent to the process group as a
    terminal does, stops every process callops started and exits 0."""
    (tmp_path / "callops.yml").write_text(TEST_CONFIG)
    home = tmp_path / "data"
    env = dict(os.environ)
    env.pop("AIRFLOW_HOME", None)
    env.update(
        CALLOPS_HOME=str(home), CALLOPS_CONFIG=str(tmp_path / "callops.yml"), CALLOPS_AIRFLOW_ADMIN_PASSWORD=PASSWORD
    )
    port = free_port()
    api = Api(port)
    console = tmp_path / "console.txt"
    with console.open("w") as handle:
        # its own process group, as a shell starts a command: SIGINT to the group is a terminal's Ctrl-C
        process = subprocess.Popen(
            [CALLOPS, "airflow", "--port", str(port)], env=env, stdin=subprocess.DEVNULL, stdout=handle,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        while not airflow_runner._api_answers(api.base):  # what callops waits for: both APIs
            assert process.poll() is None, console.read_text()
            assert time.monotonic() < deadline, f"the API did not answer in 300 s:\n{console.read_text()}"
            time.sleep(0.5)
        answered_at = dt.datetime.now(dt.UTC)
        api.wait_until_up(process, console, timeout=120)

        def task_instances() -> list[dict]:
            return api.call("GET", "/api/v2/dags/~/dagRuns/~/taskInstances?limit=200")["task_instances"]

        def watched() -> dict | None:
            done = [t for t in task_instances() if (t["task_id"], t["state"]) == ("check_deadlines", "success")]
            return done[0] if done else None

        # the deadline watch runs at once (its latest 15-minute interval): a task that started and finished
        api.wait_for("publish_deadline_watch.check_deadlines to succeed", watched, 180, console)
        def on_console() -> bool | None:
            return "check_deadlines (scheduled__" in console.read_text() or None

        # the scheduler reports it a moment later, and the console shows it
        api.wait_for("the outcome on the console", on_console, 60, console)
        jobs = api.call("GET", "/api/v2/jobs?limit=100")["jobs"]
        started = {job["job_type"]: dt.datetime.fromisoformat(job["start_date"]) for job in jobs}
        tis = task_instances()
        children = psutil.Process(process.pid).children(recursive=True)
        shown = console.read_text()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
    returncode = process.wait(timeout=120)

    assert {"SchedulerJob", "DagProcessorJob", "TriggererJob"} <= set(started), jobs
    assert all(at >= answered_at for at in started.values()), (answered_at, started)
    assert all(dt.datetime.fromisoformat(t["start_date"]) >= answered_at for t in tis if t["start_date"]), tis
    assert not [t for t in tis if t["state"] in ("failed", "up_for_retry", "upstream_failed")], tis
    assert "Traceback" not in shown, shown
    lines = shown.splitlines()
    assert len(lines) <= 20, shown
    assert lines[0].startswith(f"callops airflow: starting Airflow on {api.base}")
    assert f"login: admin / {PASSWORD}" in shown and f"Airflow UI and REST API on {api.base}" in shown
    assert "check_deadlines (scheduled__" in shown and "): success" in shown
    assert (home / "airflow" / "logs" / "scheduler.log").read_text().count("TaskInstance Finished") >= 1

    assert returncode == 0, console.read_text()
    assert console.read_text().splitlines()[-1] == "callops airflow: stopped"
    assert len(children) >= 4  # the four components, at least
    assert not [p for p in children if p.is_running()], children
    assert _processes_of(home) == []
