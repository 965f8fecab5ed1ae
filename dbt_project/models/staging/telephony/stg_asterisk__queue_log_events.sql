{{ config(
    materialized='incremental',
    incremental_strategy='window_overwrite',
    meta={'window_column': 'event_at'},
) }}
{#
    One row per tenant per distinct Asterisk queue_log event (every verb:
    call, member, pause, system and custom lines), de-duplicated across
    delivered files.

    Logs rotate at arbitrary times and are re-exported with overlap, so the
    same event can arrive in several files: an event is identified by its full
    content (tenant, time, callid, queue, agent, verb and every data field)
    and counts once, wherever and however often it was delivered. The copy of
    the latest delivery is kept (its delivery day, file and line).

    Incremental (macros/build_window.sql): a run rebuilds the UTC days its
    deliveries touched; copies of one event share its time, so its day.

    Typed at load (callops.load.queue_log): times in UTC, queue_log's NONE as
    null, the queue wait / talk / ring time picked out of each verb's data
    fields (RINGNOANSWER's ring time converted from milliseconds), the caller
    number of ENTERQUEUE pseudonymised. The clear caller number and name
    (data2, data4 of ENTERQUEUE) are not selected here.
#}
{%- set queue_log_events -%}
    (
        select *
        from ({{ admitted(source('telephony', 'queue_log_events')) }})
        where {{ in_build_window('event_at') }}
    )
{%- endset -%}

with

deduplicated as (

    {#- an event's identity: its whole content -#}
    select * from {{ one_row_per(
        queue_log_events,
        ["tenant_id", "event_at", "coalesce(callid, '')", "coalesce(queue_id, '')",
         "coalesce(agent, '')", "event", "coalesce(data, '')"],
        latest_delivered_first(),
    ) }}

),

renamed as (

    select
        -- ids
        tenant_id,
        callid,
        queue_id,
        agent as agent_id,
        file_id,

        -- strings
        event,
        source_layout,
        data1,
        case when event = 'ENTERQUEUE' then null else data2 end as data2,
        data3,
        case when event = 'ENTERQUEUE' then null else data4 end as data4,
        data5,
        case when event = 'ENTERQUEUE' then null else data end as data,
        caller_id_hash,

        -- numerics
        source_line,
        wait_seconds,
        talk_seconds,
        ring_seconds,

        -- dates
        delivery_date,

        -- timestamps (UTC)
        event_at,
        loaded_at

    from deduplicated

)

select * from renamed
