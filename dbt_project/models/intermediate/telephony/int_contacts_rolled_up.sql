{{ config(
    materialized='incremental',
    incremental_strategy='window_overwrite',
    meta={'window_column': 'first_entered_at'},
) }}
{#
    One row per tenant x inbound contact: its stints rolled up into the facts
    the tenant-day KPIs count (docs/domain.md "How each contact counts").
    - A contact is offered once to the tenant, however many queues it visited.
    - It is answered when any stint was answered; otherwise its last stint's
      outcome decides (abandoned, timeout, ...).
    - Its wait is the queue time until the first answer (all stints before and
      including the answered one), or all queue time when never answered.
    - It is dated by the tenant-local date of its first queue entry.
    - Contained in the IVR (never queued): not offered, counted apart.
    - Outbound contacts are excluded (outbound figures are apart).
    - VIP: any stint with segment 'vip' or in a queue whose id contains
      'vip'; its within-SL flags also use the tenant's stricter VIP T.
    Incremental (macros/build_window.sql): a run rebuilds the contacts that
    first entered on the UTC days its deliveries touched, from their stints
    on those days and one day either side.
#}
with

contacts as (

    select * from {{ ref('stg_telephony__contacts') }}
    where
        direction = 'inbound'
        and {{ in_build_window('entered_at', before=1, after=1) }}

),

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

first_answers as (

    select
        *,
        min(entered_at) filter (where outcome = 'answered') over (
            partition by tenant_id, contact_id
        ) as first_answered_stint_at
    from contacts

),

rolled_up as (

    select
        tenant_id,
        contact_id,
        bool_or(outcome <> 'ivr_contained') as is_queued,
        bool_or(outcome = 'answered') as is_answered,
        arg_max(outcome, entered_at) filter (
            where outcome <> 'ivr_contained'
        ) as last_queue_outcome,
        count(*) filter (where outcome <> 'ivr_contained') as stint_count,
        -- an Asterisk queue_log only logs calls that reached a queue: a day
        -- known only from it cannot tell how many calls the IVR contained
        bool_or(source_format is distinct from 'asterisk_queue_log')
            as is_ivr_visible,
        -- VIP: the source says so (segment), or the contact queued in a VIP
        -- queue (formats without a segment route VIPs to their own queue)
        bool_or({{ is_vip_stint('segment', 'queue_id') }}) as is_vip,
        -- null when any counted stint's wait is unknown (a format without
        -- queue wait, e.g. Asterisk CDR): never a partial sum
        case
            when
                bool_and(wait_seconds is not null) filter (
                    where outcome <> 'ivr_contained'
                    and (
                        first_answered_stint_at is null
                        or entered_at <= first_answered_stint_at
                    )
                )
                then sum(wait_seconds) filter (
                    where outcome <> 'ivr_contained'
                    and (
                        first_answered_stint_at is null
                        or entered_at <= first_answered_stint_at
                    )
                )
        end as wait_seconds,
        sum(
            talk_seconds
            + coalesce(hold_seconds, 0)
            + coalesce(after_call_work_seconds, 0)
        ) filter (where outcome = 'answered') as handle_seconds,
        min(entered_at) filter (
            where outcome <> 'ivr_contained'
        ) as first_queued_at,
        min(entered_at) as first_entered_at,
        max(caller_id_hash) as caller_id_hash,
        -- the agent of the last answered stint: the one who closed it
        arg_max(agent_id, entered_at) filter (
            where outcome = 'answered' and agent_id is not null
        ) as closing_agent_id,
        coalesce(bool_or(is_transferred), false) as is_transferred
    from first_answers
    group by 1, 2

),

classified as (

    select
        -- ids
        rolled_up.tenant_id,
        rolled_up.contact_id,
        rolled_up.caller_id_hash,
        rolled_up.closing_agent_id,

        -- strings
        case
            when rolled_up.is_answered then 'answered'
            when rolled_up.is_queued then rolled_up.last_queue_outcome
            else 'ivr_contained'
        end as contact_outcome,
        tenants.service_level_variant,

        -- numerics
        rolled_up.stint_count,
        rolled_up.wait_seconds,
        rolled_up.handle_seconds,
        tenants.service_level_seconds,
        tenants.short_abandon_seconds,
        tenants.vip_service_level_seconds,

        -- booleans
        rolled_up.is_queued as is_offered,
        rolled_up.is_vip,
        rolled_up.is_answered,
        rolled_up.is_transferred,
        not rolled_up.is_queued as is_ivr_contained,
        rolled_up.is_ivr_visible,
        (
            rolled_up.is_queued
            and not rolled_up.is_answered
            and rolled_up.last_queue_outcome = 'abandoned'
        ) as is_abandoned,

        -- timestamps
        coalesce(
            rolled_up.first_queued_at, rolled_up.first_entered_at
        ) as first_entered_at,
        {{ to_local(
            'coalesce(rolled_up.first_queued_at, rolled_up.first_entered_at)',
            'tenants.timezone'
        ) }} as first_entered_at_local

    from rolled_up
    inner join tenants
        on rolled_up.tenant_id = tenants.tenant_id

),

flagged as (

    select
        -- ids
        tenant_id,
        contact_id,
        caller_id_hash,
        closing_agent_id,

        -- strings
        contact_outcome,
        service_level_variant,

        -- numerics
        stint_count,
        wait_seconds,
        handle_seconds,
        service_level_seconds,
        short_abandon_seconds,
        vip_service_level_seconds,

        -- booleans
        is_offered,
        is_vip,
        is_answered,
        is_transferred,
        is_ivr_contained,
        is_ivr_visible,
        is_abandoned,
        -- wait-based flags are null when the wait is unknown
        case
            when is_abandoned then wait_seconds < short_abandon_seconds
            else false
        end as is_short_abandoned,
        case
            when is_abandoned then wait_seconds <= service_level_seconds
            else false
        end as is_abandoned_within_sl,
        case
            when is_answered then wait_seconds <= service_level_seconds
            else false
        end as is_answered_within_sl,
        -- the VIP segment's own, stricter T
        case
            when is_abandoned then wait_seconds <= vip_service_level_seconds
            else false
        end as is_abandoned_within_vip_sl,
        case
            when is_answered then wait_seconds <= vip_service_level_seconds
            else false
        end as is_answered_within_vip_sl,

        -- dates
        cast(first_entered_at_local as date) as contact_date,

        -- timestamps
        first_entered_at,
        first_entered_at_local

    from classified

)

select * from flagged
where {{ in_build_window('first_entered_at') }}
{{ window_order('first_entered_at') }}
