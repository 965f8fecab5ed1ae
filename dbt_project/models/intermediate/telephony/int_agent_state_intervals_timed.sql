{#
    One row per tenant x agent x queue x state interval: the agent's state
    from one change (state_started_at) until the next change in the same
    queue (state_ended_at; null while the interval is still open).

    A change for all queues (queue_id null: PAUSEALL / UNPAUSEALL, agent
    logins without a queue) applies to every queue the agent has changes in;
    an agent with no per-queue changes at all keeps one all-queues timeline
    (queue_id null). Several changes at the same instant follow the source
    order (logged_in before the paused of an ADDMEMBER ... PAUSED); a repeated
    state at the same instant (a per-queue PAUSE and a PAUSEALL in the same
    second) is kept once.
#}
with

agent_state_events as (

    select * from {{ ref('stg_telephony__agent_state_events') }}

),

agent_queues as (

    select distinct
        tenant_id,
        agent_id,
        queue_id
    from agent_state_events
    where queue_id is not null

),

scoped as (

    {# changes for one queue #}
    select *
    from agent_state_events
    where queue_id is not null

    union all

    {# changes for all queues, applied to each of the agent's queues #}
    select agent_state_events.* replace (agent_queues.queue_id as queue_id)
    from agent_state_events
    inner join agent_queues
        on
            agent_state_events.tenant_id = agent_queues.tenant_id
            and agent_state_events.agent_id = agent_queues.agent_id
    where agent_state_events.queue_id is null

    union all

    {# agents with no per-queue changes: one all-queues timeline #}
    select agent_state_events.*
    from agent_state_events
    anti join agent_queues
        on
            agent_state_events.tenant_id = agent_queues.tenant_id
            and agent_state_events.agent_id = agent_queues.agent_id
    where agent_state_events.queue_id is null

),

distinct_changes as (

    select *
    from scoped
    qualify row_number() over (
        partition by
            tenant_id, agent_id, coalesce(queue_id, ''), event_at, state
        order by source_line, reason
    ) = 1

),

intervals as (

    select
        -- ids
        tenant_id,
        agent_id,
        queue_id,

        -- strings
        state,
        reason,
        source_format,

        -- timestamps (UTC)
        event_at as state_started_at,
        lead(event_at) over (
            partition by tenant_id, agent_id, coalesce(queue_id, '')
            order by
                event_at,
                source_line,
                case state when 'logged_in' then 0 else 1 end
        ) as state_ended_at
    from distinct_changes

),

measured as (

    select
        -- ids
        tenant_id,
        agent_id,
        queue_id,

        -- strings
        state,
        reason,
        source_format,

        -- numerics
        date_diff('millisecond', state_started_at, state_ended_at)
        / 1000.0 as state_seconds,

        -- timestamps (UTC)
        state_started_at,
        state_ended_at
    from intervals

)

select * from measured
