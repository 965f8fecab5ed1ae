{#
    Every rate of marts.rpt_daily_kpis equals its formula (macros/kpis.sql)
    over the additive components the same row carries: what a period adds up
    (rpt_kpis_by_period) gives back the day's own rate for a period of one
    day. A rate computed another way (an average of contacts, a different
    filter) fails here.

    Fails with one row per tenant-day and rate that differ (null on one side
    only, or apart by more than 1e-9), with both values. A daily run checks
    the days of its build window (macros/build_window.sql); a full build
    checks every day.
#}
{{ config(meta={'day_column': 'kpi_date'}) }}
{%- set ranges = window_ranges_for({}) %}
{%- set recomputed = rates_from_components() %}

with

rpt_daily_kpis as (

    select * from {{ ref('rpt_daily_kpis') }}
    where {{ window_filter('kpi_date', ranges) }}

),

compared as (

    {%- for rate, formula in recomputed.items() %}
    select
        tenant_id,
        kpi_date,
        '{{ rate }}' as rate_name,
        {{ rate }} as published_value,
        {{ formula }} as recomputed_value
    from rpt_daily_kpis
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

)

select * from compared
where
    (published_value is null) <> (recomputed_value is null)
    or abs(published_value - recomputed_value) > 1e-9
