{#
    A data test decides per tenant (issue 19): its failing rows carry the
    tested model's `tenant_id`, so callops.dbt can tell which tenants a
    failure belongs to (one record per test and tenant), and the model's day
    column, so it can name their days. A failing row without a tenant (the
    model has none, or the row's is null) blocks every tenant.

    The project's generic tests (tests/generic/, which also override dbt's
    built-in unique, not_null, relationships and accepted_values) select
    failing_row_keys() beside what they report; those that select every
    column (expression_is_true, accepted_range) carry them already.
#}


{#
    The tested model's node in the graph (a dict; empty while dbt parses,
    and for a test without one: a singular test, `dbt show --inline`).
    Called from a generic test's body: there `model` is the tested
    relation, here it is the test node itself.
#}
{% macro tested_model_node() -%}
    {%- if not execute -%}
        {{ return({}) }}
    {%- endif -%}
    {{ return(graph.nodes.get(model.get('attached_node') or '', {})) }}
{%- endmacro %}


{#
    The tested model's columns that key its failing rows: `tenant_id` when
    the model documents one, then its day column when it has one: meta
    `day_column`, else its build window's `window_column` (a UTC date or
    timestamp: the partition a daily run rebuilds and its tests read).
    callops.dbt reads a failing row's day by the same rule (_day_column).
#}
{% macro failing_row_keys() -%}
    {%- set tested = tested_model_node() -%}
    {%- set meta = (tested.get('config') or {}).get('meta') or {} -%}
    {%- set keys = [] -%}
    {%- if 'tenant_id' in (tested.get('columns') or {}) -%}
        {%- do keys.append('tenant_id') -%}
    {%- endif -%}
    {%- set day = meta.get('day_column') or meta.get('window_column') -%}
    {%- if day and day not in keys -%}
        {%- do keys.append(day) -%}
    {%- endif -%}
    {{ return(keys) }}
{%- endmacro %}


{#
    SQL: the failing_row_keys() a test selects before its own columns, each
    followed by a comma (empty without keys). `exclude`: columns the test
    selects itself; `dated`: the day column cast to a date under its own
    name, for a test that groups its failing rows.
#}
{% macro failing_row_key_columns(exclude=[], dated=false) -%}
    {%- for key in failing_row_keys() if key not in exclude -%}
        {%- if dated and key != 'tenant_id' -%}
            cast({{ key }} as date) as {{ key }},{{ ' ' }}
        {%- else -%}
            {{ key }},{{ ' ' }}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}
