{#
    One row per tenant x queue x staffing interval not yet complete (still
    filling, or not begun) on a loaded day: the rest of the day re-forecast
    from how the day has run so far (DECISIONLOG "Intraday reforecast").

    Method: the ratio of actuals to forecast so far, per queue. Over the
    day's complete intervals that have a forecast,
    - offered_ratio = offered stints / forecast offered stints (1 while
      nothing was forecast: no complete interval yet, or a forecast of 0);
    - aht_ratio = handle seconds / (forecast AHT x handled stints) of those
      that handled any (1 while none did).
    reforecast_offered_count = forecast_offered_count x offered_ratio;
    reforecast_aht_seconds = forecast_aht_seconds x aht_ratio. Null where
    the interval has no forecast (no same-weekday history).

    Complete (macro is_interval_complete): the tenant's loaded telephony
    has an event at or after the interval's end, or a later delivery day is
    loaded. Only a tenant's latest day can hold an interval not complete.
#}
with

grid as (

    select * from {{ ref('int_queue_intervals_gridded') }}
    where not is_future

),

counts as (

    select * from {{ ref('int_queue_stints_bucketed_to_intervals') }}

),

forecasts as (

    select * from {{ ref('int_queue_intervals_forecast') }}

),

reach as (

    select * from {{ ref('int_telephony_feeds_measured') }}

),

intervals as (

    select
        grid.tenant_id,
        grid.queue_id,
        grid.interval_date,
        grid.interval_start_at,
        coalesce(counts.offered_count, 0) as offered_count,
        counts.handle_seconds,
        coalesce(counts.handled_count, 0) as handled_count,
        forecasts.forecast_offered_count,
        forecasts.forecast_aht_seconds,
        {{ is_interval_complete(
            'grid.interval_end_at',
            'grid.interval_date',
            'reach.last_event_at',
            'reach.last_delivery_date'
        ) }} as is_interval_complete
    from grid
    left join reach
        on grid.tenant_id = reach.tenant_id
    left join counts
        on
            grid.tenant_id = counts.tenant_id
            and grid.queue_id = counts.queue_id
            and grid.interval_start_at = counts.interval_start_at
    left join forecasts
        on
            grid.tenant_id = forecasts.tenant_id
            and grid.queue_id = forecasts.queue_id
            and grid.interval_start_at = forecasts.interval_start_at

),

filling_days as (

    select distinct
        tenant_id,
        queue_id,
        interval_date
    from intervals
    where not is_interval_complete

),

so_far as (

    {# the complete intervals of a day still filling #}
    select
        intervals.tenant_id,
        intervals.queue_id,
        intervals.interval_date,
        sum(intervals.offered_count) filter (
            where intervals.forecast_offered_count is not null
        ) as offered_count,
        sum(intervals.forecast_offered_count) as forecast_offered_count,
        sum(intervals.handle_seconds) filter (
            where intervals.forecast_aht_seconds is not null and intervals.handled_count > 0
        ) as handle_seconds,
        sum(intervals.forecast_aht_seconds * intervals.handled_count) filter (
            where intervals.handle_seconds is not null and intervals.handled_count > 0
        ) as forecast_handle_seconds
    from intervals
    semi join filling_days
        using (tenant_id, queue_id, interval_date)
    where intervals.is_interval_complete
    group by 1, 2, 3

),

ratios as (

    select
        filling_days.tenant_id,
        filling_days.queue_id,
        filling_days.interval_date,
        coalesce(
            {{ safe_divide('so_far.offered_count', 'so_far.forecast_offered_count') }}, 1.0
        ) as offered_ratio,
        coalesce(
            {{ safe_divide('so_far.handle_seconds', 'so_far.forecast_handle_seconds') }}, 1.0
        ) as aht_ratio
    from filling_days
    left join so_far
        on
            filling_days.tenant_id = so_far.tenant_id
            and filling_days.queue_id = so_far.queue_id
            and filling_days.interval_date = so_far.interval_date

),

final as (

    select
        -- ids
        intervals.tenant_id,
        intervals.queue_id,

        -- numerics
        ratios.offered_ratio,
        ratios.aht_ratio,
        intervals.forecast_offered_count * ratios.offered_ratio as reforecast_offered_count,
        intervals.forecast_aht_seconds * ratios.aht_ratio as reforecast_aht_seconds,

        -- dates
        intervals.interval_date,

        -- timestamps
        intervals.interval_start_at

    from intervals
    inner join ratios
        on
            intervals.tenant_id = ratios.tenant_id
            and intervals.queue_id = ratios.queue_id
            and intervals.interval_date = ratios.interval_date
    where not intervals.is_interval_complete

)

select * from final
