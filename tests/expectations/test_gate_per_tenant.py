"""The gate's results per tenant: one validation of every tenant's changed rows, split by the tenant of
each failing row; a failure whose rows name no tenant holds back every tenant."""

from __future__ import annotations

import types

import great_expectations as gx
import pandas as pd
import pytest

from callops.quality import gate, suites

pytestmark = pytest.mark.gx


def module(*expectations) -> types.ModuleType:
    suite = types.ModuleType("suite_under_test")
    suite.TABLE = "rpt_daily_kpis"
    suite.KEY_COLUMNS = ["tenant_id", "kpi_date"]
    suite.build_suite = lambda as_of=None: gx.ExpectationSuite(name="rpt_daily_kpis", expectations=list(expectations))
    return suite


FRAME = pd.DataFrame({
    "tenant_id": ["a", "a", "b", "b"],
    "kpi_date": pd.to_datetime(["2026-03-02", "2026-03-03", "2026-03-02", "2026-03-03"]),
    "offered_count": [10, 10, 10, 10],
    "answered_count": [5, 12, 4, 13],  # a: one day answered > offered; b: one too
    "answer_rate": [0.5, 0.4, 1.7, 0.3],  # b: one rate above 1
})


def results(*expectations, frame=FRAME) -> list[gate.CheckResult]:
    suite = module(*expectations)
    tenants = sorted(frame["tenant_id"].dropna().unique())
    return gate.check_results(suite, gate.run_suite(suite, frame), max_keys=None, tenants=tenants)


def test_each_tenant_gets_its_own_result_from_its_failing_rows():
    found = results(
        *suites.ranges(rates=["answer_rate"]),
        *suites.subsets([("offered_count", "answered_count")]),
    )
    assert [(r.check, r.tenant_id, r.success, r.unexpected_count, r.failing_keys) for r in found] == [
        ("expect_column_values_to_be_between", "a", True, 0, []),
        ("expect_column_values_to_be_between", "b", False, 1, ["b 2026-03-02"]),
        ("expect_column_pair_values_a_to_be_greater_than_b", "a", False, 1, ["a 2026-03-03"]),
        ("expect_column_pair_values_a_to_be_greater_than_b", "b", False, 1, ["b 2026-03-03"]),
    ]
    assert [r.describe() for r in gate.blocking(found)][0].startswith(
        "rpt_daily_kpis: expect_column_values_to_be_between on answer_rate failed for 1 row(s) at b 2026-03-02"
    )


def test_a_failure_naming_no_tenant_holds_back_every_tenant():
    frame = FRAME.assign(tenant_id=["a", "a", None, "b"])  # a failing row without its tenant
    found = results(*suites.ranges(rates=["answer_rate"]), frame=frame)
    assert [(r.tenant_id, r.success, r.unexpected_count) for r in found] == [(None, False, 1)]
    # a table-level expectation gives no failing rows at all
    found = results(gx.expectations.ExpectTableRowCountToBeBetween(max_value=2, meta=suites.BLOCKING))
    assert [(r.tenant_id, r.success) for r in found] == [(None, False)]
