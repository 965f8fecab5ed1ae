{{ config(
    materialized='incremental',
    incremental_strategy='window_overwrite',
    meta={'window_column': 'interval_start_at'},
) }}
{#
    One row per tenant x agent x staffing interval in which the agent handled
    contacts: the seconds of the interval spent on them. Handle time is talk
    + hold + after-call work of the agent's answered inbound stints, from the
    answer on (entry + wait when the answer time is not delivered), spread
    over the intervals it spans (int_agent_intervals_measured gives it to
    each of the agent's queues).

    Incremental (macros/build_window.sql): a run recomputes the intervals of
    the UTC days its deliveries touched, from the stints that entered on
    those days and the day before (handle time runs past midnight).
#}
with

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

answered_stints as (

    select * from {{ ref('stg_telephony__contacts') }}
    where
        direction = 'inbound'
        and outcome = 'answered'
        and agent_id is not null
        and {{ in_build_window('entered_at', before=1) }}

),

busy_periods as (

    select
        answered_stints.tenant_id,
        answered_stints.agent_id,
        tenants.interval_minutes,
        coalesce(
            answered_stints.answered_at,
            answered_stints.entered_at
            + to_milliseconds(cast(answered_stints.wait_seconds * 1000 as bigint))
        ) as busy_started_at,
        answered_stints.talk_seconds
        + coalesce(answered_stints.hold_seconds, 0)
        + coalesce(answered_stints.after_call_work_seconds, 0) as handle_seconds
    from answered_stints
    inner join tenants
        on answered_stints.tenant_id = tenants.tenant_id

),

busy_bounds as (

    select
        *,
        busy_started_at
        + to_milliseconds(cast(handle_seconds * 1000 as bigint)) as busy_ended_at
    from busy_periods
    where busy_started_at is not null and handle_seconds > 0

),

busy_buckets as (

    select
        *,
        {{ interval_starts_spanned(
            'busy_started_at', 'busy_ended_at', 'interval_minutes'
        ) }} as interval_start_at
    from busy_bounds

),

busy_by_agent as (

    select
        -- ids
        tenant_id,
        agent_id,

        -- numerics
        sum(
            date_diff(
                'millisecond',
                greatest(busy_started_at, interval_start_at),
                least(
                    busy_ended_at,
                    interval_start_at + to_minutes(cast(interval_minutes as bigint))
                )
            ) / 1000.0
        ) as busy_seconds,

        -- timestamps (UTC)
        interval_start_at

    from busy_buckets
    group by tenant_id, agent_id, interval_start_at

)

select * from busy_by_agent
where {{ in_build_window('interval_start_at') }}
