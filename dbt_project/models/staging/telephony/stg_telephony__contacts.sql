{{ config(
    materialized='incremental',
    incremental_strategy='window_overwrite',
    meta={'window_column': 'entered_at'},
) }}
{#
    One row per tenant x contact x queue stint (entered_at). A stint that was
    delivered in several files counts once: the latest version of the record
    (the source's own update time where it has one, e.g. Amazon Connect's
    LastUpdateTimestamp), then the latest delivery (day, file, line), wins.

    Asterisk queue_log stints are not loaded as rows (a call's events span
    files): dbt assembles them from the de-duplicated events
    (base_asterisk__queue_log_stints, same columns) and they are unioned here, so every
    contact source reaches the KPIs through this one model.

    Incremental (macros/build_window.sql): a run rebuilds the stints that
    entered on the UTC days its deliveries touched (every copy of a stint
    shares its entered_at, so its day).
#}
{#- a plain scan, read by each branch of one_row_per -#}
{%- set unioned -%}
    (
        select *
        from ({{ admitted(source('telephony', 'telephony_contacts')) }})
        where {{ in_build_window('entered_at') }}

        union all by name

        select * from {{ ref('base_asterisk__queue_log_stints') }}
        where {{ in_build_window('entered_at') }}
    )
{%- endset -%}

with

deduplicated as (

    select * from {{ one_row_per(
        unioned,
        ["tenant_id", "contact_id", "coalesce(queue_id, '')", "entered_at"],
        "source_updated_at desc nulls last, " ~ latest_delivered_first(),
    ) }}

),

renamed as (

    select
        -- ids
        tenant_id,
        contact_id,
        queue_id,
        agent_id,
        caller_id_hash,
        file_id,

        -- strings
        source_format,
        direction,
        outcome,
        segment,

        -- numerics (null where the format cannot express the figure)
        wait_seconds,
        talk_seconds,
        hold_seconds,
        after_call_work_seconds,

        -- booleans
        is_transferred,

        -- dates
        delivery_date,

        -- timestamps (UTC)
        entered_at,
        answered_at,
        ended_at,
        loaded_at

    from deduplicated

)

select * from renamed
{{ window_order('entered_at') }}
