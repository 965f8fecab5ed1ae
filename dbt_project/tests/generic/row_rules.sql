{#
    Fails with one row per rule that some rows break: the column it is about,
    the rule, and how many rows break it. `rules`: a list of {column, rule},
    each rule a boolean SQL expression on one row, read as expression_is_true
    reads it (false fails, a null result passes). A model-level test: one scan
    checks all of a model's row rules, where a test per rule would scan the
    table once per rule and cost dbt a node each (issue 6). A blank-text rule
    (not_blank) is written `c <> '' and c = trim(c)`, a range (accepted_range)
    `c between 0 and 1` or `c >= 0`, an enumeration (accepted_values)
    `c in ('a', 'b')`: a null c passes each of them, as it did those tests.
    So a boolean's `b in (true, false)` passes every row: its rule is when it
    may be null, e.g. `(b is null) = (rate is null)`.
    `not_null`: columns that must hold a value, each the rule `<c> is not
    null`, in the same scan and node.
    Give it `name: row_rules_<model>`: dbt would name it after all its rules,
    and a failed test's name heads its line in the run summary.
    The rows are counted per tenant and day of the model (failing_row_keys,
    macros/failing_rows.sql): one row per rule, tenant and day that break,
    in the same one scan.
#}
{% test row_rules(model, rules=[], not_null=[]) %}

{%- set required = [] -%}
{%- for column in not_null -%}
    {%- do required.append({'column': column, 'rule': column ~ ' is not null'}) -%}
{%- endfor -%}
{%- set rules = required + rules %}

with

broken_counts as (

    select
        {{ failing_row_key_columns(dated=true) }}
        {%- for rule in rules %}
        count(*) filter (where not ({{ rule['rule'] }})) as broken_rows_{{ loop.index }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ model }}
    {#- only the broken rows are grouped (none, mostly): the scan costs what an ungrouped count does #}
    where
        {%- for rule in rules %}
        not ({{ rule['rule'] }}){% if not loop.last %} or{% endif %}
        {%- endfor %}
    {%- if failing_row_keys() %}
    group by all
    {%- endif %}

),

broken_rules as (

    {%- for rule in rules %}
    select
        '{{ rule['column'] }}' as column_name,
        '{{ rule['rule'] | replace("'", "''") }}' as rule,
        {{ failing_row_key_columns() }}broken_rows_{{ loop.index }} as broken_rows
    from broken_counts
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

)

select * from broken_rules
where broken_rows > 0

{% endtest %}
