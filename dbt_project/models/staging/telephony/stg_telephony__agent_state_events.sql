{{ config(
    materialized='incremental',
    incremental_strategy='window_overwrite',
    meta={'window_column': 'event_at'},
) }}
{#
    One row per tenant per distinct agent state change (logged_in, ready,
    paused with a reason, logged_out), per queue or for all the agent's
    queues (queue_id null), from every format that carries agent states
    (Asterisk queue_log member and pause verbs, the callops agent-state CSV).

    The same change delivered in several files (overlapping log re-exports)
    counts once: a change is identified by tenant, agent, queue, state,
    reason and time; the copy of the latest delivery (day, file, line) is kept.

    Incremental (macros/build_window.sql): a table whose changed UTC days are
    rebuilt (copies of one change share its time, so its day), not a view
    re-deduplicating every change for each model and data test that reads it.
#}
with

agent_state_events as (

    select *
    from ({{ admitted(source('telephony', 'agent_state_events')) }})
    where {{ in_build_window('event_at') }}

),

deduplicated as (

    select *
    from agent_state_events
    qualify row_number() over (
        partition by
            tenant_id,
            agent_id,
            coalesce(queue_id, ''),
            state,
            coalesce(reason, ''),
            event_at
        order by {{ latest_delivered_first() }}
    ) = 1

),

renamed as (

    select
        -- ids
        tenant_id,
        agent_id,
        queue_id,
        file_id,

        -- strings
        source_format,
        state,
        reason,

        -- numerics
        source_line,

        -- dates
        delivery_date,

        -- timestamps (UTC)
        event_at,
        loaded_at

    from deduplicated

)

select * from renamed
