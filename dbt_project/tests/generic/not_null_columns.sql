{#
    Fails with one row per listed column that holds nulls (its name and how
    many). A model-level test: one scan checks all of a model's required
    columns, where a not_null test per column would scan the table once per
    column and cost dbt a node each (issue 6: ~25 ms per node, a daily run
    had ~460 of them).
#}
{% test not_null_columns(model, columns) %}

with

null_counts as (

    select
        {%- for column in columns %}
        count(*) filter (where {{ column }} is null) as null_rows_{{ loop.index }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ model }}

),

columns_with_nulls as (

    {%- for column in columns %}
    select '{{ column }}' as column_name, null_rows_{{ loop.index }} as null_rows
    from null_counts
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

)

select * from columns_with_nulls
where null_rows > 0

{% endtest %}
