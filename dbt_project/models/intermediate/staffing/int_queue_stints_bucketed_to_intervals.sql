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
    A stint still waiting when the loaded data ends (an Asterisk queue_log
    ENTERQUEUE with no CONNECT, exit or end after it yet, on the tenant's
    latest day while that day is partial) counts as offered (waiting_count)
    with the wait it has had so far, up to the tenant's latest loaded event:
    never answered or abandoned; not answered within the service level once
    it has waited longer than service_level_seconds, undecided until then
    (waiting_within_sl_count). DECISIONLOG "Intervals as they fill". Other
    formats write a contact only once it has ended.
    VIP stints (macro is_vip_stint: segment 'vip' or a VIP queue) are also
    counted apart (vip_*), their within-SL flags by the tenant's stricter
    vip_service_level_seconds; a VIP caller still waiting is treated as the
    others, by that threshold (vip_waiting_within_sl_count).

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

queue_log_events as (

    select * from {{ ref('stg_asterisk__queue_log_events') }}
    where
        callid is not null
        and queue_id is not null
        and {{ in_build_window('event_at', before=1, after=1) }}

),

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

reach as (

    select * from {{ ref('int_telephony_feeds_measured') }}

),

partial_days as (

    {# the tenant's latest local day while it is partial: a stint may still wait #}
    select
        tenant_id,
        last_event_at,
        timezone('UTC', timezone(timezone, cast(local_date as timestamp))) as day_start_at
    from (
        select
            reach.tenant_id,
            reach.last_event_at,
            reach.last_delivery_date,
            tenants.timezone,
            tenants.interval_minutes,
            cast({{ to_local('reach.last_event_at', 'tenants.timezone') }} as date)
                as local_date
        from reach
        inner join tenants
            on reach.tenant_id = tenants.tenant_id
    ) as latest_days
    where not {{ is_day_complete(
        'local_date', 'timezone', 'interval_minutes', 'last_event_at', 'last_delivery_date'
    ) }}

),

call_queues as (

    {#
        The events of each call x queue on a partial day: its latest queue
        entry and whether anything ended that visit (as
        base_asterisk__queue_log_stints ends one; an AGENTDUMP only when
        nothing follows it)
    #}
    select
        queue_log_events.tenant_id,
        queue_log_events.callid,
        queue_log_events.queue_id,
        any_value(partial_days.last_event_at) as data_ends_at,
        max(queue_log_events.event_at) filter (
            where queue_log_events.event = 'ENTERQUEUE'
        ) as entered_at,
        max(queue_log_events.event_at) filter (
            where queue_log_events.event in (
                'CONNECT', 'COMPLETECALLER', 'COMPLETEAGENT', 'BLINDTRANSFER',
                'ATTENDEDTRANSFER', 'TRANSFER', 'ABANDON', 'EXITWITHTIMEOUT',
                'EXITWITHKEY', 'EXITEMPTY', 'WITHDRAW', 'SYSCOMPAT'
            )
        ) as ended_at,
        max(queue_log_events.event_at) filter (
            where queue_log_events.event = 'AGENTDUMP'
        ) as dumped_at,
        max(queue_log_events.event_at) as last_event_at
    from queue_log_events
    inner join partial_days
        on
            queue_log_events.tenant_id = partial_days.tenant_id
            and queue_log_events.event_at >= partial_days.day_start_at
    group by
        queue_log_events.tenant_id,
        queue_log_events.callid,
        queue_log_events.queue_id

),

waiting as (

    select
        tenant_id,
        queue_id,
        entered_at,
        date_diff('millisecond', entered_at, data_ends_at) / 1000.0 as wait_seconds
    from call_queues
    where
        entered_at is not null
        and coalesce(ended_at < entered_at, true)
        and not coalesce(dumped_at >= entered_at and dumped_at = last_event_at, false)
        and {{ in_build_window('entered_at') }}

),

flagged as (

    select
        contacts.tenant_id,
        contacts.queue_id,
        contacts.entered_at,
        {{ interval_start_at('contacts.entered_at', 'tenants.interval_minutes') }}
            as interval_start_at,
        contacts.wait_seconds,
        false as is_waiting,
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
        end as handle_seconds,
        false as is_waiting_within_sl,
        {{ is_vip_stint('contacts.segment', 'contacts.queue_id') }} as is_vip,
        case
            when contacts.outcome = 'abandoned'
                then contacts.wait_seconds <= tenants.vip_service_level_seconds
            else false
        end as is_abandoned_within_vip_sl,
        case
            when contacts.outcome = 'answered'
                then contacts.wait_seconds <= tenants.vip_service_level_seconds
            else false
        end as is_answered_within_vip_sl,
        false as is_waiting_within_vip_sl
    from contacts
    inner join tenants
        on contacts.tenant_id = tenants.tenant_id

    union all by name

    {# still waiting: a miss once past the threshold, undecided before #}
    select
        waiting.tenant_id,
        waiting.queue_id,
        waiting.entered_at,
        {{ interval_start_at('waiting.entered_at', 'tenants.interval_minutes') }}
            as interval_start_at,
        waiting.wait_seconds,
        true as is_waiting,
        false as is_answered,
        false as is_abandoned,
        false as is_short_abandoned,
        false as is_abandoned_within_sl,
        false as is_answered_within_sl,
        cast(null as double) as handle_seconds,
        waiting.wait_seconds <= tenants.service_level_seconds as is_waiting_within_sl,
        {# a queue_log names no segment: a waiting caller is VIP by its queue #}
        {{ is_vip_stint('null', 'waiting.queue_id') }} as is_vip,
        false as is_abandoned_within_vip_sl,
        false as is_answered_within_vip_sl,
        waiting.wait_seconds <= tenants.vip_service_level_seconds
            as is_waiting_within_vip_sl
    from waiting
    inner join tenants
        on waiting.tenant_id = tenants.tenant_id

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
        count(*) filter (where is_waiting) as waiting_count,
        count(*) filter (where is_waiting_within_sl) as waiting_within_sl_count,
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
        count(*) filter (where is_vip) as vip_offered_count,
        count(*) filter (where is_vip and is_answered) as vip_answered_count,
        count(*) filter (where is_vip and is_waiting_within_vip_sl)
            as vip_waiting_within_sl_count,
        {{ count_if_known('is_short_abandoned', 'is_vip') }}
            as vip_short_abandoned_count,
        {{ count_if_known('is_answered_within_vip_sl', 'is_vip') }}
            as vip_answered_within_sl_count,
        {{ count_if_known('is_abandoned_within_vip_sl', 'is_vip') }}
            as vip_abandoned_within_sl_count,

        -- timestamps
        interval_start_at,
        min(entered_at) as first_entered_at,
        max(entered_at) as last_entered_at

    from flagged
    group by tenant_id, queue_id, interval_start_at

)

select * from counted
