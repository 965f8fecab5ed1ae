{#
    One row per service-alert episode: a tenant's queue hard to reach on one
    local day (int_service_episodes; DECISIONLOG "Service alerts: rules and
    episodes"), with what the dispatch ladder says for the interval after its
    first breaching one (DECISIONLOG "The dispatch ladder"):
    - agents_before / service_level_before: the agents who handled the
      queue's contacts in the breaching interval, and the service level
      predicted with them alone;
    - recommended_step: the first step of fct_service_alert_steps that
      reaches the tenant's target (its is_target_reached); null when even all
      six do not.
#}
with

episodes as (

    select * from {{ ref('int_service_episodes') }}

),

steps as (

    select * from {{ ref('fct_service_alert_steps') }}

),

-- step 0 of the ladder: the queue as it is
starting_points as (

    select
        assembled.tenant_id,
        assembled.queue_id,
        assembled.interval_start_at,
        assembled.agents as agents_before,
        predicted.service_level_after as service_level_before,
        assembled.next_interval_start_at
    from {{ ref('int_service_alert_steps_assembled') }} as assembled
    inner join {{ ref('int_service_alert_steps_predicted') }} as predicted
        on
            assembled.tenant_id = predicted.tenant_id
            and assembled.queue_id = predicted.queue_id
            and assembled.interval_start_at = predicted.interval_start_at
            and assembled.step = predicted.step
    where assembled.step = 0

),

recommended as (

    select
        tenant_id,
        queue_id,
        interval_start_at,
        min(step) filter (where is_target_reached) as recommended_step
    from steps
    group by 1, 2, 3

),

final as (

    select
        {# the issue's columns first, in its order #}
        episodes.tenant_id,
        episodes.queue_id,
        episodes.interval_start_at,
        episodes.interval_start_local,
        episodes.interval_end_local,
        episodes.kpi_name,
        episodes.kpi_value,
        episodes.threshold_value,
        cast(recommended.recommended_step as integer) as recommended_step,

        -- numerics
        episodes.breaching_interval_count,
        starting_points.agents_before,
        starting_points.service_level_before,

        -- strings
        episodes.breaches,
        episodes.closed_by,

        -- booleans
        episodes.is_open,

        -- dates
        episodes.episode_date,

        -- timestamps
        episodes.closing_interval_start_at,
        starting_points.next_interval_start_at

    from episodes
    left join starting_points
        on
            episodes.tenant_id = starting_points.tenant_id
            and episodes.queue_id = starting_points.queue_id
            and episodes.interval_start_at = starting_points.interval_start_at
    left join recommended
        on
            episodes.tenant_id = recommended.tenant_id
            and episodes.queue_id = recommended.queue_id
            and episodes.interval_start_at = recommended.interval_start_at

)

select * from final
