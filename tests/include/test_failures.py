"""Failures that say why (callops.failures): a full disk named with what was written and the room left,
the pipe that brings a step's failure to `callops run`, and a fault's cause in the run record."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from callops import failures, pipeline, settings, tasks
from callops.load.base import LoadError


def test_a_disk_full_error_is_named_with_what_was_written_and_the_room_left_where(tmp_path):
    target = tmp_path / "published"
    target.mkdir()
    free = failures.free_text(target)
    # an OSError into the step's folder: the folder is named, not the file
    error = OSError(errno.ENOSPC, "No space left on device", str(target / ".callops.r1.tmp"))
    full = failures.disk_full(error, "writing the published file", target)
    assert str(full) == f"no space left on device while writing the published file, {free} free under {target}"
    # DuckDB's words (no OSError left), in a chain; the path it names lies outside the step's folder
    try:
        try:
            raise duckdb.IOException(
                f'IO Error: Could not write file "{tmp_path}/build.duckdb.wal": No space left on device'
            )
        except duckdb.Error as inner:
            raise RuntimeError("checkpoint failed") from inner
    except RuntimeError as chained:
        assert failures.is_disk_full(chained)
        assert failures.disk_full(chained, "loading x", target).path == tmp_path
    # an exceeded quota is a full disk too; another error is not, and an existing DiskFull is kept as it is
    assert failures.is_disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert failures.disk_full(OSError(errno.EACCES, "Permission denied"), "x", target) is None
    try:
        raise RuntimeError("closing the connection failed") from full
    except RuntimeError as later:
        assert failures.disk_full(later, "other", tmp_path) is full
    with pytest.raises(LoadError), failures.writing("loading", target, keep=(LoadError,)):
        raise LoadError("the file's first line says: No space left on device")
    with pytest.raises(failures.DiskFull, match="while writing the Data Docs, .* MB free under"), failures.writing(
        "writing the Data Docs", target
    ):
        raise error
    assert failures.free_text(tmp_path / "not" / "there") == free  # the nearest existing folder


def test_the_channel_brings_each_steps_last_report_from_the_child_process():
    channel = failures.Channel()
    script = (
        "from callops import failures\n"
        "failures.report('publish', 'TimeoutError: first try', recorded=True)\n"
        "failures.report('load', 'no space left on device while loading x, 0.1 MB free under /d')\n"
        "failures.report('publish', None)\n"  # the retry succeeded
        "failures.report('build', 'x' * 5000, recorded=True)\n"
    )
    env = dict(os.environ, **{failures.FAILURE_FD_ENV: str(channel.fd)})
    subprocess.run([sys.executable, "-c", script], env=env, pass_fds=(channel.fd,), check=True)
    received = channel.received()
    assert list(received) == ["load", "build"]
    assert received["load"] == failures.Reported("no space left on device while loading x, 0.1 MB free under /d")
    assert received["build"] == failures.Reported("x" * failures.REPORT_CHARS, recorded=True)
    channel.close()  # nothing left to close, and harmless


def test_a_fault_in_a_step_is_recorded_with_its_cause_and_finish_names_it(home):
    """publish with no marts raises a fault (retried): the step is recorded failed with why, and the run's
    close says "publish failed: PublishError: ..." instead of only "nothing published"."""
    context = {"dag_run": SimpleNamespace(conf={"callops_run_id": "r1"}), "params": {}}
    with pytest.raises(Exception, match="no tables in schema marts"):
        tasks.publish(context)
    with pytest.raises(pipeline.DataProblem) as finished:
        pipeline.finish_run("r1")
    message = str(finished.value)
    assert f"publish failed: PublishError: {settings.build_db_path()}: no tables in schema marts" in message
    assert "nothing published: the served marts are unchanged" in message
    assert not Path(settings.published_db_path()).exists()


@pytest.mark.parametrize("recorded_anything", [True, False])
def test_callops_run_prints_the_failures_the_build_warehouse_could_not_record(
    home, monkeypatch, capsys, recorded_anything
):
    """The Airflow process reports through the pipe; the command prints what the summary lacks."""
    from callops import airflow_runner, cli, report

    full = "no space left on device while writing the published file, 0.0 MB free under /srv/published"

    def run_pipeline(start, end, run_id, log, failure_fd=None, tail=None):
        monkeypatch.setenv(failures.FAILURE_FD_ENV, str(failure_fd))
        failures.report("build", "dbt build failed: test x: fail", recorded=True)
        failures.report("publish", full)
        tail.append("DagRun failed\n")
        return 1

    summary = SimpleNamespace(
        text="\nsteps:\n  build     failed", brief="\nchecks     dbt 0 models and tests: failed", status="running",
        steps={"build": "failed"},
    )
    monkeypatch.setattr(airflow_runner, "run_pipeline", run_pipeline)
    monkeypatch.setattr(report, "run_summary", lambda run_id: summary if recorded_anything else None)
    assert cli.main(["run", "--start", "2026-03-02", "--end", "2026-03-02"]) == 1
    out = capsys.readouterr().out
    assert f"  publish   failed: {full}" in out
    assert ("dbt build failed" in out) is not recorded_anything  # shown by the summary when it has one
    assert "\nresult: FAILED (Airflow log: " in out
