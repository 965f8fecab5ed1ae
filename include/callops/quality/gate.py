"""Run the Great Expectations suites of ``expectations/suites/`` on the candidate marts.

One suite module per gated table (``expectations/suites/<table>.py``) exposing
``TABLE``, ``KEY_COLUMNS`` and ``build_suite(as_of)``. Candidates are read from
the build warehouse into small DataFrames (marts are aggregates) and validated
with an ephemeral context; results name the check, the severity and the keys
(tenant, day) of the failing rows.
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

MAX_KEYS_REPORTED = 10


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

    def describe(self) -> str:
        where = f" on {self.column}" if self.column else ""
        keys = f" at {', '.join(self.failing_keys)}" if self.failing_keys else ""
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


def validate_frame(module: ModuleType, frame, as_of: dt.date | None = None) -> list[CheckResult]:
    """Validate one DataFrame against one suite module with an ephemeral GX context."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    suite = context.suites.add(module.build_suite(as_of))
    batch_definition = (
        context.data_sources.add_pandas(f"candidate_{module.TABLE}")
        .add_dataframe_asset(module.TABLE)
        .add_batch_definition_whole_dataframe("candidate")
    )
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"gate_{module.TABLE}", data=batch_definition, suite=suite)
    )
    outcome = validation.run(
        batch_parameters={"dataframe": frame},
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": list(module.KEY_COLUMNS)},
    )
    results = []
    for item in outcome.results:
        config = item.expectation_config
        meta = config.meta or {}
        detail = item.result or {}
        keys = [_format_key(row, module.KEY_COLUMNS) for row in (detail.get("unexpected_index_list") or [])]
        results.append(
            CheckResult(
                table=module.TABLE,
                check=config.type,
                column=config.kwargs.get("column")
                or ("/".join(filter(None, [config.kwargs.get("column_A"), config.kwargs.get("column_B")])) or None),
                severity=meta.get("severity", "blocking"),
                success=bool(item.success),
                unexpected_count=int(detail.get("unexpected_count") or 0),
                failing_keys=sorted(set(keys))[:MAX_KEYS_REPORTED],
                notes=config.notes,
            )
        )
    return results


def _format_key(row: object, key_columns: list[str]) -> str:
    if isinstance(row, dict):
        parts = [str(row.get(column)) for column in key_columns]
        return " ".join(part[:10] if column.endswith("_date") else part for column, part in zip(key_columns, parts))
    return str(row)


def validate_candidates(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None) -> list[CheckResult]:
    results = []
    for module in suite_modules():
        frame = con.sql(f'select * from marts."{module.TABLE}"').df()
        results.extend(validate_frame(module, frame, as_of))
    return results
