{#
    One row per tenant x calendar month: headcount, hires, leavers, attrition
    (monthly and annualised), month-end tenure bands, the dispatched-labour
    share and QA results of trained vs untrained agents (DECISIONLOG
    "Marketing and HR marts"). Counts are the sums of
    fct_headcount_monthly_by_team; no agent ids.
    Each feed's figures follow its own coverage (DECISIONLOG "HR months a
    roster covers"): the roster figures are null in a month no roster
    snapshot covers; the QA figures come from the evaluations whatever the
    roster. A month has a row when it lies between the tenant's first hire
    and its latest roster delivery (int_months_covered_by_rosters) or has
    evaluations of agents of known training status (e.g. after the last
    roster).
#}
with

months as (

    select * from {{ ref('int_months_covered_by_rosters') }}

),

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

evaluations as (

    select * from {{ ref('int_evaluations_joined_to_training') }}

),

counted as (

    select
        tenant_id,
        month_start_date,
        {{ headcount_counts() }},
        count(*) filter (
            where is_in_headcount_end and is_dispatched
        ) as dispatched_headcount_end
    from banded
    group by 1, 2

),

roster_monthly as (

    select
        months.tenant_id,
        months.month_start_date,
        {%- for column in headcount_count_columns()
            + ['dispatched_headcount_end'] %}
        {{ roster_figure(
            'counted.' ~ column, 'months.has_roster_snapshot', missing=0
        ) }} as {{ column }},
        {%- endfor %}
        months.has_roster_snapshot,
        months.is_month_complete
    from months
    left join counted
        on
            months.tenant_id = counted.tenant_id
            and months.month_start_date = counted.month_start_date

),

qa_monthly as (

    select
        tenant_id,
        month_start_date,
        count(qa_score_rate) filter (
            where is_trained
        ) as trained_evaluation_count,
        count(qa_score_rate) filter (
            where not is_trained
        ) as untrained_evaluation_count,
        avg(qa_score_rate) filter (where is_trained) as trained_qa_score_rate,
        avg(qa_score_rate) filter (
            where not is_trained
        ) as untrained_qa_score_rate
    from evaluations
    group by 1, 2
    having count(qa_score_rate) filter (where is_trained is not null) > 0

),

joined as (

    select
        coalesce(roster_monthly.tenant_id, qa_monthly.tenant_id)
            as tenant_id,
        coalesce(roster_monthly.month_start_date, qa_monthly.month_start_date)
            as month_start_date,
        {%- for column in headcount_count_columns()
            + ['dispatched_headcount_end'] %}
        roster_monthly.{{ column }},
        {%- endfor %}
        coalesce(qa_monthly.trained_evaluation_count, 0)
            as trained_evaluation_count,
        coalesce(qa_monthly.untrained_evaluation_count, 0)
            as untrained_evaluation_count,
        qa_monthly.trained_qa_score_rate,
        qa_monthly.untrained_qa_score_rate,
        coalesce(roster_monthly.has_roster_snapshot, false)
            as has_roster_snapshot,
        coalesce(roster_monthly.is_month_complete, false)
            as is_month_complete
    from roster_monthly
    full join qa_monthly
        on
            roster_monthly.tenant_id = qa_monthly.tenant_id
            and roster_monthly.month_start_date = qa_monthly.month_start_date

),

rated as (

    select
        *,
        {{ attrition_rate('leavers_count', 'average_headcount') }}
            as attrition_rate,
        {{ safe_divide('dispatched_headcount_end', 'headcount_end') }}
            as dispatched_share_rate
    from joined

),

final as (

    select
        -- grain
        tenant_id,
        month_start_date,

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
        dispatched_headcount_end,
        dispatched_share_rate,
        trained_evaluation_count,
        untrained_evaluation_count,
        trained_qa_score_rate,
        untrained_qa_score_rate,

        -- booleans
        has_roster_snapshot,
        is_month_complete

    from rated

)

select * from final
