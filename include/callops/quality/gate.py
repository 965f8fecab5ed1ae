"""Run the Great Expectations suites of ``expectations/suites/`` on the candidate marts.

One suite module per gated table (``expectations/suites/<table>.py``) exposing
``TABLE``, ``KEY_COLUMNS`` and its checks, declared or as ``build_suite(as_of)``
(callops.quality.suites). Candidates are read from
the build warehouse into small DataFrames (marts are aggregates) and validated
with an ephemeral context; results name the check, the severity and the keys
(tenant, day) of the failing rows.

The tenant is the unit of the gate: every check's outcome is given per tenant of
the candidate rows (``CheckResult.tenant_id``), from the failing rows' keys, so one
client's bad day holds back that client alone. A failing check whose rows name
no tenant (an expectation on the table as a whole) has ``tenant_id`` None and
holds back every tenant.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import duckdb

from callops import settings
from callops.quality import suites

MAX_KEYS_REPORTED = 10


TENANT_COLUMN = "tenant_id"  # every gated mart's first key and partition column


@dataclass
class CheckResult:
    table: str
    check: str
    column: str | None
    severity: str
    success: bool
    unexpected_count: int = 0
    failing_keys: list[str] = field(default_factory=list)
    notes: str | None = None
    tenant_id: str | None = None  # the tenant it decides for; None: every tenant (rows naming none)
    checked_by: str = "great_expectations"  # or "dbt" (a data test of the build)

    def describe(self) -> str:
        where = f" on {self.column}" if self.column else ""
        shown = self.failing_keys[:MAX_KEYS_REPORTED]
        more = len(self.failing_keys) - len(shown)
        keys = f" at {', '.join(shown)}" + (f" and {more} more" if more > 0 else "") if shown else ""
        why = f" ({self.notes})" if self.notes else ""
        return f"{self.table}: {self.check}{where} failed for {self.unexpected_count} row(s){keys}{why}"


def suite_modules(directory: Path | None = None) -> list[ModuleType]:
    directory = directory or settings.expectations_dir() / "suites"
    modules = []
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"callops_suites.{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
    return modules


def run_suite(module: ModuleType, frame, as_of: dt.date | None = None):
    """Validate one DataFrame against one suite module; GX's ExpectationSuiteValidationResult."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    suite = context.suites.add(suites.suite_of(module, as_of))
    batch_definition = (
        context.data_sources.add_pandas(f"candidate_{module.TABLE}")
        .add_dataframe_asset(module.TABLE)
        .add_batch_definition_whole_dataframe("candidate")
    )
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"gate_{module.TABLE}", data=batch_definition, suite=suite)
    )
    return validation.run(
        batch_parameters={"dataframe": frame},
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": list(module.KEY_COLUMNS)},
    )


def check_results(
    module: ModuleType, outcome, max_keys: int | None = MAX_KEYS_REPORTED, tenants: list[str] | None = None
) -> list[CheckResult]:
    """One CheckResult per expectation of a suite's validation result; with ``tenants`` (those of the
    validated rows), one per expectation and tenant, from the tenant column of its failing rows."""
    results = []
    for item in outcome.results:
        config = item.expectation_config
        meta = config.meta or {}
        detail = item.result or {}
        rows = detail.get("unexpected_index_list")
        common = {
            "table": module.TABLE,
            "check": config.type,
            "column": config.kwargs.get("column")
            or ("/".join(filter(None, [config.kwargs.get("column_A"), config.kwargs.get("column_B")])) or None),
            "severity": meta.get("severity", "blocking"),
            "notes": config.notes,
        }
        # every failing row names one of the validated tenants (a null tenant names none)
        attributable = tenants is not None and (
            item.success
            or (
                isinstance(rows, list)
                and all(isinstance(row, dict) and row.get(TENANT_COLUMN) in tenants for row in rows)
            )
        )
        if not attributable:
            keys = [_format_key(row, module.KEY_COLUMNS) for row in (rows or [])]
            results.append(
                CheckResult(
                    **common,
                    success=bool(item.success),
                    unexpected_count=int(detail.get("unexpected_count") or 0),
                    failing_keys=sorted(set(keys))[:max_keys],
                )
            )
            continue
        for tenant in tenants:
            mine = [row for row in (rows or []) if row[TENANT_COLUMN] == tenant]
            keys = [_format_key(row, module.KEY_COLUMNS) for row in mine]
            results.append(
                CheckResult(
                    **common,
                    success=not mine,
                    unexpected_count=len(mine),
                    failing_keys=sorted(set(keys))[:max_keys],
                    tenant_id=tenant,
                )
            )
    return results


def validate_frame(module: ModuleType, frame, as_of: dt.date | None = None) -> list[CheckResult]:
    """Validate one DataFrame against one suite module with an ephemeral GX context."""
    return check_results(module, run_suite(module, frame, as_of))


def _format_key(row: object, key_columns: list[str]) -> str:
    if isinstance(row, dict):
        parts = [str(row.get(column)) for column in key_columns]
        return " ".join(part[:10] if column.endswith("_date") else part for column, part in zip(key_columns, parts))
    return str(row)


PARTITIONS = "gate_partitions"


def pending_partitions(con: duckdb.DuckDBPyConnection) -> int:
    """Fill the temp table ``gate_partitions(tenant_id, partition_date)``: every tenant-day a load,
    a re-delivery or an accept changed since the gate last passed it (a failed gate leaves its
    days pending, so they are checked again until they pass). Returns how many there are."""
    con.execute(
        f"""
        create or replace temp table {PARTITIONS} as
        select distinct tenant_id, cast(unnest(generate_series(first_date, last_date, interval 1 day)) as date)
            as partition_date
        from ops.changed_partitions
        where validated_run_id is null
        """
    )
    return con.execute(f"select count(*) from {PARTITIONS}").fetchall()[0][0]


def candidate_frame(con: duckdb.DuckDBPyConnection, module: ModuleType):
    """The suite's table restricted to the pending partitions (the suite may add derived columns).

    ``PARTITION_GRAIN``: ``day`` (default), the rows whose date column (a UTC timestamp's date) is a
    pending day; ``month``, the rows of the months holding one; ``tenant``, every row of a tenant with
    one (a small table any change can reach, e.g. headcount from a roster snapshot)."""
    if hasattr(module, "candidate_sql"):
        return con.sql(module.candidate_sql(PARTITIONS)).df()
    tenant, day = module.PARTITION_COLUMNS
    grain = getattr(module, "PARTITION_GRAIN", "day")
    match = {
        "day": f"cast(candidate.{day} as date) = p.partition_date",
        "month": f"cast(candidate.{day} as date) = date_trunc('month', p.partition_date)",
        "tenant": "true",
    }[grain]
    sql = (
        f'select candidate.* from marts."{module.TABLE}" as candidate semi join {PARTITIONS} as p '
        f"on candidate.{tenant} = p.tenant_id and {match}"
    )
    return con.sql(sql).df()


@dataclass
class GateOutcome:
    partitions: int
    results: list[CheckResult]
    validations: list  # GX ExpectationSuiteValidationResult per suite, for Data Docs

    @property
    def blocking(self) -> list[CheckResult]:
        return blocking(self.results)

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.severity != "blocking"]


def blocking(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if not r.success and r.severity == "blocking"]


def validate_candidates(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None) -> GateOutcome:
    """Every suite on the pending partitions of its table: the gate's cost follows what changed (a
    table with no row there is not validated)."""
    partitions = pending_partitions(con)
    results, validations = [], []
    for module in suite_modules():
        frame = candidate_frame(con, module)
        if frame.empty:  # no row of this mart on the changed days (e.g. QA marts after a telephony day)
            continue
        outcome = run_suite(module, frame, as_of)
        validations.append(outcome)
        tenants = sorted(frame[TENANT_COLUMN].dropna().unique()) if TENANT_COLUMN in frame else None
        results.extend(check_results(module, outcome, max_keys=None, tenants=tenants))
    return GateOutcome(partitions, results, validations)
