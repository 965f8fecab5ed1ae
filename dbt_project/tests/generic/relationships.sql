{#
    dbt's built-in relationships, overridden: fails for every row whose
    value is not in `field` of `to`, as dbt's does (nulls pass), and each
    failing row names its tenant and day (macros/failing_rows.sql).
#}
{% test relationships(model, column_name, to, field) %}

with

child as (

    select
        {{ failing_row_key_columns() }}{{ column_name }} as from_field
    from {{ model }}
    where {{ column_name }} is not null

),

parent as (

    select {{ field }} as to_field
    from {{ to }}

),

orphans as (

    select child.*
    from child
    left join parent
        on child.from_field = parent.to_field
    where parent.to_field is null

)

select * from orphans

{% endtest %}
