{#
    Fails for every combination of the given columns that occurs more than
    once (a grain test for multi-column keys; dbt_utils is not installable
    offline). Nulls compare equal, so a null key part cannot hide a duplicate.
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with

grouped as (

    select
        {{ combination_of_columns | join(', ') }},
        count(*) as row_count
    from {{ model }}
    group by all
    having count(*) > 1

)

select * from grouped

{% endtest %}
