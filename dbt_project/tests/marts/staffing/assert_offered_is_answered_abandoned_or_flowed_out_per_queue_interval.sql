{#
    Reconciliation of marts.fct_queue_intervals with staging: in every
    interval, offered = answered + abandoned + flow-outs + still waiting
    (waiting_count), where the flow-outs
    are the interval's stints (stg_telephony__contacts, counted by the
    interval of their queue entry) that left the queue neither answered nor
    abandoned: timeout, exit_key, exit_empty, withdrawn or overflow
    (DECISIONLOG "How a contact counts"). A stint counted in no outcome, or
    in two, fails here.

    Fails with one row per interval where the sum differs, with the counts.
    A daily run checks the intervals of its build window
    (macros/build_window.sql); a full build checks every interval. Its rows
    name their tenant and, by interval_start_at, their UTC day (callops.dbt).
#}
{{ config(meta={'day_column': 'interval_start_at'}) }}
{%- set ranges = window_ranges_for({}) %}

with

stg_telephony__contacts as (

    select * from {{ ref('stg_telephony__contacts') }}
    {# the stints of the window's intervals: none enters a day before its interval #}
    where {{ window_filter('entered_at', ranges, after=1) }}

),

stg_config__tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

fct_queue_intervals as (

    select * from {{ ref('fct_queue_intervals') }}
    where {{ window_filter('interval_start_at', ranges) }}

),

flow_outs as (

    select
        stg_telephony__contacts.tenant_id,
        stg_telephony__contacts.queue_id,
        {{ interval_start_at(
            'stg_telephony__contacts.entered_at',
            'stg_config__tenants.interval_minutes'
        ) }} as interval_start_at,
        count(*) as flow_out_count
    from stg_telephony__contacts
    inner join stg_config__tenants
        on stg_telephony__contacts.tenant_id = stg_config__tenants.tenant_id
    where
        stg_telephony__contacts.direction = 'inbound'
        and stg_telephony__contacts.queue_id is not null
        and stg_telephony__contacts.outcome in (
            'timeout', 'exit_key', 'exit_empty', 'withdrawn', 'overflow'
        )
    group by 1, 2, 3

),

unbalanced_intervals as (

    select
        fct_queue_intervals.tenant_id,
        fct_queue_intervals.queue_id,
        fct_queue_intervals.interval_start_at,
        fct_queue_intervals.offered_count,
        fct_queue_intervals.answered_count,
        fct_queue_intervals.abandoned_count,
        fct_queue_intervals.waiting_count,
        coalesce(flow_outs.flow_out_count, 0) as flow_out_count
    from fct_queue_intervals
    left join flow_outs
        on
            fct_queue_intervals.tenant_id = flow_outs.tenant_id
            and fct_queue_intervals.queue_id = flow_outs.queue_id
            and fct_queue_intervals.interval_start_at = flow_outs.interval_start_at
    where
        fct_queue_intervals.offered_count
        is distinct from fct_queue_intervals.answered_count
        + fct_queue_intervals.abandoned_count
        + fct_queue_intervals.waiting_count
        + coalesce(flow_outs.flow_out_count, 0)

)

select * from unbalanced_intervals
