{#
    Fails for every combination of the given columns that occurs more than
    once (a grain test for multi-column keys; dbt_utils is not installable
    offline). Nulls compare equal, so a null key part cannot hide a duplicate.
    Only the keys whose hash repeats are grouped by their values: a table of
    millions of unique keys is checked by grouping one integer per row.
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

{%- set key = combination_of_columns | join(', ') -%}

with

repeated as (

    {{ repeated_hashes(model, key) }}

),

grouped as (

    select
        {{ key }},
        count(*) as row_count
    from {{ model }}
    where hash({{ key }}) in (select identity_hash from repeated)
    group by all
    having count(*) > 1

)

select * from grouped

{% endtest %}
