{{ config(materialized='table') }}
{#
    One row per tenant x period grain (week, ISO from Monday; month; quarter;
    year) x period start: the KPIs of the period's days in rpt_daily_kpis.
    - Counts and sums are the days' additive components added up; a sum is
      null when any day's component is null (macro sum_if_known: a partly
      unknown sum is a guess).
    - Distinct agents are counted over the period from the agent-day grain
      (int_agent_days_answered, the days rpt_daily_kpis holds): an agent
      answering on five days of a week counts once.
    - Every rate is its macros/kpis.sql formula over the sums, in the
      tenant's service-level variant: never an average of daily rates.
    - is_period_complete: the period lies between the tenant's first and
      latest complete day (rpt_daily_kpis.is_day_complete); a target is met
      or missed only in a complete period.
    - Beside each rate, its value in the previous period of the same grain
      and in the same period a year earlier (macros/periods.sql); null where
      that period has no row.
    A table rebuilt from the day and agent-day grains on every build: a few
    rows per tenant-day, never a scan of the contacts.
#}
{%- set grains = ['week', 'month', 'quarter', 'year'] -%}
{#- the additive day components of rpt_daily_kpis, and their types -#}
{%- set components = {
    'offered_count': 'bigint',
    'answered_count': 'bigint',
    'abandoned_count': 'bigint',
    'short_abandoned_count': 'bigint',
    'answered_within_sl_count': 'bigint',
    'abandoned_within_sl_count': 'bigint',
    'ivr_contained_count': 'bigint',
    'answered_wait_seconds_sum': 'double',
    'handle_seconds_sum': 'double',
    'handled_count': 'bigint',
    'answered_within_10s_count': 'bigint',
    'answered_within_20s_count': 'bigint',
    'answered_within_30s_count': 'bigint',
    'abandoned_within_5s_count': 'bigint',
    'vip_offered_count': 'bigint',
    'vip_answered_count': 'bigint',
    'vip_short_abandoned_count': 'bigint',
    'vip_answered_within_sl_count': 'bigint',
    'vip_abandoned_within_sl_count': 'bigint',
    'csat_response_count': 'bigint',
    'csat_top_box_count': 'bigint',
    'qa_evaluation_count': 'bigint',
    'qa_score_sum': 'double',
    'fcr_contact_count': 'bigint',
    'fcr_resolved_count': 'bigint',
    'occupancy_handle_seconds_sum': 'double',
    'occupancy_idle_seconds_sum': 'double',
} -%}
{#- the rates, each shown beside its previous period's and previous year's -#}
{%- set rates = rates_from_components().keys() | list -%}

with

rpt_daily_kpis as (

    select * from {{ ref('rpt_daily_kpis') }}

),

int_agent_days_answered as (

    select * from {{ ref('int_agent_days_answered') }}

),

stg_config__tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

grains as (

    select unnest({{ grains }}) as period_grain

),

days_in_periods as (

    select
        rpt_daily_kpis.*,
        grains.period_grain,
        cast(
            date_trunc(grains.period_grain, rpt_daily_kpis.kpi_date) as date
        ) as period_start
    from rpt_daily_kpis
    cross join grains

),

summed as (

    select
        tenant_id,
        period_grain,
        period_start,
        count(*) as day_count,
        min(kpi_date) as first_kpi_date,
        max(kpi_date) as last_kpi_date,
        {%- for component, type in components.items() %}
        cast({{ sum_if_known(component) }} as {{ type }}) as {{ component }},
        {%- endfor %}
        -- a tenant that sends a roster has a known unrostered count
        bool_or(unrostered_agent_count is not null) as has_roster
    from days_in_periods
    group by 1, 2, 3

),

agents_in_periods as (

    -- each agent once per period: not on the roster when any of its days
    -- was not (null without a roster); only the days the day mart holds
    select
        int_agent_days_answered.tenant_id,
        grains.period_grain,
        cast(
            date_trunc(grains.period_grain, int_agent_days_answered.contact_date)
            as date
        ) as period_start,
        int_agent_days_answered.agent_id,
        bool_and(int_agent_days_answered.is_on_roster) as is_on_roster
    from int_agent_days_answered
    semi join rpt_daily_kpis
        on
            int_agent_days_answered.tenant_id = rpt_daily_kpis.tenant_id
            and int_agent_days_answered.contact_date = rpt_daily_kpis.kpi_date
    cross join grains
    group by 1, 2, 3, 4

),

agents_per_period as (

    select
        tenant_id,
        period_grain,
        period_start,
        count(*) as answering_agent_count,
        {{ count_if_known('not is_on_roster') }} as unrostered_agent_count
    from agents_in_periods
    group by 1, 2, 3

),

complete_days as (

    select
        tenant_id,
        min(kpi_date) as first_complete_date,
        max(kpi_date) as latest_complete_date
    from rpt_daily_kpis
    where is_day_complete
    group by 1

),

rated as (

    select
        -- ids
        summed.tenant_id,

        -- strings
        summed.period_grain,
        stg_config__tenants.service_level_variant,

        -- numerics
        summed.day_count,
        {%- for component in components %}
        summed.{{ component }},
        {%- endfor %}
        coalesce(agents_per_period.answering_agent_count, 0)
            as answering_agent_count,
        case
            when agents_per_period.tenant_id is not null
                then agents_per_period.unrostered_agent_count
            when summed.has_roster then 0
        end as unrostered_agent_count,
        stg_config__tenants.service_level_seconds,
        stg_config__tenants.vip_service_level_seconds,
        {%- for rate, formula in rates_from_components(
            'summed.', 'stg_config__tenants.service_level_variant'
        ).items() %}
        {{ formula }} as {{ rate }},
        {%- endfor %}
        stg_config__tenants.service_level_target,
        stg_config__tenants.answer_rate_target,
        stg_config__tenants.abandon_rate_target,
        stg_config__tenants.vip_service_level_target,
        stg_config__tenants.csat_target,
        stg_config__tenants.qa_score_target,

        -- booleans
        coalesce(
            summed.period_start >= complete_days.first_complete_date
            and {{ period_end('summed.period_grain', 'summed.period_start') }}
            <= complete_days.latest_complete_date,
            false
        ) as is_period_complete,

        -- dates
        summed.period_start,
        {{ period_end('summed.period_grain', 'summed.period_start') }}
            as period_end,
        summed.first_kpi_date,
        summed.last_kpi_date

    from summed
    inner join stg_config__tenants
        on summed.tenant_id = stg_config__tenants.tenant_id
    left join agents_per_period
        on
            summed.tenant_id = agents_per_period.tenant_id
            and summed.period_grain = agents_per_period.period_grain
            and summed.period_start = agents_per_period.period_start
    left join complete_days
        on summed.tenant_id = complete_days.tenant_id

),

compared as (

    -- each rate beside the previous period's and a year earlier's
    select
        rated.*,
        {%- for rate in rates %}
        previous_period.{{ rate }} as {{ rate }}_previous_period,
        previous_year.{{ rate }} as {{ rate }}_previous_year,
        {%- endfor %}
        -- a period still going on has not met or missed a target yet
        {{ targets_met('rated.is_period_complete', 'rated.') }}
    from rated
    left join rated as previous_period
        on
            rated.tenant_id = previous_period.tenant_id
            and rated.period_grain = previous_period.period_grain
            and previous_period.period_start
            = {{ add_periods('rated.period_grain', 'rated.period_start', -1) }}
    left join rated as previous_year
        on
            rated.tenant_id = previous_year.tenant_id
            and rated.period_grain = previous_year.period_grain
            and previous_year.period_start
            = {{ period_a_year_earlier('rated.period_grain', 'rated.period_start') }}

),

final as (

    select
        tenant_id,
        period_grain,
        period_start,
        period_end,
        is_period_complete,
        day_count,
        first_kpi_date,
        last_kpi_date,
        service_level_variant,
        service_level_seconds,
        vip_service_level_seconds,
        {%- for component in components %}
        {{ component }},
        {%- endfor %}
        answering_agent_count,
        unrostered_agent_count,
        {%- for rate in rates %}
        {{ rate }},
        {{ rate }}_previous_period,
        {{ rate }}_previous_year,
        {%- endfor %}
        service_level_target,
        answer_rate_target,
        abandon_rate_target,
        vip_service_level_target,
        csat_target,
        qa_score_target,
        is_service_level_target_met,
        is_answer_rate_target_met,
        is_abandon_rate_target_met,
        is_vip_service_level_target_met,
        is_csat_target_met,
        is_qa_score_target_met
    from compared

)

select * from final
