{#
    One row per tenant x queue x staffing interval of the interval grid (past
    and the 14 future days): the offered stints and AHT the forecast method
    gives, and the seasonal-naive baseline (the same interval a week
    earlier), each computed from earlier local days only (no leakage).

    Method (DECISIONLOG 2026-11-25 "Staffing"):
    - profile = mean offered count of the same weekday and local time of day
      over the previous six weeks (days before the interval's day; for a
      future day, the loaded days in that window);
    - level = offered stints of the 7 days before the day / the profile of
      those same 7 days, clamped to [0.5, 2] (1 without history); a future
      day uses the level of the day after the last loaded day;
    - forecast offered = profile x level;
    - forecast AHT = handle seconds / handled stints of the same weekday and
      time of day over the previous six weeks, else of the queue over the
      previous 28 days.
#}
with

grid as (

    select * from {{ ref('int_queue_intervals_gridded') }}

),

counts as (

    select * from {{ ref('int_queue_stints_bucketed_to_intervals') }}

),

series as (

    select
        grid.tenant_id,
        grid.queue_id,
        grid.interval_start_at,
        grid.interval_date,
        grid.day_number,
        grid.iso_weekday,
        grid.is_future,
        grid.last_loaded_date,
        date_diff('day', date '1970-01-01', grid.last_loaded_date) as last_day_number,
        cast(grid.interval_start_local as time) as interval_time_local,
        case when not grid.is_future then coalesce(counts.offered_count, 0) end
            as actual_offered_count,
        counts.handle_seconds as actual_handle_seconds,
        counts.handled_count as actual_handled_count,
        {{ safe_divide('counts.handle_seconds', 'counts.handled_count') }}
            as actual_aht_seconds
    from grid
    left join counts
        on
            grid.tenant_id = counts.tenant_id
            and grid.queue_id = counts.queue_id
            and grid.interval_start_at = counts.interval_start_at

),

profiled as (

    select
        *,
        avg(actual_offered_count) over same_slot as profile_offered_count,
        {{ safe_divide(
            'sum(actual_handle_seconds) over same_slot',
            'sum(actual_handled_count) over same_slot'
        ) }} as profile_aht_seconds,
        max(actual_offered_count) over week_before as naive_offered_count,
        {{ safe_divide(
            'sum(actual_handle_seconds) over week_before',
            'sum(actual_handled_count) over week_before'
        ) }} as naive_aht_seconds
    from series
    window
        same_slot as (
            partition by tenant_id, queue_id, iso_weekday, interval_time_local
            order by day_number
            range between 42 preceding and 1 preceding
        ),
        week_before as (
            partition by tenant_id, queue_id, iso_weekday, interval_time_local
            order by day_number
            range between 7 preceding and 7 preceding
        )

),

daily as (

    select
        tenant_id,
        queue_id,
        day_number,
        any_value(last_day_number) as last_day_number,
        sum(actual_offered_count) as actual_offered_count,
        sum(profile_offered_count) as profile_offered_count,
        sum(actual_handle_seconds) as actual_handle_seconds,
        sum(actual_handled_count) as actual_handled_count
    from profiled
    group by 1, 2, 3

),

daily_levels as (

    select
        *,
        case
            when day_number <= last_day_number + 1
                then {{ safe_divide(
                    'sum(case when profile_offered_count is not null then actual_offered_count end) over last_week',
                    'sum(case when actual_offered_count is not null then profile_offered_count end) over last_week'
                ) }}
        end as raw_level_factor,
        {{ safe_divide(
            'sum(actual_handle_seconds) over last_four_weeks',
            'sum(actual_handled_count) over last_four_weeks'
        ) }} as recent_aht_seconds
    from daily
    window
        last_week as (
            partition by tenant_id, queue_id
            order by day_number
            range between 7 preceding and 1 preceding
        ),
        last_four_weeks as (
            partition by tenant_id, queue_id
            order by day_number
            range between 28 preceding and 1 preceding
        )

),

carried as (

    select
        tenant_id,
        queue_id,
        day_number,
        coalesce(
            last_value(
                case
                    when raw_level_factor is not null
                        then least(greatest(raw_level_factor, 0.5), 2.0)
                end ignore nulls
            ) over (
                partition by tenant_id, queue_id
                order by day_number
                rows between unbounded preceding and current row
            ),
            1.0
        ) as level_factor,
        last_value(recent_aht_seconds ignore nulls) over (
            partition by tenant_id, queue_id
            order by day_number
            rows between unbounded preceding and current row
        ) as recent_aht_seconds
    from daily_levels

),

final as (

    select
        -- ids
        profiled.tenant_id,
        profiled.queue_id,

        -- numerics
        profiled.actual_offered_count,
        profiled.actual_aht_seconds,
        profiled.profile_offered_count * carried.level_factor as forecast_offered_count,
        coalesce(profiled.profile_aht_seconds, carried.recent_aht_seconds)
            as forecast_aht_seconds,
        profiled.naive_offered_count,
        profiled.naive_aht_seconds,
        carried.level_factor,

        -- booleans
        profiled.is_future,

        -- dates
        profiled.interval_date,

        -- timestamps
        profiled.interval_start_at

    from profiled
    inner join carried
        on
            profiled.tenant_id = carried.tenant_id
            and profiled.queue_id = carried.queue_id
            and profiled.day_number = carried.day_number

)

select * from final
