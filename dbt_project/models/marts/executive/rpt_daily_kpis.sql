{#
    One row per tenant per local date: the day's contact-centre KPIs, counted
    per contact (DOMAIN.md). Formulas live in macros/kpis.sql. A figure that
    needs the queue wait is null for a day with contacts whose format cannot
    express it (Asterisk CDR), never a guess.
#}
with

contacts as (

    select * from {{ ref('int_contacts_rolled_up') }}

),

counted as (

    select
        tenant_id,
        contact_date as kpi_date,
        any_value(service_level_variant) as service_level_variant,
        any_value(service_level_seconds) as service_level_seconds,
        count(*) filter (where is_offered) as offered_count,
        count(*) filter (where is_answered) as answered_count,
        count(*) filter (where is_abandoned) as abandoned_count,
        {{ count_if_known('is_short_abandoned') }} as short_abandoned_count,
        {{ count_if_known('is_answered_within_sl') }}
            as answered_within_sl_count,
        {{ count_if_known('is_abandoned_within_sl') }}
            as abandoned_within_sl_count,
        case
            when bool_or(is_ivr_visible)
                then count(*) filter (where is_ivr_contained)
        end as ivr_contained_count,
        case
            when bool_and(wait_seconds is not null) filter (where is_answered)
                then avg(wait_seconds) filter (where is_answered)
        end as asa_seconds,
        avg(handle_seconds) filter (where is_answered) as aht_seconds
    from contacts
    group by 1, 2

),

rated as (

    select
        -- ids
        tenant_id,

        -- strings
        service_level_variant,

        -- numerics
        offered_count,
        answered_count,
        abandoned_count,
        short_abandoned_count,
        answered_within_sl_count,
        abandoned_within_sl_count,
        ivr_contained_count,
        {{ answer_rate('answered_count', 'offered_count') }} as answer_rate,
        {{ service_level_rate(
            'service_level_variant',
            'answered_within_sl_count',
            'abandoned_within_sl_count',
            'short_abandoned_count',
            'answered_count',
            'offered_count'
        ) }} as service_level_rate,
        {{ abandon_rate(
            'abandoned_count', 'short_abandoned_count', 'offered_count'
        ) }} as abandon_rate,
        asa_seconds,
        aht_seconds,
        service_level_seconds,

        -- dates
        kpi_date

    from counted

),

final as (

    select
        tenant_id,
        kpi_date,
        offered_count,
        answered_count,
        abandoned_count,
        short_abandoned_count,
        answered_within_sl_count,
        answer_rate,
        service_level_rate,
        abandon_rate,
        asa_seconds,
        aht_seconds,
        abandoned_within_sl_count,
        ivr_contained_count,
        service_level_seconds,
        service_level_variant
    from rated

)

select * from final
