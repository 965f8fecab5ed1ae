{#
    Fails with one row per listed column that holds nulls (its name and how
    many). A model-level test: one scan checks all of a model's required
    columns (row_rules with the rule `<column> is not null`), where a not_null
    test per column would scan the table once per column and cost dbt a node
    each (issue 6: ~25 ms per node, a daily run had ~460 of them).
#}
{% test not_null_columns(model, columns) %}

{%- set rules = [] -%}
{%- for column in columns -%}
    {%- do rules.append({'column': column, 'rule': column ~ ' is not null'}) -%}
{%- endfor %}

select column_name, broken_rows as null_rows
from ({{ test_row_rules(model, rules) }}) as broken_rules

{% endtest %}
