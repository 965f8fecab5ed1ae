{{ config(schema='intermediate') }}
{#
    One row per service-alert episode: a tenant's queue hard to reach on one
    local day (DECISIONLOG "Service alerts: rules and episodes"); the mart
    fct_service_alerts adds the dispatch ladder's recommended step.
    - Every queue-interval with at least the tenant's alert_min_offered
      offered stints is checked, complete or not. It breaches a rule when its
      service level (VIP service level) is below, or its abandon rate (ASA)
      above, the rule's threshold; a rule set to null in callops.yml is off,
      and a figure that is null (no denominator) breaches nothing.
    - An episode opens at the first breaching interval and closes at the
      first later complete, checked interval that breaches none (a calm one);
      intervals below the minimum and calm ones not yet complete neither open
      nor close it. An episode never crosses local midnight: one still open
      when the day is over (its last interval complete) closes there.
    - interval_end_local: the start of the calm interval that closed it, or
      local midnight; null while open.
    - kpi_name / kpi_value / threshold_value: the first rule the opening
      interval breached, in the order service level, VIP service level,
      abandon rate, ASA; breaches lists every rule it breached.
    Built from the mart fct_queue_intervals alone, so the rules judge the very
    figures published; no wall-clock column: an incremental build equals a
    full one.
    Lives beside the marts it reads (path models/marts: the build's marts
    layer, after them) in the private schema intermediate: never published.
#}
with

queue_intervals as (

    select * from {{ ref('fct_queue_intervals') }}

),

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

checked as (

    select
        queue_intervals.tenant_id,
        queue_intervals.queue_id,
        queue_intervals.interval_start_at,
        queue_intervals.interval_start_local,
        queue_intervals.interval_date,
        queue_intervals.is_interval_complete,
        queue_intervals.service_level_rate,
        queue_intervals.vip_service_level_rate,
        queue_intervals.abandon_rate,
        queue_intervals.asa_seconds,
        tenants.alert_service_level_rate,
        tenants.alert_vip_service_level_rate,
        tenants.alert_abandon_rate,
        tenants.alert_asa_seconds,
        queue_intervals.offered_count >= tenants.alert_min_offered as is_checked
    from queue_intervals
    inner join tenants
        on queue_intervals.tenant_id = tenants.tenant_id

),

judged as (

    {# a null figure (no denominator) or threshold (rule off) breaches nothing #}
    select
        *,
        case
            when is_checked
                then list_concat(
                    case
                        when service_level_rate < alert_service_level_rate
                            then ['service_level_rate']
                    end,
                    case
                        when vip_service_level_rate < alert_vip_service_level_rate
                            then ['vip_service_level_rate']
                    end,
                    case
                        when abandon_rate > alert_abandon_rate
                            then ['abandon_rate']
                    end,
                    case
                        when asa_seconds > alert_asa_seconds
                            then ['asa_seconds']
                    end
                )
        end as breaches
    from checked

),

sequenced as (

    {#
        calm_seen: the calm complete intervals up to this one that day; the
        breaching intervals after the k-th calm one and before the next form
        one episode, closed by the calm interval numbered k + 1
    #}
    select
        *,
        coalesce(len(breaches) > 0, false) as is_breach,
        is_checked and is_interval_complete and coalesce(len(breaches), 0) = 0
            as is_calm,
        sum(
            case
                when
                    is_checked
                    and is_interval_complete
                    and coalesce(len(breaches), 0) = 0
                    then 1
                else 0
            end
        ) over (
            partition by tenant_id, queue_id, interval_date
            order by interval_start_at
            rows between unbounded preceding and current row
        ) as calm_seen,
        bool_and(is_interval_complete) over (
            partition by tenant_id, queue_id, interval_date
        ) as is_day_over
    from judged

),

breaching as (

    select
        *,
        row_number() over (
            partition by tenant_id, queue_id, interval_date, calm_seen
            order by interval_start_at
        ) as breach_number,
        count(*) over (
            partition by tenant_id, queue_id, interval_date, calm_seen
        ) as breaching_interval_count
    from sequenced
    where is_breach

),

opened as (

    select
        *,
        breaches[1] as kpi_name,
        case breaches[1]
            when 'service_level_rate' then service_level_rate
            when 'vip_service_level_rate' then vip_service_level_rate
            when 'abandon_rate' then abandon_rate
            when 'asa_seconds' then asa_seconds
        end as kpi_value,
        case breaches[1]
            when 'service_level_rate' then alert_service_level_rate
            when 'vip_service_level_rate' then alert_vip_service_level_rate
            when 'abandon_rate' then alert_abandon_rate
            when 'asa_seconds' then alert_asa_seconds
        end as threshold_value
    from breaching
    where breach_number = 1

),

calm as (

    select * from sequenced
    where is_calm

),

episodes as (

    select
        {# the issue's columns first, in its order #}
        opened.tenant_id,
        opened.queue_id,
        opened.interval_start_at,
        opened.interval_start_local,
        case
            when calm.interval_start_at is not null
                then calm.interval_start_local
            when opened.is_day_over
                then cast(opened.interval_date + 1 as timestamp)
        end as interval_end_local,
        opened.kpi_name,
        cast(opened.kpi_value as double) as kpi_value,
        cast(opened.threshold_value as double) as threshold_value,

        -- numerics
        opened.breaching_interval_count,

        -- strings
        {# a JSON array: a published column is never a LIST (every BI driver reads text) #}
        cast(to_json(opened.breaches) as varchar) as breaches,
        case
            when calm.interval_start_at is not null then 'recovered'
            when opened.is_day_over then 'midnight'
        end as closed_by,

        -- booleans
        calm.interval_start_at is null and not opened.is_day_over as is_open,

        -- dates
        opened.interval_date as episode_date,

        -- timestamps
        calm.interval_start_at as closing_interval_start_at

    from opened
    left join calm
        on
            opened.tenant_id = calm.tenant_id
            and opened.queue_id = calm.queue_id
            and opened.interval_date = calm.interval_date
            and opened.calm_seen + 1 = calm.calm_seen

)

select * from episodes
