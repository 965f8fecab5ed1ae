{#
    One row per service-alert episode: a tenant's queue hard to reach on one
    local day (int_service_episodes; DECISIONLOG "Service alerts: rules and
    episodes"), with what the dispatch ladder says for the interval after its
    first breaching one (DECISIONLOG "The dispatch ladder"):
    - agents_before / service_level_before: the agents who handled the
      queue's contacts in the breaching interval, and the service level
      predicted with them alone;
    - recommended_step: the first step whose predicted service level reaches
      the tenant's target; null when even all six do not.
#}
with

episodes as (

    select * from {{ ref('int_service_episodes') }}

),

ladder as (

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

),

recommended as (

    select
        tenant_id,
        queue_id,
        interval_start_at,
        min(step) filter (
            where step between 1 and 6 and service_level_after >= service_level_target
        ) as recommended_step,
        any_value(agents) filter (where step = 0) as agents_before,
        any_value(service_level_after) filter (where step = 0) as service_level_before,
        any_value(next_interval_start_at) as next_interval_start_at
    from ladder
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
        recommended.agents_before,
        recommended.service_level_before,

        -- strings
        episodes.breaches,
        episodes.closed_by,

        -- booleans
        episodes.is_open,

        -- dates
        episodes.episode_date,

        -- timestamps
        episodes.closing_interval_start_at,
        recommended.next_interval_start_at

    from episodes
    left join recommended
        on
            episodes.tenant_id = recommended.tenant_id
            and episodes.queue_id = recommended.queue_id
            and episodes.interval_start_at = recommended.interval_start_at

)

select * from final
