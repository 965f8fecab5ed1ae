{#
    One row per tenant x calendar month x team x employment type: headcount
    at the start and end of the month, average headcount, hires, leavers,
    attrition and month-end tenure bands (DECISIONLOG "Marketing and HR
    marts"). Counts add up to fct_headcount_monthly; no agent ids. A month no
    roster snapshot covers keeps its rows with every figure null
    (DECISIONLOG "HR months a roster covers").
#}
with

agent_months as (

    select * from {{ ref('int_rosters_expanded_to_months') }}

),

banded as (

    select
        *,
        case
            when is_in_headcount_end
                then {{ tenure_band('tenure_months_at_month_end') }}
        end as tenure_band
    from agent_months

),

counted as (

    select
        tenant_id,
        month_start_date,
        team_id,
        employment_type,
        {{ headcount_counts() }},
        bool_and(has_roster_snapshot) as has_roster_snapshot,
        bool_and(is_month_complete) as is_month_complete
    from banded
    group by 1, 2, 3, 4

),

covered as (

    select
        tenant_id,
        month_start_date,
        team_id,
        employment_type,
        {%- for column in headcount_count_columns() %}
        {{ roster_figure(column) }} as {{ column }},
        {%- endfor %}
        has_roster_snapshot,
        is_month_complete
    from counted

),

rated as (

    select
        *,
        {{ attrition_rate('leavers_count', 'average_headcount') }}
            as attrition_rate
    from covered

),

final as (

    select
        -- grain
        tenant_id,
        month_start_date,
        team_id,

        -- strings
        employment_type,

        -- numerics
        headcount_start,
        headcount_end,
        average_headcount,
        hires_count,
        leavers_count,
        attrition_rate,
        {{ annualised_rate('attrition_rate') }} as annualised_attrition_rate,
        tenure_under_3_months_count,
        tenure_3_to_12_months_count,
        tenure_1_to_2_years_count,
        tenure_over_2_years_count,

        -- booleans
        has_roster_snapshot,
        is_month_complete

    from rated

)

select * from final
