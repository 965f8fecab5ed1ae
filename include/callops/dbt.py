"""Run dbt in-process (dbtRunner) against the private build warehouse.

dbt's target/ and logs/ go under CALLOPS_HOME, so the project directory can be
read-only (a mounted checkout) and every run leaves its logs with its data.

    python -m callops.dbt docs [--out DIR]     # `make docs`: dbt's documentation site
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from callops import progress, settings, warehouse

FAILED_STATUSES = {"error", "fail", "runtime error"}
BUILD_PLAN_ENV = "CALLOPS_BUILD_PLAN"
# Every data test runs as a warning inside callops (dbt_project.yml `data_tests: +severity`), so a
# failing one never makes dbt skip the models downstream of it, for any tenant: callops decides per
# tenant from its TestFailure records instead. `dbt build` by hand keeps the declared severities.
DATA_TEST_SEVERITY_ENV = "CALLOPS_DATA_TEST_SEVERITY"


@dataclass
class TestFailure:
    """A data test's failing rows of one tenant: what decides, per tenant, whether its new figures are
    published (issue 19). Holds nothing of another tenant's rows.

    ``table``: the model it tests (a singular test: its last parent model); ``column``: the tested
    column, if the test has one; ``severity``: ``blocking`` (declared ``error``, dbt's default) or
    ``warning`` (declared ``warn``); ``tenant_id``: None when the failing rows carry no tenant (they
    block every tenant; ``notes`` may then show any tenant's rows); ``unexpected_count``: the tenant's
    failing rows of the model (a test that counts them, such as row_rules, adds its counts up; the
    test's own failure count when unattributed); ``failing_keys``: ``"<tenant_id> <YYYY-MM-DD>"`` of
    the failing rows' days (the model's day column, macros/failing_rows.sql), sorted; ``notes``: the
    first of the tenant's failing rows, as `column=value` lists."""

    __test__ = False  # not a pytest test class

    test: str
    table: str
    column: str | None
    severity: str
    tenant_id: str | None
    unexpected_count: int
    failing_keys: list[str] = field(default_factory=list)
    notes: str | None = None


@dataclass
class DbtResult:
    """``success``/``failures``: the build itself failed (a model, a test whose SQL errored, dbt);
    ``test_failures``: the data tests that found failing rows, one record per test and tenant."""

    success: bool
    nodes: int = 0
    failures: list[str] = field(default_factory=list)
    error: str | None = None
    tests: list[str] = field(default_factory=list)  # the data tests run (node names)
    test_failures: list[TestFailure] = field(default_factory=list)  # the failed ones, per tenant of their rows


def environment(build_db: Path | None = None) -> dict[str, str]:
    """The env_var() values profiles.yml reads (``build_db``: another database than the build warehouse)."""
    return {
        "CALLOPS_BUILD_DB": str(build_db or settings.build_db_path()),
        "CALLOPS_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit(),
        "CALLOPS_DUCKDB_THREADS": str(settings.duckdb_threads()),
        # always the same value: dbt re-parses the whole project when an env var dbt_project.yml reads changes
        DATA_TEST_SEVERITY_ENV: "warn",
        "DO_NOT_TRACK": "1",
    }


def command(*args: str, target: Path | None = None, build_db: Path | None = None) -> list[str]:
    """dbt arguments with callops' project, profile and paths; sets the env profiles.yml reads.

    ``target``: dbt's target path (default CALLOPS_HOME/dbt/target); ``build_db``: see :func:`environment`."""
    os.environ.update(environment(build_db))
    settings.build_db_path().parent.mkdir(parents=True, exist_ok=True)
    work = settings.dbt_work_dir()
    project = str(settings.dbt_project_dir())
    return [
        *args,
        "--project-dir", project,
        "--profiles-dir", project,
        "--target-path", str(target or work / "target"),
        "--log-path", str(work / "logs"),
        "--no-version-check",
        "--no-send-anonymous-usage-stats",
    ]


def invoke(*args: str, build_plan: str = "", target: Path | None = None, build_db: Path | None = None) -> DbtResult:
    """Run one dbt command (``build``, ``test``, ...) in-process; inside a step of `callops run`, its
    nodes done of total go to the run's progress file (callops.progress).

    ``build_plan``: an incremental build's window and changed feeds (callops.incremental), read by
    macros/build_window.sql when nodes execute; empty builds every model whole. ``target``,
    ``build_db``: see :func:`command`."""
    from dbt.cli.main import dbtRunner

    os.environ[BUILD_PLAN_ENV] = build_plan
    try:
        outcome = dbtRunner(callbacks=progress.current().dbt_callbacks()).invoke(
            command(*args, target=target, build_db=build_db)
        )
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
    failing = [r for r in results if r.node.resource_type == "test" and str(r.status) in FAILING_TEST_STATUSES]
    test_failures = _test_failures(failing, target or settings.dbt_work_dir() / "target", build_db) if failing else []
    tests = [r.node.name for r in results if r.node.resource_type == "test"]
    return DbtResult(
        success=bool(outcome.success), nodes=nodes, failures=failures, error=error, tests=tests,
        test_failures=test_failures,
    )


FAILING_ROWS_SHOWN = 5
FAILING_TEST_STATUSES = {"warn", "fail"}
# Failing rows that stand for several rows of the model: row_rules' count per rule, tenant and day,
# unique_combination_of_columns' copies of a key, accepted_values' rows of a value.
ROW_COUNT_COLUMNS = ("broken_rows", "row_count", "n_records")


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
    return "; found: " + _format_rows(names, rows)


def _format_rows(names: list[str], rows: list[tuple]) -> str:
    return " | ".join(", ".join(f"{n}={v}" for n, v in zip(names, row)) for row in rows)


def _test_failures(results: list, target: Path, build_db: Path | None = None) -> list[TestFailure]:
    """One TestFailure per failing data test and tenant of its failing rows (each test's compiled SQL
    runs once more, on the database it ran on); the tested models from the invocation's manifest."""
    try:
        nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    except (OSError, ValueError, KeyError):
        nodes = {}
    failures: list[TestFailure] = []
    try:
        con = warehouse.connect(build_db, read_only=True)
    except Exception:  # nothing can be read again: every failing test blocks every tenant
        con = None
    try:
        for result in results:
            failures.extend(_tenant_failures(con, result, nodes))
    finally:
        if con is not None:
            con.close()
    return failures


def _tenant_failures(con, result, nodes: dict) -> list[TestFailure]:
    """A failing data test's records: one per tenant of its failing rows (a row whose tenant_id is
    null: one record without a tenant), or one without a tenant when its rows carry no tenant_id or
    cannot be read again."""
    node = result.node
    parents = [p for p in getattr(node.depends_on, "nodes", []) or [] if p.startswith("model.")]
    tested = nodes.get(getattr(node, "attached_node", None) or (parents[-1] if parents else ""), {})
    declared = str((getattr(node, "unrendered_config", None) or {}).get("severity", "error")).strip().lower()
    record = {
        "test": node.name,
        "table": tested.get("name") or (parents[-1].split(".")[-1] if parents else node.name),
        "column": getattr(node, "column_name", None),
        "severity": "warning" if declared == "warn" else "blocking",
    }
    try:
        by_tenant = _failing_rows_by_tenant(con, node.compiled_code, _day_column(node, tested))
    except Exception:  # rows that cannot be read again are attributed to no tenant: they block every one
        by_tenant = None
    if by_tenant is None:
        notes = _first_rows(con, node.compiled_code) if con is not None else None
        return [TestFailure(**record, tenant_id=None, unexpected_count=int(result.failures or 0), notes=notes)]
    return [
        TestFailure(**record, tenant_id=tenant, unexpected_count=count, failing_keys=keys, notes=notes)
        for tenant, count, keys, notes in by_tenant
    ]


def _day_column(node, tested: dict) -> str | None:
    """The column that dates a test's failing rows: the test's meta ``day_column`` (a singular test's),
    else its model's meta ``day_column`` or ``window_column``, as macros/failing_rows.sql keys them."""
    meta = (getattr(node, "config", None) and getattr(node.config, "meta", None)) or {}
    model_meta = (tested.get("config") or {}).get("meta") or {}
    return meta.get("day_column") or model_meta.get("day_column") or model_meta.get("window_column")


def _failing_rows_by_tenant(con, code: str | None, day: str | None) -> list[tuple] | None:
    """Per tenant_id of the failing rows (None last): its failing rows of the model, the "tenant day"
    keys of their days and its first rows (as _failing_rows shows them). None: the rows carry no
    tenant_id."""
    if con is None or not code:
        return None
    con.execute(f"create or replace temp table failing_rows as select * from ({code}) as failing_rows")
    try:
        names = [row[0] for row in con.execute("describe failing_rows").fetchall()]
        if "tenant_id" not in names:
            return None
        weight = next((f'"{n}"' for n in ROW_COUNT_COLUMNS if n in names), "1")
        key = f"""tenant_id || ' ' || strftime(cast("{day}" as date), '%Y-%m-%d')""" if day in names else "null"
        counted = con.execute(
            f"""
            select tenant_id, cast(sum(weight) as bigint), list(distinct failing_key order by failing_key)
            from (select tenant_id, {weight} as weight, {key} as failing_key from failing_rows)
            group by tenant_id
            order by tenant_id nulls last
            """
        ).fetchall()
        ordered = ", ".join(f'"{n}"' for n in names)
        shown: dict[str | None, list[tuple]] = {}
        for row in con.execute(
            f"select * from failing_rows qualify row_number() over (partition by tenant_id order by {ordered}) "
            f"<= {FAILING_ROWS_SHOWN} order by {ordered}"
        ).fetchall():
            shown.setdefault(row[names.index("tenant_id")], []).append(row)
    finally:
        con.execute("drop table if exists failing_rows")
    return [
        (tenant, count, [key for key in keys if key is not None], _format_rows(names, shown.get(tenant, [])))
        for tenant, count, keys in counted
    ]


def _first_rows(con, code: str | None) -> str | None:
    """The first failing rows of a test whose rows carry no tenant, as _failing_rows shows them."""
    try:
        cursor = con.execute(f"select * from ({code}) as failing_rows limit {FAILING_ROWS_SHOWN}")
        return _format_rows([c[0] for c in cursor.description], cursor.fetchall()) or None
    except Exception:
        return None


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


def docs_dir() -> Path:
    return settings.dbt_work_dir() / "docs"


def docs(out: Path | None = None) -> tuple[DbtResult, bool]:
    """`make docs`: dbt's documentation site of the project into ``out`` (default CALLOPS_HOME/dbt/docs):
    ``static_index.html``, one file that opens offline (``index.html`` beside it needs a web server). Its
    overview page is dbt_project/models/overview.md; every model, column and KPI definition (the doc
    blocks of dbt_project/models/_kpis__docs.md) is in it.

    The catalog (column types, row counts) is read from the build warehouse when it has been built and no
    writer holds it. Otherwise (a fresh CALLOPS_HOME, a run going on) dbt compiles against a scratch
    database and writes an empty catalog: the build warehouse is never created or waited for. Returns
    dbt's result and whether the catalog is in.
    """
    out = out or docs_dir()
    generate = ("docs", "generate", "--static")
    if settings.build_db_path().exists():
        try:
            with warehouse.writer_lock(wait_seconds=0):
                return invoke(*generate, target=out), True
        except warehouse.LockBusy:
            pass
    scratch = out / "scratch.duckdb"  # one name: dbt's partial parse keeps working (the profile is unchanged)
    try:
        return invoke(*generate, "--empty-catalog", target=out, build_db=scratch), False
    finally:
        for leftover in (scratch, Path(f"{scratch}.wal")):
            leftover.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m callops.dbt", description="callops' dbt project, as make runs it")
    commands = parser.add_subparsers(dest="command", required=True)
    docs_command = commands.add_parser(
        "docs", help="generate dbt's documentation site: models, columns, tests, lineage and the KPI definitions"
    )
    docs_command.add_argument(
        "--out", type=Path, default=None, help="folder to write it to (default: CALLOPS_HOME/dbt/docs)"
    )
    args = parser.parse_args(argv)
    out = (args.out or docs_dir()).resolve()
    result, with_catalog = docs(out)
    if not result.success:
        print(f"dbt docs generate failed: {result.error or '; '.join(result.failures)}", file=sys.stderr)
        return 1
    print(f"dbt docs: {out / 'static_index.html'} (open it in a browser; it needs no server)")
    if not with_catalog:
        print(
            "  without column types and row counts: the build warehouse is not built yet, or a run holds it "
            "(run `make docs` again after `make run`)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
