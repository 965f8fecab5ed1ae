{{ config(materialized='table') }}
{#
    One row per tenant x period grain (day from rpt_daily_kpis; week, month,
    quarter, year from rpt_kpis_by_period) x period start x KPI: the
    tenant's value beside the center's, i.e. every tenant with a value for
    that period and KPI.
    - tenant_rank: rank(), 1 the best (the highest value, or the lowest for
      abandon_rate and asa_seconds); ties share a rank; a null value is not
      ranked. service_level_rate is each tenant's own (its own T and
      variant): not comparable, not ranked (tenant_rank and tenants_ranked
      null); common_service_level_rate is the comparable one.
    - center_p25, center_median, center_p75: quantile_cont over the tenants'
      non-null values; center_best the best of them.
    - is_center_shareable: at least var benchmark_min_tenants tenants have a
      value, so a tenant shown the quartiles cannot work out another's figure
      (with two tenants the median would give it away). center_best and the
      other tenants' ranks are for the center only.
    A table rebuilt from the two KPI marts on every build.
#}
{#- (KPI, higher is better, ranked) -#}
{%- set kpis = [
    ('answer_rate', true, true),
    ('service_level_rate', true, false),
    ('common_service_level_rate', true, true),
    ('abandon_rate', false, true),
    ('asa_seconds', false, true),
    ('csat_rate', true, true),
    ('qa_score', true, true),
    ('fcr_rate', true, true),
] -%}

with

rpt_daily_kpis as (

    select * from {{ ref('rpt_daily_kpis') }}

),

rpt_kpis_by_period as (

    select * from {{ ref('rpt_kpis_by_period') }}

),

periods as (

    select
        tenant_id,
        'day' as period_grain,
        {%- for name, higher, ranked in kpis %}
        {{ name }},
        {%- endfor %}
        is_day_complete as is_period_complete,
        kpi_date as period_start
    from rpt_daily_kpis
    union all
    select
        tenant_id,
        period_grain,
        {%- for name, higher, ranked in kpis %}
        {{ name }},
        {%- endfor %}
        is_period_complete,
        period_start
    from rpt_kpis_by_period

),

unpivoted as (

    {%- for name, higher, ranked in kpis %}
    select
        tenant_id,
        period_grain,
        '{{ name }}' as kpi_name,
        {{ name }} as kpi_value,
        {{ higher }} as is_higher_better,
        {{ ranked }} as is_ranked,
        is_period_complete,
        period_start
    from periods
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

compared as (

    select
        *,
        -- nulls sort last: they never take a rank from a value
        rank() over (
            partition by period_grain, period_start, kpi_name
            order by
                case when is_higher_better then -kpi_value else kpi_value end
                asc nulls last
        ) as value_rank,
        count(kpi_value) over (
            partition by period_grain, period_start, kpi_name
        ) as tenants_with_value,
        quantile_cont(kpi_value, 0.25) over (
            partition by period_grain, period_start, kpi_name
        ) as center_p25,
        quantile_cont(kpi_value, 0.5) over (
            partition by period_grain, period_start, kpi_name
        ) as center_median,
        quantile_cont(kpi_value, 0.75) over (
            partition by period_grain, period_start, kpi_name
        ) as center_p75,
        max(kpi_value) over (
            partition by period_grain, period_start, kpi_name
        ) as highest_value,
        min(kpi_value) over (
            partition by period_grain, period_start, kpi_name
        ) as lowest_value
    from unpivoted

),

final as (

    select
        -- ids
        tenant_id,

        -- strings
        period_grain,
        kpi_name,

        -- numerics
        kpi_value,
        case
            when is_ranked and kpi_value is not null then value_rank
        end as tenant_rank,
        case when is_ranked then tenants_with_value end as tenants_ranked,
        tenants_with_value,
        center_p25,
        center_median,
        center_p75,
        case
            when is_higher_better then highest_value else lowest_value
        end as center_best,

        -- booleans
        is_higher_better,
        is_period_complete,
        tenants_with_value >= {{ var('benchmark_min_tenants') }}
            as is_center_shareable,

        -- dates
        period_start

    from compared

)

select * from final
