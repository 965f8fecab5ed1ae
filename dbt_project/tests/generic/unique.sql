{#
    dbt's built-in unique, overridden: the column is unique across the
    whole model, as with dbt's (a value two tenants share fails both), but
    the test fails for every row whose value repeats, not once per value,
    so each failing row names its tenant and day (macros/failing_rows.sql).
    Nulls pass.
#}
{% test unique(model, column_name) %}

with

repeated_values as (

    select {{ column_name }} as unique_field
    from {{ model }}
    where {{ column_name }} is not null
    group by 1
    having count(*) > 1

),

repeated_rows as (

    select
        {{ failing_row_key_columns() }}{{ column_name }} as unique_field
    from {{ model }}
    where {{ column_name }} in (select unique_field from repeated_values)

)

select * from repeated_rows

{% endtest %}
