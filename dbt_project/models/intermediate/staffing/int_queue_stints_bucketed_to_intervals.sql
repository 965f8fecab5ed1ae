{{ config(
    materialized='incremental',
    incremental_strategy='window_overwrite',
    meta={'window_column': 'interval_start_at'},
) }}
{#
    One row per tenant x queue x staffing interval that holds at least one
    inbound queue stint: the stints counted by the interval of their queue
    entry (docs/domain.md: queue-interval figures count stints; a contact that
    overflows from A to B is offered to both). Each stint's own wait decides
    its wait-based flags; a count that needs an unknown wait is null
    (count_if_known), never a partial count.
    Incremental (macros/build_window.sql): a run recounts the intervals of
    the UTC days its deliveries touched.
#}
with

contacts as (

    select * from {{ ref('stg_telephony__contacts') }}
    where
        direction = 'inbound'
        and outcome <> 'ivr_contained'
        and queue_id is not null
        and {{ in_build_window('entered_at') }}

),

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

flagged as (

    select
        contacts.tenant_id,
        contacts.queue_id,
        contacts.entered_at,
        {{ interval_start_at('contacts.entered_at', 'tenants.interval_minutes') }}
            as interval_start_at,
        contacts.wait_seconds,
        contacts.outcome = 'answered' as is_answered,
        contacts.outcome = 'abandoned' as is_abandoned,
        case
            when contacts.outcome = 'abandoned'
                then contacts.wait_seconds < tenants.short_abandon_seconds
            else false
        end as is_short_abandoned,
        case
            when contacts.outcome = 'abandoned'
                then contacts.wait_seconds <= tenants.service_level_seconds
            else false
        end as is_abandoned_within_sl,
        case
            when contacts.outcome = 'answered'
                then contacts.wait_seconds <= tenants.service_level_seconds
            else false
        end as is_answered_within_sl,
        case
            when contacts.outcome = 'answered'
                then
                    contacts.talk_seconds
                    + coalesce(contacts.hold_seconds, 0)
                    + coalesce(contacts.after_call_work_seconds, 0)
        end as handle_seconds
    from contacts
    inner join tenants
        on contacts.tenant_id = tenants.tenant_id

),

counted as (

    select
        -- ids
        tenant_id,
        queue_id,

        -- numerics
        count(*) as offered_count,
        count(*) filter (where is_answered) as answered_count,
        count(*) filter (where is_abandoned) as abandoned_count,
        {{ count_if_known('is_short_abandoned') }} as short_abandoned_count,
        {{ count_if_known('is_answered_within_sl') }} as answered_within_sl_count,
        {{ count_if_known('is_abandoned_within_sl') }} as abandoned_within_sl_count,
        case
            when bool_and(wait_seconds is not null) filter (where is_answered)
                then avg(wait_seconds) filter (where is_answered)
        end as asa_seconds,
        -- total time every stint spent waiting (answered, abandoned, timed
        -- out ...): the exposure of the patience estimate; null if any is unknown
        case
            when bool_and(wait_seconds is not null) then sum(wait_seconds)
        end as waiting_seconds,
        sum(handle_seconds) filter (where is_answered) as handle_seconds,
        count(handle_seconds) filter (where is_answered) as handled_count,

        -- timestamps
        interval_start_at,
        min(entered_at) as first_entered_at,
        max(entered_at) as last_entered_at

    from flagged
    group by tenant_id, queue_id, interval_start_at

)

select * from counted
