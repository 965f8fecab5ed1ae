{#
    One row per tenant x queue x staffing interval (interval_start_at, UTC)
    over every local day from the tenant's first to its last loaded day
    (local date of the first and last queue entry), plus the 14 local days
    after the last loaded day (is_future). Days are cut at local midnight and
    the intervals stepped in UTC, so a spring-forward day has 46 and a
    fall-back day 50 half hours. Queues are those that were ever offered a
    stint.
#}
with

queue_intervals as (

    select * from {{ ref('int_queue_stints_bucketed_to_intervals') }}

),

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

queues as (

    select
        tenant_id,
        queue_id,
        min(first_entered_at) as first_entered_at,
        max(last_entered_at) as last_entered_at
    from queue_intervals
    group by 1, 2

),

tenant_spans as (

    select
        queues.tenant_id,
        any_value(tenants.timezone) as timezone,
        any_value(tenants.interval_minutes) as interval_minutes,
        cast(min({{ to_local('queues.first_entered_at', 'tenants.timezone') }}) as date)
            as first_date,
        cast(max({{ to_local('queues.last_entered_at', 'tenants.timezone') }}) as date)
            as last_date
    from queues
    inner join tenants
        on queues.tenant_id = tenants.tenant_id
    group by 1

),

days as (

    select
        tenant_id,
        timezone,
        interval_minutes,
        last_date,
        cast(
            unnest(generate_series(first_date, last_date + 14, interval 1 day))
            as date
        ) as interval_date
    from tenant_spans

),

day_bounds as (

    select
        *,
        timezone('UTC', timezone(timezone, cast(interval_date as timestamp)))
            as day_start_at,
        timezone('UTC', timezone(timezone, cast(interval_date + 1 as timestamp)))
            as day_end_at
    from days

),

intervals as (

    select
        tenant_id,
        timezone,
        interval_minutes,
        last_date,
        interval_date,
        unnest(
            range(day_start_at, day_end_at, to_minutes(cast(interval_minutes as bigint)))
        ) as interval_start_at
    from day_bounds

),

final as (

    select
        -- ids
        intervals.tenant_id,
        queues.queue_id,

        -- numerics
        intervals.interval_minutes,
        intervals.interval_minutes * 60 as interval_seconds,
        isodow(intervals.interval_date) as iso_weekday,
        date_diff('day', date '1970-01-01', intervals.interval_date) as day_number,

        -- booleans
        intervals.interval_date > intervals.last_date as is_future,

        -- dates
        intervals.interval_date,
        intervals.last_date as last_loaded_date,

        -- timestamps
        intervals.interval_start_at,
        intervals.interval_start_at
        + to_minutes(cast(intervals.interval_minutes as bigint)) as interval_end_at,
        {{ to_local('intervals.interval_start_at', 'intervals.timezone') }}
            as interval_start_local

    from intervals
    inner join queues
        on intervals.tenant_id = queues.tenant_id

)

select * from final
