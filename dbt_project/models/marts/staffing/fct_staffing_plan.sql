{#
    One row per tenant x queue x staffing interval of the 14 local days after
    the tenant's last loaded day ("how many agents do we need next Monday
    09:00-09:30?"): the forecast offered stints and AHT, the agents Erlang C
    and Erlang A need for the tenant's service-level target, and the agents
    to schedule after shrinkage. A daylight-saving day has 46 or 50 half
    hours.
#}
with

staffed as (

    select * from {{ ref('int_queue_intervals_staffed') }}
    where is_future

),

grid as (

    select * from {{ ref('int_queue_intervals_gridded') }}
    where is_future

),

final as (

    select
        -- ids
        grid.tenant_id,
        grid.queue_id,

        -- timestamps
        grid.interval_start_local,
        grid.interval_start_at,

        -- dates
        grid.interval_date,
        grid.last_loaded_date,

        -- numerics
        grid.interval_minutes,
        staffed.staffing_calls as forecast_offered_count,
        staffed.staffing_aht_seconds as forecast_aht_seconds,
        staffed.staffing_patience_seconds as patience_seconds,
        staffed.service_level_target,
        staffed.service_level_seconds,
        staffed.erlang_c_agents,
        staffed.erlang_a_agents,
        staffed.staffing_shrinkage_rate as shrinkage_rate,
        staffed.required_agents_with_shrinkage,

        -- booleans
        staffed.is_shrinkage_measured

    from grid
    inner join staffed
        on
            grid.tenant_id = staffed.tenant_id
            and grid.queue_id = staffed.queue_id
            and grid.interval_start_at = staffed.interval_start_at

)

select * from final
