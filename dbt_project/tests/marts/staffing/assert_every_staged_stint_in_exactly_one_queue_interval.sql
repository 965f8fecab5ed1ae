{#
    Reconciliation of marts.fct_queue_intervals with staging: every inbound
    stint offered to a queue (stg_telephony__contacts, a configured tenant's)
    lies in exactly one interval of its tenant and queue, and each interval's
    offered_count is the number of its stints (and of its stints still
    waiting, waiting_count, which staging holds only once they end). A stint is looked up in the
    interval its entry's bucket names (macro interval_start_at), then checked
    by time: interval_start_at <= entered_at < interval_start_at +
    interval_minutes, with no interval of the queue overlapping the next.
    So an interval grid that misses, shifts or overlaps the buckets fails
    here, whatever the models' joins do.

    Fails with one row per interval (or bucket of stints without one) that
    breaks a rule: the rule and the counts.

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

stints_bucketed as (

    select
        stg_telephony__contacts.tenant_id,
        stg_telephony__contacts.queue_id,
        {{ interval_start_at(
            'stg_telephony__contacts.entered_at',
            'stg_config__tenants.interval_minutes'
        ) }} as interval_start_at,
        count(*) as stint_count,
        min(stg_telephony__contacts.entered_at) as first_entered_at,
        max(stg_telephony__contacts.entered_at) as last_entered_at
    from stg_telephony__contacts
    inner join stg_config__tenants
        on stg_telephony__contacts.tenant_id = stg_config__tenants.tenant_id
    where
        stg_telephony__contacts.direction = 'inbound'
        and stg_telephony__contacts.outcome <> 'ivr_contained'
        and stg_telephony__contacts.queue_id is not null
    group by 1, 2, 3

),

queue_intervals as (

    select
        tenant_id,
        queue_id,
        interval_start_at,
        interval_start_at + to_minutes(cast(interval_minutes as bigint))
            as interval_end_at,
        lead(interval_start_at) over (
            partition by tenant_id, queue_id order by interval_start_at
        ) as next_interval_start_at,
        offered_count - waiting_count as offered_count
    from fct_queue_intervals

),

matched as (

    select
        coalesce(queue_intervals.tenant_id, stints_bucketed.tenant_id) as tenant_id,
        coalesce(queue_intervals.queue_id, stints_bucketed.queue_id) as queue_id,
        coalesce(
            queue_intervals.interval_start_at, stints_bucketed.interval_start_at
        ) as interval_start_at,
        queue_intervals.interval_end_at,
        queue_intervals.next_interval_start_at,
        queue_intervals.offered_count,
        coalesce(stints_bucketed.stint_count, 0) as stint_count,
        stints_bucketed.first_entered_at,
        stints_bucketed.last_entered_at,
        queue_intervals.interval_start_at is not null as has_interval
    from queue_intervals
    full join stints_bucketed
        on
            queue_intervals.tenant_id = stints_bucketed.tenant_id
            and queue_intervals.queue_id = stints_bucketed.queue_id
            and queue_intervals.interval_start_at = stints_bucketed.interval_start_at
    where
        {# a bucket of stints is checked where its interval would be #}
        queue_intervals.interval_start_at is not null
        or {{ window_filter('stints_bucketed.interval_start_at', ranges) }}

),

failures as (

    select
        *,
        case
            when not has_interval
                then 'no interval of the queue holds these stints'
            when
                first_entered_at < interval_start_at
                or last_entered_at >= interval_end_at
                then 'stints counted in an interval that does not hold them'
            when next_interval_start_at < interval_end_at
                then 'overlaps the next interval of the queue'
            when (offered_count is distinct from stint_count)
                then 'offered_count is not the number of its stints and those still waiting'
        end as broken_rule
    from matched

)

select * from failures
where broken_rule is not null
