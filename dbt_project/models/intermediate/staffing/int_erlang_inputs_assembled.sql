{#
    One row per tenant x queue x staffing interval of the interval grid: what
    the Erlang staffing of the interval is computed from (the Python model
    int_queue_intervals_staffed adds the agents).
    - Past intervals: the stints actually offered and their AHT (the forecast
      AHT when nothing was handled). Future intervals: the forecast.
    - Caller patience: total waiting time of every stint / abandoned stints
      of the queue over the 28 local days ending on the interval's day (a
      future day: ending on the last loaded day); null when any wait in the
      window is unknown or nobody abandoned.
    - Shrinkage: the tenant's measured shrinkage (paid time not available /
      paid time) over the same 28 days, else its planned_shrinkage_rate.
    - Target: the tenant's service_level_target within service_level_seconds.
    - Reforecast (intervals not complete yet, int_queue_intervals_reforecast):
      the reforecast offered stints and AHT, with the same patience,
      shrinkage and target.
#}
with

grid as (

    select * from {{ ref('int_queue_intervals_gridded') }}

),

counts as (

    select * from {{ ref('int_queue_stints_bucketed_to_intervals') }}

),

forecasts as (

    select * from {{ ref('int_queue_intervals_forecast') }}

),

reforecasts as (

    select * from {{ ref('int_queue_intervals_reforecast') }}

),

agent_intervals as (

    select * from {{ ref('int_agent_intervals_measured') }}

),

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

queue_days as (

    select
        grid.tenant_id,
        grid.queue_id,
        grid.day_number,
        any_value(grid.is_future) as is_future,
        sum(counts.abandoned_count) as abandoned_count,
        sum(counts.waiting_seconds) as waiting_seconds,
        bool_and(counts.offered_count is null or counts.waiting_seconds is not null)
            as is_wait_known
    from grid
    left join counts
        on
            grid.tenant_id = counts.tenant_id
            and grid.queue_id = counts.queue_id
            and grid.interval_start_at = counts.interval_start_at
    group by 1, 2, 3

),

queue_patience as (

    select
        tenant_id,
        queue_id,
        day_number,
        last_value(
            case when not is_future then patience_seconds end ignore nulls
        ) over (
            partition by tenant_id, queue_id
            order by day_number
            rows between unbounded preceding and current row
        ) as patience_seconds
    from (
        select
            *,
            case
                when bool_and(is_wait_known) over last_four_weeks
                    then {{ safe_divide(
                        'sum(waiting_seconds) over last_four_weeks',
                        'sum(abandoned_count) over last_four_weeks'
                    ) }}
            end as patience_seconds
        from queue_days
        window last_four_weeks as (
            partition by tenant_id, queue_id
            order by day_number
            range between 27 preceding and current row
        )
    ) as windowed

),

agent_tenant_intervals as (

    {# an agent's schedule is the same in each of their queues: count it once #}
    select
        tenant_id,
        agent_id,
        interval_start_at,
        max(paid_seconds) as paid_seconds,
        max(paid_unavailable_seconds) as paid_unavailable_seconds
    from agent_intervals
    -- an interval without paid time adds nothing to either sum
    where paid_seconds > 0
    group by 1, 2, 3

),

tenant_days as (

    select
        agent_tenant_intervals.tenant_id,
        date_diff(
            'day',
            date '1970-01-01',
            cast({{ to_local(
                'agent_tenant_intervals.interval_start_at', 'tenants.timezone'
            ) }} as date)
        ) as day_number,
        sum(agent_tenant_intervals.paid_seconds) as paid_seconds,
        sum(agent_tenant_intervals.paid_unavailable_seconds) as paid_unavailable_seconds
    from agent_tenant_intervals
    inner join tenants
        on agent_tenant_intervals.tenant_id = tenants.tenant_id
    group by 1, 2

),

tenant_grid_days as (

    select distinct
        tenant_id,
        day_number,
        is_future
    from grid

),

tenant_shrinkage as (

    select
        tenant_id,
        day_number,
        last_value(
            case when not is_future then shrinkage_rate end ignore nulls
        ) over (
            partition by tenant_id
            order by day_number
            rows between unbounded preceding and current row
        ) as measured_shrinkage_rate
    from (
        select
            tenant_grid_days.*,
            {{ safe_divide(
                'sum(tenant_days.paid_unavailable_seconds) over last_four_weeks',
                'sum(tenant_days.paid_seconds) over last_four_weeks'
            ) }} as shrinkage_rate
        from tenant_grid_days
        left join tenant_days
            on
                tenant_grid_days.tenant_id = tenant_days.tenant_id
                and tenant_grid_days.day_number = tenant_days.day_number
        window last_four_weeks as (
            partition by tenant_grid_days.tenant_id
            order by tenant_grid_days.day_number
            range between 27 preceding and current row
        )
    ) as windowed

),

final as (

    select
        -- ids
        grid.tenant_id,
        grid.queue_id,

        -- numerics
        grid.interval_seconds,
        case
            when grid.is_future then forecasts.forecast_offered_count
            else coalesce(counts.offered_count, 0)
        end as staffing_calls,
        case
            when grid.is_future then forecasts.forecast_aht_seconds
            else coalesce(
                {{ safe_divide('counts.handle_seconds', 'counts.handled_count') }},
                forecasts.forecast_aht_seconds
            )
        end as staffing_aht_seconds,
        reforecasts.reforecast_offered_count as reforecast_calls,
        reforecasts.reforecast_aht_seconds,
        queue_patience.patience_seconds as staffing_patience_seconds,
        coalesce(
            tenant_shrinkage.measured_shrinkage_rate, tenants.planned_shrinkage_rate
        ) as staffing_shrinkage_rate,
        tenants.service_level_target,
        tenants.service_level_seconds,

        -- booleans
        grid.is_future,
        tenant_shrinkage.measured_shrinkage_rate is not null as is_shrinkage_measured,

        -- dates
        grid.interval_date,

        -- timestamps
        grid.interval_start_at

    from grid
    inner join tenants
        on grid.tenant_id = tenants.tenant_id
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
    left join reforecasts
        on
            grid.tenant_id = reforecasts.tenant_id
            and grid.queue_id = reforecasts.queue_id
            and grid.interval_start_at = reforecasts.interval_start_at
    left join queue_patience
        on
            grid.tenant_id = queue_patience.tenant_id
            and grid.queue_id = queue_patience.queue_id
            and grid.day_number = queue_patience.day_number
    left join tenant_shrinkage
        on
            grid.tenant_id = tenant_shrinkage.tenant_id
            and grid.day_number = tenant_shrinkage.day_number

)

select * from final
