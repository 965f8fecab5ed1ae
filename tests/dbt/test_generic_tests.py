"""The project's own generic dbt tests (dbt_utils is not installable offline) have tests too."""

from __future__ import annotations

import pytest

from callops import dbt, warehouse

pytestmark = pytest.mark.dbt


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
        "{{ test_unique_combination_of_columns("
        "model='(select 1 as a union all select 2)', combination_of_columns=['a']) }}"
    ) == []


def test_accepted_range_fails_rows_outside_the_bounds_and_lets_nulls_pass(home):
    model = "(select * from (values (-0.1), (0.0), (0.5), (1.0), (1.2), (null)) as t(rate))"
    failing = run_inline(
        "{{ test_accepted_range(model='" + model + "', column_name='rate', min_value=0, max_value=1) }}"
    )
    assert sorted(float(row[0]) for row in failing) == [-0.1, 1.2]
    exclusive = run_inline(
        "{{ test_accepted_range(model='" + model + "', column_name='rate', min_value=0, inclusive=false) }}"
    )
    assert sorted(float(row[0]) for row in exclusive) == [-0.1, 0.0]
    assert run_inline("{{ test_accepted_range(model='" + model + "', column_name='rate', max_value=2) }}") == []


def test_interval_start_at_buckets_in_utc_so_a_fall_back_night_has_two_0230_intervals(home):
    rows = run_inline(
        "select strftime({{ interval_start_at('ts', 30) }}, '%H:%M') as start_at,"
        " strftime({{ to_local(interval_start_at('ts', 30), \"'Europe/Stockholm'\") }}, '%H:%M') as start_local"
        " from (values (timestamp '2026-10-25 00:40:00'), (timestamp '2026-10-25 01:10:00'),"
        " (timestamp '2026-10-25 01:59:59')) as t(ts) order by ts"
    )
    assert rows == [("00:30", "02:30"), ("01:00", "02:00"), ("01:30", "02:30")]


def test_expression_is_true_fails_rows_where_the_rule_is_false_and_lets_an_unknown_result_pass(home):
    model = "(select * from (values (1, 2), (3, 2), (2, 2), (null, 2)) as t(a, b))"
    assert run_inline("{{ test_expression_is_true(model='" + model + "', expression='a <= b') }}") == [(3, 2)]
    # a null contract written with `is null` catches the row a plain comparison lets through
    failing = run_inline(
        "{{ test_expression_is_true(model='" + model + "', expression='a is not null and a <= b') }}"
    )
    assert sorted(failing, key=str) == [(3, 2), (None, 2)]


def test_not_blank_fails_empty_and_padded_text_and_lets_nulls_pass(home):
    model = "(select * from (values ('a b'), (''), (' b'), ('c '), (null)) as t(name))"
    failing = run_inline('{{ test_not_blank(model="' + model + '", column_name="name") }}')
    assert sorted(row[0] for row in failing) == ["", " b", "c "]


def test_row_rules_not_null_names_each_column_holding_nulls_beside_the_broken_rules(home):
    """A model's required columns and its other rules in one row_rules test (one scan, one dbt node)."""
    model = "(select * from (values (1, null, 'x'), (null, null, 'y'), (3, 4, 'z')) as t(a, b, c))"
    rules = "[{'column': 'c', 'rule': \"c <> 'y'\"}]"
    failing = run_inline(
        '{{ test_row_rules(model="' + model + '", not_null=["a", "b", "c"], rules=' + rules + ") }}"
    )
    assert sorted(failing) == [("a", "a is not null", 1), ("b", "b is not null", 2), ("c", "c <> 'y'", 1)]
    assert run_inline('{{ test_row_rules(model="' + model + '", not_null=["c"]) }}') == []


def test_a_failed_data_test_reports_the_rows_it_found(home):
    """A model-level test names its failing column only in its rows: callops.dbt quotes them."""
    from types import SimpleNamespace

    warehouse.connect().close()
    node = SimpleNamespace(
        resource_type="test",
        name="row_rules_x",
        compiled_code="select * from (values ('agent_id', 3), ('queue_id', 1)) as t(column_name, broken_rows)",
    )
    found = dbt._failing_rows(SimpleNamespace(status="fail", node=node))
    assert found == "; found: column_name=agent_id, broken_rows=3 | column_name=queue_id, broken_rows=1"
    assert dbt._failing_rows(SimpleNamespace(status="error", node=node)) == ""


def test_one_row_per_keeps_the_first_copy_of_each_identity_and_every_single_row(home):
    """Identity (k, q) with nulls equal; the copy with the latest v wins; rows seen once pass as they are."""
    rows = (
        "(select * from (values (1, 'a', 1, 'old'), (1, 'a', 2, 'new'), (2, null, 1, 'x'), (2, null, 3, 'y'),"
        " (3, 'c', 1, 'only'), (4, 'a', 1, 'only')) as t(k, q, v, label))"
    )
    kept = run_inline(
        'select k, q, label from {{ one_row_per("' + rows + '", ["k", "q"], "v desc") }} as deduplicated order by k'
    )
    assert kept == [(1, "a", "new"), (2, None, "y"), (3, "c", "only"), (4, "a", "only")]


def test_row_rules_names_each_broken_rule_with_its_count_and_lets_an_unknown_result_pass(home):
    model = "(select * from (values (1, 2, 'a'), (3, 2, ' b'), (null, 2, ''), (4, 1, 'c')) as t(a, b, name))"
    rules = (
        '[{"column": "a", "rule": "a <= b"},'
        ' {"column": "name", "rule": "name <> \'\' and name = trim(name)"},'
        ' {"column": "b", "rule": "b > 0"}]'
    )
    failing = run_inline('{{ test_row_rules(model="' + model + '", rules=' + rules + ") }}")
    assert sorted(failing) == [("a", "a <= b", 2), ("name", "name <> '' and name = trim(name)", 2)]


def test_row_rules_fails_the_rows_accepted_range_and_accepted_values_failed_and_lets_nulls_pass(home):
    """The form the column tests were folded into row_rules in: the same rows fail, a null passes."""
    model = (
        "(select * from (values (-0.1, 'a'), (0.0, 'b'), (0.5, null), (1.0, 'c'), (1.2, 'a'), (null, 'd'))"
        " as t(rate, kind))"
    )
    rules = (
        '[{"column": "rate", "rule": "rate between 0 and 1"},'
        ' {"column": "rate", "rule": "rate > 0"},'
        ' {"column": "kind", "rule": "kind in (\'a\', \'b\')"}]'
    )
    failing = run_inline('{{ test_row_rules(model="' + model + '", rules=' + rules + ") }}")
    assert sorted(failing) == [
        ("kind", "kind in ('a', 'b')", 2),
        ("rate", "rate > 0", 2),
        ("rate", "rate between 0 and 1", 2),
    ]
    # the column tests they replace fail the same rows (accepted_values: one row per value)
    ranged = run_inline(
        '{{ test_accepted_range(model="' + model + '", column_name="rate", min_value=0, max_value=1) }}'
    )
    assert sorted(float(row[0]) for row in ranged) == [-0.1, 1.2]
    exclusive = run_inline(
        '{{ test_accepted_range(model="' + model + '", column_name="rate", min_value=0, inclusive=false) }}'
    )
    assert sorted(float(row[0]) for row in exclusive) == [-0.1, 0.0]
    values = run_inline(  # the project's accepted_values (tests/generic/, in place of dbt's built-in one)
        '{{ test_accepted_values("' + model + "\", 'kind', ['a', 'b']) }}"
    )
    assert sorted(values) == [("c", 1), ("d", 1)]


def test_a_build_drops_the_tables_and_views_no_model_builds_any_more(home):
    """A model renamed or removed (issue 17 renamed the intermediate ones) leaves no stale relation in
    the project's schemas after the next dbt build or run, a selected one too; the loaders' schemas
    and every model's relation stay, and a dbt test drops nothing."""
    stale = {"intermediate.int_staffing__agent_intervals", "marts.fct_retired", "staging.stg_retired"}

    def leave_stale_relations() -> None:
        with warehouse.connection() as con:
            for schema in ("staging", "intermediate", "marts"):
                con.execute(f"create schema if not exists {schema}")
            con.execute("create or replace table intermediate.int_staffing__agent_intervals as select 1 as n")
            con.execute("create or replace table marts.fct_retired as select 1 as n")
            con.execute("create or replace view staging.stg_retired as select 1 as n")
            con.execute("create or replace table raw.kept_by_the_loader as select 1 as n")

    def relations() -> set[str]:
        with warehouse.connection(read_only=True) as con:
            return {
                f"{schema}.{name}"
                for schema, name in con.execute(
                    "select schema_name, table_name from duckdb_tables() union all "
                    "select schema_name, view_name from duckdb_views() where not internal"
                ).fetchall()
            }

    warehouse.connect().close()
    leave_stale_relations()
    result = dbt.invoke("run", "--select", "stg_config__tenants")
    assert result.success and result.nodes == 1, result  # the clean-up hook is no node of the project
    after = relations()
    assert not stale & after
    assert {"raw.kept_by_the_loader", "staging.stg_config__tenants"} <= after
    leave_stale_relations()
    dbt.invoke("test", "--select", "stg_config__tenants")
    assert stale <= relations()
