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
{%- set recomputed = {
    'answer_rate': answer_rate('answered_count', 'offered_count'),
    'service_level_rate': service_level_rate(
        'service_level_variant', 'answered_within_sl_count',
        'abandoned_within_sl_count', 'short_abandoned_count',
        'answered_count', 'offered_count'),
    'abandon_rate': abandon_rate(
        'abandoned_count', 'short_abandoned_count', 'offered_count'),
    'asa_seconds': asa_seconds('answered_wait_seconds_sum', 'answered_count'),
    'aht_seconds': aht_seconds('handle_seconds_sum', 'handled_count'),
    'vip_service_level_rate': service_level_rate(
        'service_level_variant', 'vip_answered_within_sl_count',
        'vip_abandoned_within_sl_count', 'vip_short_abandoned_count',
        'vip_answered_count', 'vip_offered_count'),
    'common_service_level_rate': common_service_level_rate(
        'answered_within_20s_count', 'abandoned_within_5s_count',
        'offered_count'),
    'csat_rate': csat_rate('csat_top_box_count', 'csat_response_count'),
    'qa_score': qa_score('qa_score_sum', 'qa_evaluation_count'),
    'fcr_rate': fcr_rate('fcr_resolved_count', 'fcr_contact_count'),
    'occupancy_rate': occupancy_rate(
        'occupancy_handle_seconds_sum', 'occupancy_idle_seconds_sum'),
} %}

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
