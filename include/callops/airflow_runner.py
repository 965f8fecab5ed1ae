"""Embedded Airflow: SQLite metadata under CALLOPS_HOME/airflow, no servers.

`callops run` triggers ``callops_pipeline`` as one DAG run with
``airflow dags test`` in a child process (the whole run in-process, with the
real scheduler logic, task states and XComs, recorded in the metadata DB).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from callops import settings
from callops.tasks import DAG_ID, WRITER_POOL


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(settings.airflow_home()),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(settings.dags_dir()),
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "DO_NOT_TRACK": "1",
            "GX_ANALYTICS_ENABLED": "False",
            "CALLOPS_HOME": str(settings.home()),
            "CALLOPS_CONFIG": str(settings.config_path()),
            "CALLOPS_PROJECT_DIR": str(settings.project_dir()),
        }
    )
    return env


def _airflow(*args: str, log: Path | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "airflow", *args]
    if log is None:
        return subprocess.run(command, env=environment(), capture_output=True, text=True)
    with log.open("a") as handle:
        return subprocess.run(command, env=environment(), stdout=handle, stderr=subprocess.STDOUT)


def ensure_metadata_db() -> None:
    """Migrate the SQLite metadata DB once per Airflow version, and create the writer pool."""
    home = settings.airflow_home()
    home.mkdir(parents=True, exist_ok=True)
    marker = home / f".callops-migrated-{version('apache-airflow')}"
    if marker.exists():
        return
    for args in (("db", "migrate"), ("pools", "set", WRITER_POOL, "1", "callops: one writer of the build warehouse")):
        done = _airflow(*args)
        if done.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    marker.touch()


def run_pipeline(start: str, end: str, run_id: str, log: Path) -> int:
    """One DAG run of callops_pipeline for delivery days [start, end]; returns the exit code."""
    ensure_metadata_db()
    conf = {"start": start, "end": end, "callops_run_id": run_id}
    return _airflow("dags", "test", DAG_ID, "-c", json.dumps(conf), log=log).returncode
