"""What `callops run` prints (issue 18): by default a screen (tenants, days, files, rows, steps and checks,
what was published, each tenant's latest complete day against target, the problems), with what every run
has by the hundred counted, not listed; `--verbose` and the run log keep the full detail.

The runs here load real deliveries (pipeline.load_deliveries), publish (pipeline.publish_marts) and close
(pipeline.finish_run) as the DAG does; dbt and the Great Expectations gate are left out (their steps are
recorded as they record themselves), and marts.rpt_daily_kpis is a stand-in with hand-set figures."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from pathlib import Path

import pytest

from callops import airflow_runner, cli, pipeline, report, settings, warehouse
from tests.conftest import deliver

HEADER = "contact_id,queue_id,entered_at,outcome,wait_seconds,talk_seconds,hold_seconds,after_call_work_seconds\n"
DAYS = ("2026-03-01", "2026-03-02")


def contacts(prefix: str, day: str, count: int) -> str:
    return HEADER + "".join(f"{prefix}{n},cards,{day} 09:{n:02d}:00,answered,5,60,0,10\n" for n in range(count))


def ctr_file(contact: str, day: str) -> str:
    """An Amazon Connect Firehose object holding two versions of one contact: the earlier is superseded."""

    def record(updated: str) -> str:
        return (
            f'{{"ContactId": "{contact}", "Channel": "VOICE", "InitiationMethod": "INBOUND", '
            f'"InitiationTimestamp": "{day}T01:00:00Z", '
            f'"Queue": {{"Name": "Sales", "EnqueueTimestamp": "{day}T01:00:05Z"}}, '
            f'"LastUpdateTimestamp": "{day}T{updated}Z"}}'
        )

    return record("01:05:00") + "\n" + record("01:20:00") + "\n"


# (tenant, day, is_day_complete, offered, service level, SL met, answer rate, met, abandon rate, met):
# targets as callops.yml's defaults (0.8, 0.95, at most 0.05); T 20 s for shanghai_bank, 10 s for stockholm_telco
KPIS = [
    ("shanghai_bank", "2026-03-01", True, 100, 0.85, True, 0.97, True, 0.03, True),
    ("shanghai_bank", "2026-03-02", True, 120, 0.9, True, 0.96, True, 0.04, True),
    ("shanghai_bank", "2026-03-03", False, 7, 0.5, None, 0.9, None, 0.1, None),  # partial: not the latest complete
    ("stockholm_telco", "2026-03-01", True, 80, 0.82, True, 0.95, True, 0.05, True),
    ("stockholm_telco", "2026-03-02", True, 90, 0.7, False, 0.9, False, 0.1, False),
]


def stand_in_kpis() -> None:
    """marts.rpt_daily_kpis in the build warehouse with the columns the summary reads, from KPIS."""
    values = ", ".join(
        f"('{tenant}', date '{day}', {complete}, {offered}, {sl}, 0.8, {20 if tenant == 'shanghai_bank' else 10}, "
        f"{'null' if sl_met is None else sl_met}, {answer}, 0.95, {'null' if answer_met is None else answer_met}, "
        f"{abandon}, 0.05, {'null' if abandon_met is None else abandon_met})"
        for tenant, day, complete, offered, sl, sl_met, answer, answer_met, abandon, abandon_met in KPIS
    )
    with warehouse.connection() as con:
        con.execute("create schema if not exists marts")
        con.execute(
            f"""
            create or replace table marts.rpt_daily_kpis as
            select * from (values {values}) as kpis (
                tenant_id, kpi_date, is_day_complete, offered_count,
                service_level_rate, service_level_target, service_level_seconds, is_service_level_target_met,
                answer_rate, answer_rate_target, is_answer_rate_target_met,
                abandon_rate, abandon_rate_target, is_abandon_rate_target_met
            )
            """
        )


def run_steps(run_id: str, start: str, end: str, failed_checks: int = 0, changed: bool = True) -> None:
    """The DAG's steps in this process: load, build and gate records, publish, finish. ``changed``
    False: a run of files already loaded, which builds and checks nothing."""
    pipeline.load_deliveries(run_id, dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    stand_in_kpis()
    checks = [] if not changed else [
        {"table": "rpt_daily_kpis", "check": "expect_column_values_to_be_between", "column": "service_level_rate",
         "severity": "blocking", "success": True, "unexpected_count": 0, "failing_keys": [], "notes": ""},
    ] + [
        {"table": "rpt_daily_kpis", "check": "expect_column_values_to_be_in_set", "column": "is_volume_within_band",
         "severity": "warning", "success": False, "unexpected_count": 1, "failing_keys": [f"stockholm_telco {end}"],
         "notes": "the day's volume is far from the same weekday's"},
    ] * failed_checks  # fmt: skip
    with warehouse.connection() as con:
        plan = "full build (nothing built yet)" if changed else "no changed partitions: nothing to build"
        build = {"success": True, "nodes": 12 if changed else 0, "failures": [], "error": None, "plan": plan}
        pipeline.record_step(con, run_id, "build", "success", build)
        docs = str(settings.data_docs_dir() / run_id / "index.html") if changed else None
        gate = {"partitions": 4 if changed else 0, "checks": checks, "data_docs": docs}
        pipeline.record_step(con, run_id, "validate", "warning" if failed_checks else "success", gate)
        # as the gate does when nothing blocks: the changes are passed (a pending one is held back)
        con.execute("update ops.changed_partitions set validated_run_id = ? where validated_run_id is null", [run_id])
    pipeline.publish_marts(run_id)
    with contextlib.suppress(pipeline.DataProblem):  # a run with problems fails; the summary says which
        pipeline.finish_run(run_id)


def deliver_two_tenants(home: Path, connect_files: int = 12) -> None:
    for day in DAYS:
        deliver(home, "shanghai_bank", day, "contacts.csv", contacts("s", day, 30))
        deliver(home, "stockholm_telco", day, "contacts.csv", contacts("t", day, 20))
    # variant_tenant sends Amazon Connect objects, each superseding an earlier version of its contact
    for n in range(connect_files):
        name = f"ctr-stream-1-2026-03-01-{n:02d}-05-00-{n:08d}-0000-0000-0000-000000000000"
        deliver(home, "variant_tenant", "2026-03-01", name, ctr_file(f"v-{n}", "2026-03-01"))


def test_the_default_summary_of_a_multi_tenant_run_fits_a_screen_and_names_what_happened(home):
    deliver_two_tenants(home)
    run_steps("r1", *DAYS)
    summary = report.run_summary("r1")
    assert summary.status == "success", summary.text
    lines = summary.brief.splitlines()
    assert len(lines) <= report.BRIEF_LINES - 5, summary.brief  # with the command's header and result lines
    assert "tenants    3: shanghai_bank, stockholm_telco, variant_tenant" in lines
    assert "days       2026-03-01 to 2026-03-02: 2 delivery day(s) with files" in lines
    assert "files      16: 16 loaded, 0 unchanged, 0 held back, 0 failed" in lines
    # 12 Connect objects, 2 records each: one loaded, one superseded; counted, no file listed
    assert "rows       112 loaded, 0 rejected, 12 superseded by a later record of the same contact" in lines
    assert "ctr-stream" not in summary.brief and "earlier version" not in summary.brief
    assert "checks     dbt 12 models and tests, full build (nothing built yet): passed; mart gate 1 checks on 4 " \
           "changed tenant-days: 0 failed, 0 warning(s)" in lines  # fmt: skip
    tables = json.loads(_step_detail("r1", "publish"))["tables"]
    assert f"published  {len(tables)} tables, {sum(tables.values()):,} rows, to {settings.published_db_path()} and 3 " \
        "tenant file(s) in tenants/ beside it; the wallboard in wallboard/index.html" in lines
    # each tenant's latest complete day (not shanghai_bank's partial 03-03), met or missed as the mart says
    kpis = [line.split() for line in lines if line.startswith(("  shanghai_bank", "  stockholm_telco"))]
    assert kpis == [
        ["shanghai_bank", "2026-03-02", "120", "90.0%", "(>=", "80%", "in", "20", "s)", "met",
         "96.0%", "(>=", "95%)", "met", "4.0%", "(<=", "5%)", "met"],
        ["stockholm_telco", "2026-03-02", "90", "70.0%", "(>=", "80%", "in", "10", "s)", "MISSED",
         "90.0%", "(>=", "95%)", "MISSED", "10.0%", "(<=", "5%)", "MISSED"],
    ]  # fmt: skip
    assert "problems   none" in lines
    assert lines[-1] == (
        "full detail, per delivery day and file, and the notes of 12 loaded file(s): the run log, or "
        "`callops run --verbose`"
    )
    # the full detail lists each of them
    assert summary.text.count("earlier version(s) of a contact in this file superseded") == 12
    assert "2026-03-01    shanghai_bank    telephony" in summary.text


def test_a_run_of_files_already_loaded_says_it_had_nothing_to_build_or_check(home):
    deliver_two_tenants(home, connect_files=0)
    run_steps("r1", *DAYS)
    run_steps("r2", *DAYS, changed=False)
    lines = report.run_summary("r2").brief.splitlines()
    assert "files      4: 0 loaded, 4 unchanged, 0 held back, 0 failed" in lines
    assert "checks     dbt: nothing to build (no changed partitions); mart gate: nothing changed to check" in lines
    assert "problems   none" in lines


def _step_detail(run_id: str, step: str) -> str:
    with warehouse.connection(read_only=True) as con:
        query = "select detail from ops.run_steps where run_id = ? and step = ?"
        return con.execute(query, [run_id, step]).fetchone()[0]


@pytest.mark.parametrize("unknown_tenants", [2, 8])
def test_the_default_summary_names_held_and_failed_files_and_counts_what_it_leaves_out(home, unknown_tenants):
    deliver_two_tenants(home, connect_files=0)
    # half its rows rejected: above the 1 % reject_threshold, the delivery gate holds the file back
    late = contacts("h", "2026-03-02", 1) + "h9,cards,never,x,1,1,0,0\n"
    deliver(home, "shanghai_bank", "2026-03-02", "a_late.csv", late)
    for n in range(unknown_tenants):  # tenants not in callops.yml: each file fails
        deliver(home, f"unknown_{n}", "2026-03-02", "contacts.csv", contacts("u", "2026-03-02", 1))
    run_steps("r1", *DAYS, failed_checks=1)
    summary = report.run_summary("r1")
    assert summary.status == "failed"
    lines = summary.brief.splitlines()
    assert len(lines) <= report.BRIEF_LINES - 5, summary.brief
    assert f"files      {5 + unknown_tenants}: 4 loaded, 0 unchanged, 1 held back, {unknown_tenants} failed" in lines
    docs = settings.data_docs_dir() / "r1" / "index.html"
    assert "checks     dbt 12 models and tests, full build (nothing built yet): passed; mart gate 2 checks on 4 " \
           f"changed tenant-days: 0 failed, 1 warning(s) (Data Docs: {docs})" in lines  # fmt: skip
    count = 1 + unknown_tenants + 1
    problems = lines[lines.index(f"problems   {count}") + 1: -1]
    # what kept rows out of the marts first: the held file, the failed ones; then the gate's warning
    assert problems[0].startswith(
        "  landing/telephony/shanghai_bank/2026-03-02/a_late.csv: held back by the delivery gate (tenant shanghai_bank"
    )
    assert "`callops accept landing/telephony/shanghai_bank/2026-03-02/a_late.csv`" in problems[0]
    for line in problems[1:3]:
        assert line.startswith("  landing/telephony/unknown_") and "is not in callops.yml" in line
    warning = (
        "  [warning] rpt_daily_kpis: expect_column_values_to_be_in_set on is_volume_within_band at stockholm_telco "
        "2026-03-02: the day's volume is far from the same weekday's"
    )
    if count <= report.BRIEF_PROBLEMS:
        assert problems == problems[:3] + [warning]
    else:  # the first few, the rest counted
        assert len(problems) == report.BRIEF_PROBLEMS + 1 and warning not in problems
        assert problems[-1] == f"  ... and {count - report.BRIEF_PROBLEMS} more"
    assert lines[-1].startswith("full detail")
    # the full detail has every failed file
    assert summary.text.count("is not in callops.yml") == unknown_tenants


def test_the_default_summary_says_when_nothing_was_published(home):
    deliver(home, "shanghai_bank", "2026-03-01", "contacts.csv", contacts("s", "2026-03-01", 3))
    pipeline.load_deliveries("r1", dt.date(2026, 3, 1), dt.date(2026, 3, 1))
    with pytest.raises(pipeline.DataProblem):
        pipeline.finish_run("r1")
    lines = report.run_summary("r1").brief.splitlines()
    assert "published  nothing: the served marts are unchanged" in lines
    assert not any(line.startswith("latest complete day") for line in lines)
    assert "checks     dbt did not run; mart gate did not run" in lines
    assert lines[lines.index("problems   3") + 1:] == [
        "  build did not run", "  validate did not run", "  publish did not run",
        "full detail, per delivery day and file: the run log, or `callops run --verbose`",
    ]


# --- the command ----------------------------------------------------------------------------------


def _in_process(run_id_seen: list):
    """callops_pipeline's run, in this process: the steps as run_steps plays them."""

    def run_pipeline(start: str, end: str, run_id: str, log: Path, **_) -> int:
        run_id_seen.append(run_id)
        log.write_text("(Airflow's output)\n")
        run_steps(run_id, start, end)
        return 0

    return run_pipeline


def test_run_prints_the_short_summary_verbose_the_full_one_and_the_log_keeps_it_always(home, monkeypatch, capsys):
    deliver_two_tenants(home)
    runs: list[str] = []
    monkeypatch.setattr(airflow_runner, "run_pipeline", _in_process(runs))
    assert cli.main(["run", "--start", DAYS[0], "--end", DAYS[1]]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) <= report.BRIEF_LINES, out
    assert "per delivery day:" not in out and "tenants    3: shanghai_bank, stockholm_telco, variant_tenant" in out
    assert "latest complete day, against target" in out and out.rstrip().endswith("result: success")
    log = (settings.runs_dir() / f"{runs[0]}.log").read_text()
    assert log.startswith("(Airflow's output)\n")
    assert "per delivery day:" in log and "2026-03-02    stockholm_telco  telephony" in log
    assert log.count("earlier version(s) of a contact in this file superseded") == 12

    # --verbose: the full detail, per delivery day, tenant and feed (the files are unchanged now)
    assert cli.main(["run", "--start", DAYS[0], "--end", DAYS[1], "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "per delivery day:" in out
    for day in DAYS:
        for tenant in ("shanghai_bank  ", "stockholm_telco"):
            assert f"{day}    {tenant}  telephony      1       0     0          1       0     0         0" in out, out
    assert "steps:" in out and "tenants    " not in out
    assert "per delivery day:" in (settings.runs_dir() / f"{runs[1]}.log").read_text()


def test_the_first_run_says_once_that_airflow_sets_up_its_metadata(home, monkeypatch, capsys):
    deliver(home, "shanghai_bank", "2026-03-01", "contacts.csv", contacts("s", "2026-03-01", 3))
    monkeypatch.setattr(airflow_runner, "run_pipeline", _in_process([]))
    assert cli.main(["run", "--start", "2026-03-01", "--end", "2026-03-01"]) == 0
    first = capsys.readouterr().out
    assert first.count("Airflow sets up its metadata database (a one-off, up to about 30 s)") == 1
    settings.airflow_home().mkdir(parents=True, exist_ok=True)
    airflow_runner.migrated_marker().touch()  # what ensure_metadata_db leaves behind
    assert cli.main(["run", "--start", "2026-03-01", "--end", "2026-03-01"]) == 0
    assert "metadata database" not in capsys.readouterr().out
