"""Every described model column has a dbt data test (docs/internals.md "Conventions").

A column counts as tested when a data test attached to its model names it: a column-level
test (not_null, accepted_values, accepted_range, expression_is_true, ...) or a model-level
test that lists it (row_rules, unique_combination_of_columns), or, for a published mart, an expectation
of its Great Expectations gate suite (expectations/suites/: the marts' ranges are checked
there, not in dbt). Unit tests do not count: they check a formula on hand-made rows, not the
data of every build. A column no rule can hold (any value of its type, null too, is valid) says why
instead, in its ``meta: no_data_test``: a rule that passes every row (``x in (true, false)``, which
a null passes too) would only look like a test.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

import pytest
import yaml

from callops import dbt, settings, warehouse
from callops.quality import gate, suites


def columns_named_by_tests(manifest: dict) -> dict[str, set[str]]:
    """Model unique_id -> lower-cased names of the columns its data tests name."""
    named: dict[str, set[str]] = defaultdict(set)
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or not node.get("attached_node"):
            continue
        kwargs = (node.get("test_metadata") or {}).get("kwargs", {})
        columns = {
            node.get("column_name"),
            kwargs.get("column_name"),
            *(kwargs.get("combination_of_columns") or []),
            *(kwargs.get("not_null") or []),  # row_rules
            *(rule.get("column") for rule in kwargs.get("rules") or []),  # row_rules
        }
        named[node["attached_node"]] |= {column.lower() for column in columns if column}
    return named


def columns_named_by_gate_suites() -> dict[str, set[str]]:
    """Mart unique_id -> lower-cased names of the columns its gate suite checks."""
    return {
        f"model.callops.{module.TABLE}": {column.lower() for column in suites.checked_columns(suites.suite_of(module))}
        for module in gate.suite_modules()
    }


@pytest.mark.dbt
def test_every_described_column_has_a_data_test(home):
    warehouse.connect().close()
    parsed = dbt.invoke("parse")
    assert parsed.success, parsed.error
    manifest = json.loads((settings.dbt_work_dir() / "target" / "manifest.json").read_text())
    named = columns_named_by_tests(manifest)
    for unique_id, columns in columns_named_by_gate_suites().items():
        assert unique_id in manifest["nodes"], f"the gate suite of {unique_id} names no model"
        named[unique_id] |= columns
    models = [node for node in manifest["nodes"].values() if node["resource_type"] == "model"]
    assert len(models) > 30, "the project should have been parsed"
    # the check sees column-level tests, and a column only a grain test lists
    assert {"tenant_id", "kpi_date"} <= named["model.callops.rpt_daily_kpis"]
    assert "queue_id" in named["model.callops.int_handled_stints_dated"]
    untested = sorted(
        f"{node['original_file_path']}: {node['name']}.{name}"
        for node in models
        for name, column in node["columns"].items()
        if column["description"].strip()
        and name.lower() not in named[node["unique_id"]]
        and not str(column.get("meta", {}).get("no_data_test", "")).strip()
    )
    assert untested == [], "described but untested columns (a test, or meta no_data_test: why none):\n" + "\n".join(
        untested
    )


# A rule that every row passes: a boolean in (true, false) (null passes a row rule too), x is null or x is not null.
ALWAYS_TRUE = re.compile(
    r"^\s*(\w+) in \((true, false|false, true)\)\s*$|^\s*(\w+) is null or \3 is not null\s*$", re.IGNORECASE
)


def test_no_row_rule_passes_every_row():
    """Issue 17: row rules that could never fail were written to have a column tested; a column no
    rule can hold says so (meta no_data_test) instead."""
    always = []
    for path in sorted((settings.dbt_project_dir() / "models").rglob("_*__models.yml")):
        for model in yaml.safe_load(path.read_text()).get("models") or []:
            for test in model.get("data_tests") or []:
                if isinstance(test, dict) and "row_rules" in test:
                    for rule in test["row_rules"].get("arguments", {}).get("rules") or []:
                        if ALWAYS_TRUE.match(str(rule["rule"])):
                            always.append(f"{path.name}: {model['name']}: {rule['rule']}")
    assert always == [], "rules no row can break:\n" + "\n".join(always)


# Column tests of one row each: a model's are one row_rules test (issue 6).
ROW_RULE_TESTS = {"not_null", "not_blank", "expression_is_true", "accepted_range", "accepted_values"}


def test_one_row_column_tests_are_row_rules_unless_they_have_a_config_of_their_own():
    """Each data test node costs dbt ~30 ms whatever its SQL: a model's ranges, enumerations and other
    one-row rules are checked by its one row_rules test. A column test of those kinds stays only with a
    config of its own (a warn severity, a where), which row_rules cannot give one rule."""
    loose = []
    for path in sorted((settings.dbt_project_dir() / "models").rglob("_*__models.yml")):
        for model in yaml.safe_load(path.read_text()).get("models") or []:
            for column in model.get("columns") or []:
                for test in column.get("data_tests") or []:
                    name, body = (test, None) if isinstance(test, str) else next(iter(test.items()))
                    if name in ROW_RULE_TESTS and "config" not in (body or {}):
                        loose.append(f"{path.name}: {model['name']}.{column['name']} {name}")
    assert loose == [], "fold these into the model's row_rules:\n" + "\n".join(loose)
