{{ config(
    materialized='incremental',
    incremental_strategy='window_overwrite',
    meta={'window_column': 'day_start_at'},
) }}
{#
    One row per tenant x agent x queue x UTC day on which the telephony
    feed shows the agent working the queue: a per-queue state change, or an
    answered inbound stint. The queues an agent can take come from these
    (int_agent_intervals_measured, with the roster's skills and the
    schedule's queues), so that model need not read every stint and state
    change of the history on each build.
    Incremental (macros/build_window.sql): a run recomputes the UTC days its
    deliveries touched.
#}
with

state_changes as (

    select
        tenant_id,
        agent_id,
        queue_id,
        event_at as seen_at
    from {{ ref('stg_telephony__agent_state_events') }}
    where
        queue_id is not null
        and {{ in_build_window('event_at') }}

),

answered_stints as (

    select
        tenant_id,
        agent_id,
        queue_id,
        entered_at as seen_at
    from {{ ref('stg_telephony__contacts') }}
    where
        direction = 'inbound'
        and outcome = 'answered'
        and agent_id is not null
        and queue_id is not null
        and {{ in_build_window('entered_at') }}

),

seen as (

    select * from state_changes
    union all
    select * from answered_stints

)

select
    -- ids
    tenant_id,
    agent_id,
    queue_id,

    -- timestamps (UTC)
    date_trunc('day', seen_at) as day_start_at

from seen
group by all
