{#
    One row per tenant x queue x loaded local day that has a forecast: the
    WAPE of the forecast offered stints and AHT over the day's intervals,
    beside the WAPE of the seasonal-naive baseline (same interval a week
    earlier). Both are measured on the same intervals: those where the
    method and the baseline both have a value (AHT: where the interval's
    actual AHT is known too). A partial day (macro is_day_complete) keeps
    its counts but has no error and no WAPE: the intervals its data has not
    reached yet count 0 calls, not the calls they will have.
#}
with

forecasts as (

    select * from {{ ref('int_queue_intervals_forecast') }}
    where not is_future

),

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

coverage as (

    select * from {{ ref('int_telephony_feeds_measured') }}

),

errors as (

    select
        tenant_id,
        queue_id,
        interval_date,
        forecast_offered_count is not null
        and naive_offered_count is not null as is_volume_compared,
        forecast_aht_seconds is not null
        and naive_aht_seconds is not null
        and actual_aht_seconds is not null as is_aht_compared,
        actual_offered_count,
        forecast_offered_count,
        abs(actual_offered_count - forecast_offered_count) as volume_error,
        abs(actual_offered_count - naive_offered_count) as naive_volume_error,
        actual_aht_seconds,
        abs(actual_aht_seconds - forecast_aht_seconds) as aht_error,
        abs(actual_aht_seconds - naive_aht_seconds) as naive_aht_error
    from forecasts

),

daily as (

    select
        tenant_id,
        queue_id,
        interval_date as forecast_date,
        count(*) filter (where is_volume_compared) as interval_count,
        -- sums of integers cast back to bigint: DuckDB's is a hugeint (int128),
        -- a type many BI drivers cannot read
        cast(
            sum(actual_offered_count) filter (where is_volume_compared) as bigint
        ) as actual_offered_count,
        sum(forecast_offered_count) filter (where is_volume_compared)
            as forecast_offered_count,
        sum(volume_error) filter (where is_volume_compared) as volume_absolute_error,
        cast(
            sum(naive_volume_error) filter (where is_volume_compared) as bigint
        ) as naive_volume_absolute_error,
        count(*) filter (where is_aht_compared) as aht_interval_count,
        sum(actual_aht_seconds) filter (where is_aht_compared) as actual_aht_seconds_sum,
        sum(aht_error) filter (where is_aht_compared) as aht_absolute_error,
        sum(naive_aht_error) filter (where is_aht_compared) as naive_aht_absolute_error
    from errors
    group by 1, 2, 3
    having count(*) filter (where is_volume_compared) > 0

),

completed as (

    select
        daily.*,
        {{ is_day_complete(
            'daily.forecast_date', 'tenants.timezone', 'tenants.interval_minutes',
            'coverage.last_event_at', 'coverage.last_delivery_date'
        ) }} as is_day_complete
    from daily
    left join tenants
        on daily.tenant_id = tenants.tenant_id
    left join coverage
        on daily.tenant_id = coverage.tenant_id

),

measured as (

    -- a partial day's errors compare a whole day's forecast with part of it
    select
        * replace (
            case when is_day_complete then volume_absolute_error end
                as volume_absolute_error,
            case when is_day_complete then naive_volume_absolute_error end
                as naive_volume_absolute_error,
            case when is_day_complete then aht_absolute_error end
                as aht_absolute_error,
            case when is_day_complete then naive_aht_absolute_error end
                as naive_aht_absolute_error
        )
    from completed

),

final as (

    select
        -- ids
        tenant_id,
        queue_id,

        -- dates
        forecast_date,

        -- numerics
        interval_count,
        actual_offered_count,
        forecast_offered_count,
        volume_absolute_error,
        naive_volume_absolute_error,
        {{ wape('volume_absolute_error', 'actual_offered_count') }} as volume_wape,
        {{ wape('naive_volume_absolute_error', 'actual_offered_count') }}
            as naive_volume_wape,
        aht_interval_count,
        actual_aht_seconds_sum,
        aht_absolute_error,
        naive_aht_absolute_error,
        {{ wape('aht_absolute_error', 'actual_aht_seconds_sum') }} as aht_wape,
        {{ wape('naive_aht_absolute_error', 'actual_aht_seconds_sum') }} as naive_aht_wape,

        -- booleans
        is_day_complete

    from measured

)

select * from final
