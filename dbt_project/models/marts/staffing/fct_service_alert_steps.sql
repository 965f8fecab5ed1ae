{#
    One row per service-alert episode x step of the dispatch ladder: what
    the step brings for the interval after the episode's first breaching
    interval, and the service level predicted once it is added to the steps
    before (int_service_alert_steps_assembled and _predicted; DECISIONLOG "The dispatch
    ladder"). Steps in the floor's order: 1 same_site_agents,
    2 ivr_front_service, 3 outbound_agents, 4 pause_cross_selling,
    5 cross_site_agents, 6 cross_skill_agents.
#}
with

steps as (

    select
        assembled.*,
        predicted.service_level_after
    from {{ ref('int_service_alert_steps_assembled') }} as assembled
    inner join {{ ref('int_service_alert_steps_predicted') }} as predicted
        on
            assembled.tenant_id = predicted.tenant_id
            and assembled.queue_id = predicted.queue_id
            and assembled.interval_start_at = predicted.interval_start_at
            and assembled.step = predicted.step
    where assembled.step between 1 and 6

),

final as (

    select
        {# the issue's columns first #}
        tenant_id,
        queue_id,
        interval_start_at,
        interval_start_local,
        cast(step as integer) as step,
        action,
        agents,
        service_level_after,

        -- strings
        note,

        -- numerics
        ladder_agents,
        ladder_calls,
        ladder_aht_seconds,
        patience_seconds,
        service_level_target,
        service_level_seconds,

        -- booleans
        coalesce(service_level_after >= service_level_target, false)
            as is_target_reached,

        -- dates
        episode_date,

        -- timestamps
        next_interval_start_at

    from steps

)

select * from final
