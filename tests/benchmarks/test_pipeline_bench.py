"""`make bench`: its DuckDB floor and pandas script compute exactly the pipeline's daily KPIs, and its record.

The floor and the pandas script are only fair references if they compute what the pipeline publishes:
on a small simulated workload (logs rotating at noon with an hour of overlap, so calls span files and
lines arrive twice) both must equal ``marts.rpt_daily_kpis`` built by the real loaders and dbt. The full
benchmark (Airflow, three pipeline runs) is `make bench` / `make bench-small`, not a test.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from benchmarks import pipeline as bench
from callops import dbt, pipeline, progress, settings
from callops.config import load_config
from callops.simulate.run import simulate

START = dt.date(2026, 3, 2)
DAYS = 3


@pytest.fixture(scope="module")
def workload(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("bench")
    config = root / "callops.yml"
    config.write_text(bench.BENCH_CONFIG)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CALLOPS_HOME", str(root / "data"))
        patch.setenv("CALLOPS_CONFIG", str(config))
        patch.setenv("CALLOPS_PSEUDONYM_KEY", bench.PSEUDONYM_KEY)
        simulate(
            load_config().tenants, tenants=1, days=DAYS, start=START, calls_per_day=1200, seed=11,
            landing=settings.landing_dir(), workers=1, rotate_hour=12, overlap_seconds=3600, write_feeds=False,
            progress=None,
        )  # fmt: skip
        last = START + dt.timedelta(days=DAYS)  # the spill day: calls still going at the end
        days = [START + dt.timedelta(days=d) for d in range(DAYS + 1)]
        files = [f for day in days for f in bench.day_files(settings.landing_dir(), day)]
        loaded = pipeline.load_deliveries("bench-test", START, last)
        assert loaded["failed"] == [] and loaded["rows_rejected"] == 0
        assert dbt.run_models().success
        published = bench.pipeline_kpis(settings.build_db_path(), START - dt.timedelta(days=1), last)
        yield {"files": files, "published": published}


@pytest.mark.dbt
def test_the_workload_spans_files_and_repeats_lines(workload):
    lines = [line for f in workload["files"] for line in f.read_text().splitlines()]
    assert len(lines) > len(set(lines))  # the overlap re-delivers lines
    assert len(workload["published"]) >= DAYS
    assert all(row["offered_count"] > 0 for row in workload["published"])


@pytest.mark.dbt
def test_the_duckdb_floor_equals_the_published_kpis(workload):
    rows = bench.floor_kpis(workload["files"], memory_limit="1GB", threads=1)
    assert bench.compare_kpis(rows, workload["published"]) == []


@pytest.mark.dbt
def test_the_pandas_script_equals_the_published_kpis(workload):
    rows = bench.pandas_kpis(workload["files"])
    assert bench.compare_kpis(rows, workload["published"]) == []


def test_compare_kpis_names_every_difference():
    day = dt.date(2026, 3, 2)
    base = {"kpi_date": day, **dict.fromkeys(bench.KPI_COUNTS, 10), **dict.fromkeys(bench.KPI_FIGURES, 0.5)}
    other = dict(base, kpi_date=day + dt.timedelta(days=1))
    assert bench.compare_kpis([base, other], [dict(base)]) == ["2026-03-03: only in the reference"]
    assert bench.compare_kpis([base], [dict(base, answer_rate=0.5 + 1e-12)]) == []  # parallel float sums
    changed = dict(base, offered_count=11, abandon_rate=0.5 + 1e-6, asa_seconds=None)
    assert bench.compare_kpis([base], [changed]) == [
        "2026-03-02 offered_count: reference 10, pipeline 11",
        "2026-03-02 abandon_rate: reference 0.5, pipeline 0.500001",
        "2026-03-02 asa_seconds: reference 0.5, pipeline None",
    ]


def _synthetic_run(home: Path, run_id: str) -> tuple[float, float]:
    """A finished run's traces as callops writes them: the Airflow log, ops tables, dbt's run_results."""
    t0 = dt.datetime(2026, 11, 25, 3, 0, 0, tzinfo=dt.UTC)

    def at(seconds: float) -> str:
        return (t0 + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    lines, clock = [f"{at(0.5)} [info     ] DAG bundles loaded"], 3.0
    bodies = {"load": 10.0, "build": 60.0, "validate": 5.0, "publish": 1.0, "finish": 0.5}
    for task, body in bodies.items():
        lines += [
            f"{at(clock)} [info     ] [DAG TEST] starting task_id={task} map_index=-1 [airflow.sdk]",
            f"{at(clock + 1)} [info     ] ::endgroup::                   [task] loc=task_runner.py:2232",
            f"{at(clock + 1 + body)} [info     ] Done. Returned value was: {{}} [airflow.task]",
            f"{at(clock + 1.5 + body)} [info     ] [DAG TEST] end task task_id={task} map_index=-1 [airflow.sdk]",
        ]
        if task == "build":
            lines.insert(-2, "03:00:20  Found 44 models, 985 data tests, 14 sources")
        clock += 2 + body
    (home / "runs").mkdir(parents=True)
    (home / "runs" / f"{run_id}.log").write_text("\n".join(lines) + "\n")
    (home / "warehouse").mkdir()
    con = duckdb.connect(str(home / "warehouse" / "build.duckdb"))
    con.execute("create schema ops")
    con.execute("create table ops.runs (run_id varchar, started_at timestamp, finished_at timestamp)")
    con.execute("create table ops.run_steps (run_id varchar, step varchar, status varchar, finished_at timestamp)")
    naive = t0.replace(tzinfo=None)
    con.execute("insert into ops.runs values (?, ?, ?)", [run_id, naive + dt.timedelta(seconds=4),
                                                          naive + dt.timedelta(seconds=85)])
    for step, second in (("load", 14), ("build", 76), ("validate", 83), ("publish", 84.5)):
        finished = naive + dt.timedelta(seconds=second)
        con.execute("insert into ops.run_steps values (?, ?, 'success', ?)", [run_id, step, finished])
    con.close()
    (home / "dbt" / "target").mkdir(parents=True)
    results = [{"unique_id": "model.callops.base_stints", "execution_time": 30.0},
               {"unique_id": "test.callops.unique_x.abc", "execution_time": 20.0}]
    (home / "dbt" / "target" / "run_results.json").write_text(json.dumps({"elapsed_time": 55.0, "results": results}))
    return t0.timestamp(), t0.timestamp() + clock + 2


def test_breakdown_reads_where_the_time_went(tmp_path):
    launched, ended = _synthetic_run(tmp_path, "run_x")
    detail = bench.breakdown(tmp_path, "run_x", launched, ended)
    where = detail["where"]
    assert where["load"] == pytest.approx(10) and where["gx_validate"] == pytest.approx(5)
    assert where["dbt_models"] == 30 and where["dbt_tests"] == 20 and where["dbt_other"] == 5
    assert where["dbt_startup_and_parse"] == pytest.approx(5)  # build body 60 - dbt's 55
    assert where["airflow_and_cli"] == pytest.approx(detail["wall_seconds"] - sum(
        t["body_seconds"] for t in detail["tasks"].values()))
    assert detail["airflow_startup_seconds"] == pytest.approx(3)
    assert detail["run_steps"] == pytest.approx({"load": 10, "build": 62, "validate": 7, "publish": 1.5, "finish": 0.5})
    assert detail["dbt"]["full_parse"] is False


def test_run_progress_reads_the_runs_progress_file(tmp_path):
    runs = tmp_path / "runs"
    (runs / "run_x").mkdir(parents=True)
    launched = time.time() - 100
    watch = SimpleNamespace(peak_rss=2 * 1024**3, last_file_index=-1)
    follow = bench.RunProgress("backfill", runs, [], watch, launched)
    assert "starting Airflow" in follow.describe()  # nothing yet: the Airflow log's view (no log either)
    progress.write(runs / "run_x" / "progress.json", {
        "step": "load", "step_started_at": time.time() - 60, "unit": "files", "done": 30, "total": 90, "rows": 9000,
        "fraction": 0.5, "basis": "bytes read",
    })
    text = follow.describe()
    assert text.startswith("  backfill 1m4") and ": load (deliveries into the build warehouse): 30/90 files, " in text
    assert "9,000 rows loaded; 1m0" in text and "left in it (by bytes read); peak RSS so far 2.00 GiB" in text


def test_the_record_has_the_documented_keys_and_judges_the_targets():
    record = bench.new_record(dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC), "abc1234def", [], "working tree",
                              "3GB", 2)
    assert tuple(record) == bench.RECORD_KEYS
    run = dict.fromkeys(bench.RUN_KEYS)
    record.update(
        floor=dict.fromkeys(bench.REFERENCE_KEYS) | {"seconds": 40.0, "agrees": True},
        pandas=dict.fromkeys(bench.REFERENCE_KEYS) | {"seconds": 300.0, "agrees": True},
        backfill=run | {"seconds": 250.0, "exit_code": 0, "peak_rss_bytes": 5 * 1024**3},
        daily=run | {"seconds": 45.0, "exit_code": 0},
        daily_empty=run | {"seconds": 40.0, "exit_code": 0},
        workload={"days": 90, "simulate_seconds": 100.0},
        intraday={"day": "2026-06-03", "run": run | {"seconds": 61.0, "exit_code": 0}, "airflow": {"error": None}},
        intraday_seconds=61.0,
        intraday_airflow_seconds=95.5,
    )
    record["ratios"], record["targets"] = bench.evaluate_targets(record)
    assert tuple(record["targets"]) == bench.TARGET_KEYS
    assert record["ratios"] == pytest.approx({"backfill_over_floor": 6.25, "backfill_over_pandas": 250 / 300,
                                              "daily_over_empty": 1.125})
    assert record["targets"] == {
        "backfill_within_5x_floor": False, "backfill_faster_than_pandas": True, "daily_under_30s": False,
        "daily_within_1_5x_empty": True, "backfill_peak_rss_under_4gib": False, "intraday_under_60s": False,
    }
    json.loads(json.dumps(record, default=str))  # the JSON line
    table = bench.report_table(record)
    assert "<= 5 x floor: 6.2 x" in table and "NO" in table
    assert "intraday: a 15-min chunk, 2026-06-03" in table
    airflow_rows = [line.split()[-3:] for line in table.splitlines() if "landed -> published" in line]
    assert airflow_rows == [["95.5", "(a", "figure)"]]
    record["intraday"]["run"]["exit_code"] = 1  # a failed run measured nothing
    assert bench.evaluate_targets(record)[1]["intraday_under_60s"] is None
    assert bench.record_path(Path("docs/bench"), dt.datetime(2026, 11, 25, 3, 7), "abc1234def") == Path(
        "docs/bench/2026-11-25T0307-abc1234.json"
    )


def test_intraday_chunks_are_split_at_the_morning_and_landed_as_a_transfer_does(tmp_path):
    source = tmp_path / "chunks"
    source.mkdir()
    names = ["queue_log-20260603-20260603-0000", "queue_log-20260603-20260603-0945",
             "queue_log-20260603-20260603-1015", "queue_log-20260603-20260603-1000", "queue_log-20260603"]
    for number, name in enumerate(names):
        (source / name).write_text(f"{number}|a\n{number}|b\n")
    morning, later = bench.split_chunks(source)
    assert [p.name[-4:] for p in morning] == ["0000", "0945"]
    assert [p.name[-4:] for p in later] == ["1000", "1015"]  # the whole-day file is no chunk
    spill = tmp_path / "spill"
    spill.write_text("0|b\n")
    assert bench.spill_included([*morning, *later], [spill]) is True
    spill.write_text("0|b\n0|b\n")  # a line the chunks hold once
    assert bench.spill_included([*morning, *later], [spill]) is False
    assert bench.spill_included(morning, []) is None
    folder = tmp_path / "landing" / "day"
    before = time.time() - 1
    landed = bench.land(later[0], folder)
    assert landed == folder / later[0].name and landed.read_text() == later[0].read_text()
    assert [p.name for p in folder.iterdir()] == [later[0].name]  # renamed into place from its .part name
    assert landed.stat().st_mtime >= before  # the transfer's time, not the source's


def test_a_failed_run_meets_no_target():
    record = bench.new_record(dt.datetime(2026, 11, 25, tzinfo=dt.UTC), None, [], "working tree", "3GB", 2)
    record.update(floor={"seconds": 10.0}, backfill={"seconds": 20.0, "exit_code": 1, "peak_rss_bytes": 1})
    ratios, targets = bench.evaluate_targets(record)
    assert ratios["backfill_over_floor"] is None and targets["backfill_within_5x_floor"] is None


def test_the_readme_documents_the_record_keys():
    page = (settings.project_dir() / "docs/performance.md").read_text()
    section = page[page.index("## How the bench works"):]
    for key in (*bench.RECORD_KEYS, *bench.TARGET_KEYS):
        assert f"`{key}`" in section, key
