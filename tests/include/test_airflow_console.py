"""`callops airflow` (make airflow) on the console: of the components' output it shows task outcomes,
failed DAG runs, warnings and errors (the rest is in their log files); and under make in a terminal,
Ctrl-C reaches callops alone, so make is not interrupted and exits with callops' 0."""

from __future__ import annotations

import os
import pty
import select
import shutil
import sys
import textwrap
import time

import pytest

from callops.airflow_runner import console_line

# Lines as Airflow 3.3's scheduler, API server and task supervisor write them (abridged where long).
FINISHED = (
    "2026-12-06T08:26:52.275890Z [info     ] TaskInstance Finished: dag_id=publish_deadline_watch, "
    "task_id=check_deadlines, run_id=scheduled__2026-12-06T08:15:00+00:00, map_index=-1, ti_id=01a24a76, "
    "run_start_date=2026-12-06 08:26:31.747806+00:00, run_end_date=2026-12-06 08:26:46.547259+00:00, "
    "run_duration={duration}, state={state}, executor=LocalExecutor(parallelism=4), executor_state=success, "
    "try_number=1, max_tries=2, pool=default_pool, queue=default, priority_weight=1, "
    "operator=_PythonDecoratedOperator, queued_dttm=2026-12-06 08:26:30.931061+00:00, scheduled_dttm=None,"
    "queued_by_job_id=1, pid=31234 [airflow.jobs.scheduler_job_runner.SchedulerJobRunner] "
    "loc=scheduler_job_runner.py:1439"
)
RUN = (
    "2026-12-06T08:26:47.357090Z [info     ] Marking run <DagRun build_warehouse @ None: "
    "asset_triggered__2026-12-06T08:20:00+00:00, state:running, queued_at: 2026-12-06 08:20:01+00:00. "
    "run_type: asset_triggered> {outcome} [airflow.models.dagrun.DagRun] loc=dagrun.py:1219"
)


def test_the_console_shows_task_outcomes_failed_runs_warnings_and_errors_only():
    task = "task publish_deadline_watch.check_deadlines (scheduled__2026-12-06T08:15:00+00:00)"
    assert console_line("scheduler", FINISHED.format(duration="14.799", state="success")) == f"{task}: success in 15 s"
    assert console_line("scheduler", FINISHED.format(duration="2.1", state="failed")) == f"{task}: failed in 2 s"
    assert console_line("scheduler", FINISHED.format(duration="2.1", state="up_for_retry")) == (
        f"{task}: failed, will retry (try 1 of 3)"
    )
    # a sensor handed to the triggerer is still going
    assert console_line("scheduler", FINISHED.format(duration="None", state="deferred")) is None
    assert console_line("scheduler", RUN.format(outcome="failed")) == (
        "DAG run build_warehouse (asset_triggered__2026-12-06T08:20:00+00:00): failed"
    )
    assert console_line("scheduler", RUN.format(outcome="successful")) is None
    assert console_line(
        "scheduler",
        "2026-12-06T08:30:01.1Z [error    ] Executor reported task finished with state failed "
        "[airflow.jobs.scheduler_job_runner.SchedulerJobRunner] loc=scheduler_job_runner.py:1470 ti=x",
    ) == (
        "scheduler error: Executor reported task finished with state failed "
        "[airflow.jobs.scheduler_job_runner.SchedulerJobRunner] ti=x"
    )
    # Python's warnings are for developers; info lines, banners and tracebacks stay in the log file
    for line in (
        "2026-12-06T08:26:31.02Z [warning  ] The HMAC key is 24 bytes long [py.warnings] category=UserWarning",
        "2026-12-06T08:26:43.41Z [info     ] request finished [http.access] method=PATCH status_code=200",
        "____________       _____________",
        "Traceback (most recent call last):",
        '  File "/x/scheduler_job_runner.py", line 1, in _execute',
    ):
        assert console_line("scheduler", line) is None, line
    assert console_line("api-server", "ERROR:    [Errno 98] address already in use") == (
        "ERROR:    [Errno 98] address already in use"
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_ctrl_c_typed_under_make_reaches_callops_alone_and_make_exits_0(tmp_path):
    """In a terminal, `make <target>` running a command that takes the terminal for its own group
    (callops airflow's _terminal_to_own_group): Ctrl-C interrupts the command only, which stops and
    exits 0, and make exits 0 with no "Interrupt"; the terminal's foreground is make's group again."""
    program = tmp_path / "serve.py"
    program.write_text(
        textwrap.dedent(
            """
            import os, signal, sys, time
            from callops.airflow_runner import _terminal_to_own_group

            stop = []
            signal.signal(signal.SIGINT, lambda *_: stop.append(True))
            with _terminal_to_own_group() as parent:
                own = os.getpgrp() == os.getpid()
                print(f"serving, own group {own}, parent {parent == os.getppid()}", flush=True)
                while not stop:
                    time.sleep(0.05)
            print(f"stopped, terminal back to make {os.tcgetpgrp(0) == os.getpgid(os.getppid())}", flush=True)
            """
        )
    )
    (tmp_path / "Makefile").write_text(f"serve:\n\t{sys.executable} {program}\n")
    pid, terminal = pty.fork()
    if pid == 0:  # in the terminal: make is its foreground process group, as a shell starts a job
        os.execvp("make", ["make", "--no-print-directory", "-C", str(tmp_path), "serve"])
    output, typed, deadline = b"", False, time.monotonic() + 60
    while time.monotonic() < deadline:
        if select.select([terminal], [], [], 0.2)[0]:
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # the terminal closed: make has exited
                break
            output += chunk
        if not typed and b"serving" in output:
            os.write(terminal, b"\x03")  # Ctrl-C
            typed = True
    _, status = os.waitpid(pid, 0)
    text = output.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "Interrupt" not in text, text
    assert "serving, own group True, parent True" in text, text
    assert "stopped, terminal back to make True" in text, text
