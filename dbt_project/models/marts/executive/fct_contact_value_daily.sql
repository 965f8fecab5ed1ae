{{ config(
    materialized='incremental',
    incremental_strategy='window_overwrite',
    unique_key=['tenant_id', 'contact_date'],
    meta={'window_column': 'contact_date', 'whole_when_changed': ['marketing']},
) }}
-- depends_on: {{ ref('stg_config__tenants') }} (fcr_reach_days)
{%- set reach = fcr_reach_days(90, 3) -%}
{#
    One row per tenant per local date per contact value tier (high_value,
    low_value, complex; int_contacts_valued): how many contacts of each tier
    came, how they were served and what they earned, so routing can expand
    high-value contacts, steer low-value ones to self-service and give complex
    ones a specialist desk (seed 003).
    Incremental (macros/build_window.sql): rebuilds the days whose contacts
    int_contacts_valued re-valued (the changed days and its reach after
    them); each rebuilt day replaces all its rows (unique_key).
#}
with

valued as (

    select * from {{ ref('int_contacts_valued') }}
    where {{ in_build_window('contact_date', after=reach) }}

),

contacts as (

    select * from {{ ref('int_contacts_rolled_up') }}
    where {{ in_build_window('contact_date', after=reach) }}

),

joined as (

    select
        valued.*,
        contacts.service_level_variant,
        contacts.is_offered,
        contacts.is_answered,
        contacts.is_abandoned,
        contacts.is_short_abandoned,
        contacts.is_answered_within_sl,
        contacts.is_abandoned_within_sl,
        contacts.is_ivr_contained
    from valued
    inner join contacts
        on
            valued.tenant_id = contacts.tenant_id
            and valued.contact_id = contacts.contact_id

),

counted as (

    select
        tenant_id,
        contact_date,
        value_tier,
        any_value(service_level_variant) as service_level_variant,
        count(*) as contact_count,
        count(*) filter (where is_offered) as offered_count,
        count(*) filter (where is_answered) as answered_count,
        count(*) filter (where is_abandoned) as abandoned_count,
        count(*) filter (where is_ivr_contained) as ivr_contained_count,
        {{ count_if_known('is_short_abandoned') }} as short_abandoned_count,
        {{ count_if_known('is_answered_within_sl') }}
            as answered_within_sl_count,
        {{ count_if_known('is_abandoned_within_sl') }}
            as abandoned_within_sl_count,
        avg(handle_seconds) filter (where is_answered) as aht_seconds,
        sum(current_revenue) as revenue,
        avg(value_score) as average_value_score
    from joined
    group by 1, 2, 3

),

final as (

    select
        -- ids
        tenant_id,

        -- strings
        value_tier,

        -- numerics
        contact_count,
        offered_count,
        answered_count,
        abandoned_count,
        ivr_contained_count,
        {{ safe_divide(
            'contact_count',
            'sum(contact_count) over (partition by tenant_id, contact_date)'
        ) }} as contact_share_rate,
        {{ answer_rate('answered_count', 'offered_count') }} as answer_rate,
        {{ service_level_rate(
            'service_level_variant',
            'answered_within_sl_count',
            'abandoned_within_sl_count',
            'short_abandoned_count',
            'answered_count',
            'offered_count'
        ) }} as service_level_rate,
        aht_seconds,
        revenue,
        average_value_score,

        -- dates
        contact_date

    from counted

)

select * from final
