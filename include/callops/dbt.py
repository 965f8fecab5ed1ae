"""Run dbt in-process (dbtRunner) against the private build warehouse.

dbt's target/ and logs/ go under CALLOPS_HOME, so the project directory can be
read-only (a mounted checkout) and every run leaves its logs with its data.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from callops import progress, settings, warehouse

FAILED_STATUSES = {"error", "fail", "runtime error"}
BUILD_PLAN_ENV = "CALLOPS_BUILD_PLAN"


@dataclass
class DbtResult:
    success: bool
    nodes: int = 0
    failures: list[str] = field(default_factory=list)
    error: str | None = None


def environment() -> dict[str, str]:
    """The env_var() values profiles.yml reads."""
    return {
        "CALLOPS_BUILD_DB": str(settings.build_db_path()),
        "CALLOPS_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit(),
        "CALLOPS_DUCKDB_THREADS": str(settings.duckdb_threads()),
        "DO_NOT_TRACK": "1",
    }


def command(*args: str) -> list[str]:
    """dbt arguments with callops' project, profile and paths; sets the env profiles.yml reads."""
    os.environ.update(environment())
    settings.build_db_path().parent.mkdir(parents=True, exist_ok=True)
    work = settings.dbt_work_dir()
    project = str(settings.dbt_project_dir())
    return [
        *args,
        "--project-dir", project,
        "--profiles-dir", project,
        "--target-path", str(work / "target"),
        "--log-path", str(work / "logs"),
        "--no-version-check",
        "--no-send-anonymous-usage-stats",
    ]


def invoke(*args: str, build_plan: str = "") -> DbtResult:
    """Run one dbt command (``build``, ``test``, ...) in-process; inside a step of `callops run`, its
    nodes done of total go to the run's progress file (callops.progress).

    ``build_plan``: an incremental build's window and changed feeds (callops.incremental), read by
    macros/build_window.sql when nodes execute; empty builds every model whole."""
    from dbt.cli.main import dbtRunner

    os.environ[BUILD_PLAN_ENV] = build_plan
    try:
        outcome = dbtRunner(callbacks=progress.current().dbt_callbacks()).invoke(command(*args))
    finally:
        _release_warehouse()
    results = list(outcome.result or []) if hasattr(outcome.result, "__iter__") else []
    failures = [
        f"{r.node.resource_type} {r.node.name}: {r.status}"
        + (f" ({r.message})" if r.message else "")
        + _failing_rows(r)
        for r in results
        if str(r.status) in FAILED_STATUSES
    ]
    error = str(outcome.exception) if outcome.exception else None
    # the project's nodes; its on-run-end hook (macros/stale_relations.sql) is not one of them
    nodes = sum(1 for r in results if r.node.resource_type != "operation")
    return DbtResult(success=bool(outcome.success), nodes=nodes, failures=failures, error=error)


FAILING_ROWS_SHOWN = 5


def _failing_rows(result) -> str:
    """What a failed data test found, e.g. "; found: column_name=agent_id, rule=agent_id is not null,
    broken_rows=3" (a model-level test such as row_rules names its failing column only in its rows).
    Empty for anything else."""
    code = getattr(result.node, "compiled_code", None)
    if str(result.status) != "fail" or result.node.resource_type != "test" or not code:
        return ""
    try:
        with warehouse.connection(read_only=True) as con:
            cursor = con.execute(f"select * from ({code}) limit {FAILING_ROWS_SHOWN}")
            names = [column[0] for column in cursor.description]
            rows = cursor.fetchall()
    except Exception:  # the message above still names the test; the rows are a courtesy
        return ""
    return "; found: " + " | ".join(", ".join(f"{n}={v}" for n, v in zip(names, row)) for row in rows)


def _release_warehouse() -> None:
    """Close dbt-duckdb's process-wide DuckDB instance once dbt is done.

    dbt-duckdb keeps the database open for the life of the process; the next step
    in the same process (``airflow dags test`` runs every task in one) would then
    be refused a read-only connection to the same file, and the file would stay
    locked against other processes.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None


def model_statuses(target: Path) -> dict[str, str]:
    """Each model of the last dbt command with its status and its tests' results, from
    run_results.json and manifest.json (e.g. ``"success, 12 tests pass"``)."""
    try:
        results = json.loads((target / "run_results.json").read_text())["results"]
        nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    except (OSError, ValueError, KeyError):
        return {}
    models: dict[str, str] = {}
    tests: dict[str, dict[str, int]] = {}
    for result in results:
        unique_id, status = result["unique_id"], str(result["status"])
        node = nodes.get(unique_id, {})
        if unique_id.startswith("model."):
            models[node.get("name", unique_id)] = status
        elif unique_id.startswith("test."):
            parent = node.get("attached_node") or (node.get("depends_on", {}).get("nodes") or [""])[-1]
            name = nodes.get(parent, {}).get("name", parent)
            tests.setdefault(name, {}).setdefault(status, 0)
            tests[name][status] += 1
    return {
        name: status + "".join(f", {count} tests {result}" for result, count in sorted(tests.get(name, {}).items()))
        for name, status in sorted(models.items())
    }


def build(*plan_args: str, build_plan: str = "") -> DbtResult:
    """Models and their data tests; unit tests run in `make test`, not on every load.

    ``plan_args``, ``build_plan``: the build plan's flags and window (callops.incremental: the changed
    partitions and feeds, or a full refresh); none builds and tests everything.
    """
    return invoke("build", "--exclude-resource-type", "unit_test", *plan_args, build_plan=build_plan)


def run_models() -> DbtResult:
    """The models alone, without their ~650 data tests (a fifth of a build's time).

    For tests that check figures on hand-made deliveries: the data tests run in
    every pipeline build and in the tests that build on simulated data.
    """
    return invoke("run")


def unit_tests() -> DbtResult:
    """The dbt unit tests of every KPI formula; parents are created empty first (dbt needs their columns)."""
    warehouse.connect().close()  # raw schema and tables
    prepared = invoke("run", "--empty")
    if not prepared.success:
        return prepared
    return invoke("test", "--select", "test_type:unit")
