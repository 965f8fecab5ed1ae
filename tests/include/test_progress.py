"""Progress of long work (issue 6): the progress file, the time-left arithmetic, and what `callops run` prints
on stderr while a (fake, slow) DAG run reports through that file."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from callops import airflow_runner, cli, progress, report, settings


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _delivery(folder: Path, name: str, size: int) -> SimpleNamespace:
    path = folder / name
    path.write_bytes(b"x" * size)
    return SimpleNamespace(path=path, display=f"landing/telephony/t/2026-03-02/{name}")


def _event(name: str, **data) -> SimpleNamespace:
    return SimpleNamespace(info=SimpleNamespace(name=name), data=SimpleNamespace(**data))


def _node(unique_id: str, materialized: str = "table") -> SimpleNamespace:
    resource, _, name = unique_id.split(".")
    return SimpleNamespace(unique_id=unique_id, resource_type=resource, node_name=name, materialized=materialized)


# --- arithmetic -----------------------------------------------------------------------------------


def test_time_left_carries_the_rate_so_far_forward():
    assert progress.time_left(30, 0.25) == 90  # a quarter in 30 s: three quarters take 90 s more
    assert progress.time_left(120, 0.8) == pytest.approx(30)
    assert progress.time_left(45, 1.0) == 0
    assert progress.time_left(10, 0) is None and progress.time_left(10, None) is None


def test_fmt_seconds():
    assert [progress.fmt_seconds(s) for s in (3.25, 42, 185, 7320, None)] == ["3.2s", "42s", "3m05s", "2h02m", "?"]


def test_every_is_due_at_most_once_per_interval_and_not_at_first():
    clock = Clock(0)
    every = progress.Every(10, clock)
    due = []
    for clock.now in (0, 5, 9.9, 10, 15, 19.9, 20, 21):
        due.append(every.due())
    assert due == [False, False, False, True, False, False, True, False]
    assert every.count == 2


# --- the file -------------------------------------------------------------------------------------


def test_write_replaces_the_file_whole_and_read_tolerates_absence_and_garbage(tmp_path):
    path = tmp_path / "progress.json"
    assert progress.read(path) is None
    progress.write(path, {"step": "load", "done": 1})
    progress.write(path, {"step": "load", "done": 2})
    assert progress.read(path) == {"step": "load", "done": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["progress.json"]  # no temp file left behind
    path.write_text("{not json")
    assert progress.read(path) is None


def test_tracker_writes_at_most_once_per_interval_and_always_at_the_end(tmp_path):
    path, clock = tmp_path / "progress.json", Clock()
    tracker = progress.Tracker(path, step="load", run_id="r", every=60, clock=clock)
    tracker.update(done=1)  # the first write is never held back
    assert progress.read(path)["done"] == 1
    clock.now += 1
    tracker.update(done=2)  # within the interval: held (a timer would write it when the interval is up)
    assert progress.read(path)["done"] == 1
    clock.now += 60
    tracker.update(done=3)
    assert progress.read(path)["done"] == 3
    clock.now += 1
    tracker.update(done=4)
    tracker.finish()  # the end is written at once, whatever the interval
    state = progress.read(path)
    assert state["done"] == 4 and state["step_finished_at"] == clock.now and state["failed"] is False


def test_tracker_writes_a_held_update_when_the_interval_is_up(tmp_path):
    path = tmp_path / "progress.json"
    tracker = progress.Tracker(path, step="load", every=0.2)
    tracker.update(done=1)
    tracker.update(done=2)
    deadline = time.monotonic() + 10
    while progress.read(path)["done"] != 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert progress.read(path)["done"] == 2


def test_load_files_counts_files_rows_and_time_left_by_the_pace_so_far(tmp_path):
    path, clock = tmp_path / "progress.json", Clock()
    deliveries = [_delivery(tmp_path, "a", 100), _delivery(tmp_path, "b", 300)]
    tracker = progress.Tracker(path, step="load", every=0, clock=clock)
    seen = []

    def load_one(delivery):
        seen.append(progress.read(path))
        clock.now += delivery.path.stat().st_size / 100  # a second per 100 bytes
        return SimpleNamespace(rows_loaded=7 if delivery.path.name == "a" else 5)

    outcomes = tracker.load_files(deliveries, load_one)
    assert [o.rows_loaded for o in outcomes] == [7, 5]
    first, second = seen
    assert (first["done"], first["total"], first["rows"], first["fraction"]) == (0, 2, 0, None)
    assert first["current"] == "landing/telephony/t/2026-03-02/a"
    # files of one kind: 100 bytes in 1 s, 300 bytes to go take 3 s more: a quarter of the way
    assert (second["done"], second["rows"], second["fraction"]) == (1, 7, 0.25)
    assert second["current"].endswith("/b")
    last = progress.read(path)
    assert (last["done"], last["rows"], last["fraction"]) == (2, 12, 1.0)
    assert last["basis"] == "each kind of file's pace so far"


def _kind_of_delivery(folder: Path, feed: str, tenant: str, name: str, size: int) -> SimpleNamespace:
    delivery = _delivery(folder, name, size)
    delivery.feed, delivery.tenant_id = feed, tenant
    delivery.display = f"landing/{feed}/{tenant}/2026-03-02/{name}"
    return delivery


def test_load_time_left_goes_by_each_kind_of_files_pace_not_by_the_bytes_of_mixed_files(tmp_path):
    """Ten small QA CSVs, each a second (a file's fixed cost), then four large queue_logs of 1.5 s each:
    by bytes, the CSVs done are 0.5 % of the way after 10 s and 33 minutes would be left; 6 s are."""
    path, clock = tmp_path / "progress.json", Clock()
    seconds = {"csv": 1.0, "log": 1.5}
    deliveries = [_kind_of_delivery(tmp_path, "qa", "acme", f"evaluations_{n}.csv", 200) for n in range(10)]
    deliveries += [_kind_of_delivery(tmp_path, "telephony", "acme", f"queue_log-{n}", 100_000) for n in range(4)]
    tracker = progress.Tracker(path, step="load", every=0, clock=clock)
    began, estimates = clock.now, []

    def load_one(delivery):
        state = progress.read(path)
        if state["done"]:
            truth = sum(seconds["csv" if d.path.suffix else "log"] for d in deliveries[state["done"]:])
            estimates.append((progress.time_left(clock.now - began, state["fraction"]), truth))
        clock.now += seconds["csv" if delivery.path.suffix else "log"]
        return SimpleNamespace(rows_loaded=1)

    tracker.load_files(deliveries, load_one)
    by_bytes = 10 * (1 - 2_000 / 402_000) / (2_000 / 402_000)  # what the bytes read said after the CSVs
    assert by_bytes > 1_900
    csvs_done, first_log_done = estimates[9], estimates[10]
    # queue_logs not started yet: counted at the mean time per file so far (1 s), a third below the truth
    assert csvs_done == (pytest.approx(4.0), 6.0)
    # once one is done, its kind's pace: 1.5 s per 100,000 bytes
    assert first_log_done == (pytest.approx(4.5), 4.5)
    for estimate, truth in estimates:
        assert truth / 2 <= estimate <= truth * 2, estimates


def test_load_pace_by_kind():
    pace = progress.LoadPace(["a", "a", "b", "b"], [100, 300, 10, 10])
    assert pace.fraction() is None
    pace.add("a", 100, 2.0)  # a: 2 s per 100 bytes, 300 to go: 6 s; b not started: 2 s per file, 2 files
    assert pace.seconds_left() == pytest.approx(10.0) and pace.fraction() == pytest.approx(2 / 12)
    pace.add("b", 10, 0.5)  # b: 0.5 s per 10 bytes, 10 to go
    assert pace.seconds_left() == pytest.approx(6.5)
    pace.add("a", 300, 6.0)
    pace.add("b", 10, 0.5)
    assert pace.seconds_left() == 0 and pace.fraction() == 1.0
    empty = progress.LoadPace(["a", "a"], [0, 0])  # no bytes, no measurable time: by files
    empty.add("a", 0, 0.0)
    assert empty.fraction() == 0.5


def test_load_files_with_workers_loads_at_once_and_keeps_the_deliveries_order(tmp_path):
    path = tmp_path / "progress.json"
    deliveries = [_delivery(tmp_path, name, 100) for name in ("a", "b", "c", "d")]
    tracker = progress.Tracker(path, step="load", every=0)
    both_started = threading.Barrier(2, timeout=5)

    def load_one(delivery):
        if delivery.path.name in ("a", "b"):
            both_started.wait()  # a and b run at the same time, or this times out
        if delivery.path.name == "a":
            time.sleep(0.1)  # a finishes after b
        return SimpleNamespace(rows_loaded=ord(delivery.path.name))

    outcomes = tracker.load_files(deliveries, load_one, workers=2)
    assert [o.rows_loaded for o in outcomes] == [ord(name) for name in "abcd"]
    last = progress.read(path)
    assert (last["done"], last["rows"], last["fraction"]) == (4, sum(map(ord, "abcd")), 1.0)


def test_dbt_progress_goes_by_the_last_builds_node_times(home):
    target = settings.dbt_work_dir() / "target"
    target.mkdir(parents=True)
    times = {"model.p.slow": 6.0, "test.p.fast": 1.0, "model.p.middle": 3.0}
    results = [{"unique_id": uid, "execution_time": s} for uid, s in times.items()]
    (target / "run_results.json").write_text(json.dumps({"results": results}))
    tracker = progress.Tracker(home / "progress.json", step="build", every=0)
    (callback,) = tracker.dbt_callbacks()
    callback(_event("ConcurrencyLine", num_threads=1, target_name="build", node_count=3))
    callback(_event("NodeStart", node_info=_node("model.p.slow")))
    assert tracker.state["current"] == "model slow"
    callback(_event("NodeFinished", node_info=_node("model.p.slow")))
    assert (tracker.state["done"], tracker.state["total"]) == (1, 3)
    assert tracker.state["fraction"] == pytest.approx(0.6)  # 6 of the last build's 10 s
    callback(_event("NodeFinished", node_info=_node("model.p.int", "ephemeral")))  # never run: not counted
    callback(_event("NodeFinished", node_info=_node("test.p.fast")))
    assert tracker.state["done"] == 2 and tracker.state["fraction"] == pytest.approx(0.7)
    assert tracker.state["basis"] == "the last build's node times"
    callback(object())  # anything else dbt sends is ignored, never raised


def test_dbt_progress_without_an_earlier_build_counts_nodes_after_a_quarter(home):
    tracker = progress.Tracker(home / "progress.json", step="build", every=0)
    (callback,) = tracker.dbt_callbacks()
    callback(_event("ConcurrencyLine", num_threads=1, target_name="build", node_count=8))
    fractions = []
    for number in range(3):
        callback(_event("NodeFinished", node_info=_node(f"test.p.t{number}")))
        fractions.append(tracker.state["fraction"])
    assert fractions == [None, 0.25, 0.375] and tracker.state["basis"] == "node count"


def test_a_step_writes_only_into_an_existing_run_directory(home):
    with progress.step("run_a", "load") as tracker:
        assert progress.current() is tracker and tracker.path is None
    assert not progress.path_for("run_a").exists()
    assert progress.current() is not tracker

    progress.run_dir("run_b").mkdir(parents=True)
    with progress.step("run_b", "build"):
        assert progress.read(progress.path_for("run_b"))["step"] == "build"
        assert progress.current().dbt_callbacks()  # dbt.invoke reports into this step
    assert progress.read(progress.path_for("run_b"))["failed"] is False
    with pytest.raises(RuntimeError), progress.step("run_b", "validate"):
        raise RuntimeError("a fault")
    assert progress.read(progress.path_for("run_b"))["failed"] is True


# --- what a person sees ---------------------------------------------------------------------------


def test_describe_the_load_with_files_rows_and_time_left():
    state = {"step": "load", "step_started_at": 1000.0, "unit": "files", "done": 23, "total": 91, "rows": 6912331,
             "fraction": 0.25, "basis": "bytes read", "current": "landing/telephony/acme_bank/2026-03-26/queue_log"}
    assert progress.describe(state, now=1080.0) == (
        "load (deliveries into the build warehouse): 23/91 files, 6,912,331 rows loaded, "
        "now landing/telephony/acme_bank/2026-03-26/queue_log; 1m20s in load, about 4m00s left in it (by bytes read)"
    )


def test_describe_the_build_the_gaps_and_the_start():
    build = {"step": "build", "step_started_at": 0.0, "unit": "nodes", "done": 40, "total": 1030, "fraction": None,
             "basis": "node count", "current": "model int_contacts_rolled_up"}
    assert progress.describe(build, now=30.0) == (
        "build (dbt build: models and data tests): 40/1,030 nodes, now model int_contacts_rolled_up; 30s in build "
        "(no estimate before 25% of the nodes: no earlier build to go by)"
    )
    done = {"step": "load", "step_started_at": 0.0, "step_finished_at": 62.0, "unit": "files", "done": 91,
            "total": 91, "rows": 100, "failed": False}
    assert progress.describe(done, now=70.0) == (
        "load done in 1m02s (91/91 files, 100 rows loaded); Airflow is starting the next step"
    )
    assert progress.describe(None) == "starting Airflow (airflow dags test)"


def _fake_pipeline(deliveries: list, seconds_per_file: float):
    """A stand-in for the Airflow run: the load step of run_id, reporting as the real task does."""

    def run_pipeline(start: str, end: str, run_id: str, log: Path, **_) -> int:
        with progress.step(run_id, "load") as tracker:
            tracker.load_files(
                deliveries, lambda delivery: time.sleep(seconds_per_file) or SimpleNamespace(rows_loaded=1000)
            )
        return 0

    return run_pipeline


def _fake_summary(monkeypatch):
    monkeypatch.setattr(
        report, "run_summary", lambda run_id: SimpleNamespace(text="full summary", brief="summary", status="success")
    )


def test_run_prints_progress_on_stderr_while_the_dag_runs(home, monkeypatch, capsys, tmp_path):
    deliveries = [_delivery(tmp_path, f"f{number}", 100) for number in range(4)]
    monkeypatch.setattr(airflow_runner, "run_pipeline", _fake_pipeline(deliveries, 0.3))
    monkeypatch.setattr(progress, "WRITE_EVERY_SECONDS", 0.0)
    monkeypatch.setattr(cli, "PROGRESS_EVERY_SECONDS", 0.1)
    _fake_summary(monkeypatch)
    assert cli.main(["run", "--start", "2026-03-02", "--end", "2026-03-02"]) == 0
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert lines and all(line.startswith("callops run [") for line in lines)
    assert any("load (deliveries into the build warehouse): " in line and "/4 files" in line for line in lines)
    assert any("rows loaded" in line and "left in it (by each kind of file's pace so far)" in line for line in lines)
    assert "callops run [" not in out and "summary" in out  # stdout stays the report
    (run_dir,) = [path for path in settings.runs_dir().iterdir() if path.is_dir()]
    assert progress.read(run_dir / "progress.json")["done"] == 4


def test_the_wait_for_airflow_is_said_once_not_at_every_tick(tmp_path):
    stream = io.StringIO()
    with progress.Watcher(tmp_path / "progress.json", "callops run", stream, every=0.02):
        time.sleep(0.3)  # about 15 ticks with no progress file yet
    assert stream.getvalue().count("starting Airflow (airflow dags test)") == 1
    quiet = io.StringIO()  # the first run said it before (callops run: the one-off set-up)
    with progress.Watcher(tmp_path / "progress.json", "callops run", quiet, every=0.02, waiting=None):
        time.sleep(0.1)
    assert quiet.getvalue() == ""


def test_a_short_run_prints_no_progress(home, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(airflow_runner, "run_pipeline", _fake_pipeline([_delivery(tmp_path, "f", 10)], 0))
    _fake_summary(monkeypatch)
    assert cli.main(["run", "--start", "2026-03-02", "--end", "2026-03-02"]) == 0
    assert capsys.readouterr().err == ""
