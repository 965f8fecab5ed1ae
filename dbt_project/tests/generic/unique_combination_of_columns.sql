{#
    Fails for every combination of the given columns that occurs more than
    once (a grain test for multi-column keys; dbt_utils is not installable
    offline). Nulls compare equal, so a null key part cannot hide a duplicate.
    Only the keys whose hash repeats are grouped by their values: a table of
    millions of unique keys is checked by grouping one integer per row.
    A key without the model's tenant_id is counted per tenant (each tenant's
    rows of a repeated key), so each failing row names its tenant
    (macros/failing_rows.sql).
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

{%- set key = combination_of_columns | join(', ') -%}
{%- set by_tenant = 'tenant_id' in failing_row_keys()
    and 'tenant_id' not in combination_of_columns -%}

with

repeated as (

    {{ repeated_hashes(model, key) }}

),

grouped as (

    select
        {{ key }},
        {%- if by_tenant %}
        tenant_id,
        {%- endif %}
        count(*) as row_count
    from {{ model }}
    where hash({{ key }}) in (select identity_hash from repeated)
    group by all

),

repeated_keys as (

    select * from grouped
    {%- if by_tenant %}
    qualify sum(row_count) over (partition by {{ key }}) > 1
    {%- else %}
    where row_count > 1
    {%- endif %}

)

select * from repeated_keys

{% endtest %}
