"""The project's own generic dbt tests (dbt_utils is not installable offline) have tests too."""

from __future__ import annotations

from callops import dbt, warehouse


def run_inline(sql: str) -> list[tuple]:
    from dbt.cli.main import dbtRunner

    warehouse.connect().close()
    try:
        outcome = dbtRunner().invoke(dbt.command("show", "--inline", sql, "--limit", "100"))
    finally:
        dbt._release_warehouse()
    assert outcome.success, outcome.exception
    return [tuple(row) for row in outcome.result.results[0].agate_table.rows]


def test_unique_combination_of_columns_reports_each_duplicate_key_once_nulls_included(home):
    model = "(select * from (values (1, null), (1, null), (2, 3), (2, 4), (5, 6), (5, 6), (5, 6)) as t(a, b))"
    failing = run_inline(
        "{{ test_unique_combination_of_columns(model='" + model + "', combination_of_columns=['a', 'b']) }}"
    )
    assert sorted(failing, key=str) == [(1, None, 2), (5, 6, 3)]
    assert run_inline(
        "{{ test_unique_combination_of_columns(model='(select 1 as a union all select 2)', combination_of_columns=['a']) }}"
    ) == []
