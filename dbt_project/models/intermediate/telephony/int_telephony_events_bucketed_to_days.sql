{{ config(
    materialized='incremental',
    incremental_strategy='window_overwrite',
    meta={'window_column': 'event_date'},
) }}
{#
    One row per tenant per UTC date holding loaded telephony: the latest time
    among what the date holds, a queue_log line (any verb), an agent state
    change, or a contact stint's entry, answer or end (a stint is dated by
    its entry, so its end may fall on the next date). The grain
    int_telephony_feeds_measured reads a tenant's latest event from, without
    scanning every event of the history on each build.

    Incremental (macros/build_window.sql): a run recomputes the dates its
    deliveries touched from the staging rows of those dates (each staging
    model is windowed on the column that dates its rows here).
#}
with

queue_log_events as (

    select
        tenant_id,
        event_at
    from {{ ref('stg_asterisk__queue_log_events') }}
    where {{ in_build_window('event_at') }}

),

agent_state_events as (

    select
        tenant_id,
        event_at
    from {{ ref('stg_telephony__agent_state_events') }}
    where {{ in_build_window('event_at') }}

),

contacts as (

    select
        tenant_id,
        entered_at,
        answered_at,
        ended_at
    from {{ ref('stg_telephony__contacts') }}
    where {{ in_build_window('entered_at') }}

),

dated_events as (

    select
        tenant_id,
        cast(event_at as date) as event_date,
        event_at
    from queue_log_events
    union all
    select
        tenant_id,
        cast(event_at as date) as event_date,
        event_at
    from agent_state_events
    union all
    select
        tenant_id,
        cast(entered_at as date) as event_date,
        greatest(entered_at, answered_at, ended_at) as event_at
    from contacts

),

final as (

    select
        -- ids
        tenant_id,

        -- dates
        event_date,

        -- timestamps (UTC)
        max(event_at) as last_event_at

    from dated_events
    group by 1, 2

)

select * from final
