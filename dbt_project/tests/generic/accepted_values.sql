{#
    dbt's built-in accepted_values, overridden: fails with one row per value
    outside `values` and its count (nulls pass), as dbt's does, counted per
    tenant and day (macros/failing_rows.sql). `quote`: the values are text.
#}
{% test accepted_values(model, column_name, values, quote=true) %}

with

all_values as (

    select
        {{ failing_row_key_columns(dated=true) }}{{ column_name }} as value_field,
        count(*) as n_records
    from {{ model }}
    group by all

)

select * from all_values
where value_field not in (
    {%- for value in values %}
    {% if quote %}'{{ value | replace("'", "''") }}'{% else %}{{ value }}{% endif %}
    {%- if not loop.last %},{% endif %}
    {%- endfor %}
)

{% endtest %}
