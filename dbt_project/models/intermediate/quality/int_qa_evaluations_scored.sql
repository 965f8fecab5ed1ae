{#
    One row per tenant x QA evaluation (drafts left out): its weighted QA
    score = sum of weighted earned points / sum of weighted max points over
    the applicable criteria; any fatal failure sets the score to 0 and is
    flagged apart (has_fatal_error). The score is null when no criterion
    applies, or when an applicable criterion has no max_score (unknown, not
    a guess) and no fatal failure decides it.
#}
with

criteria as (

    select * from {{ ref('int_qa_criteria_scored') }}

),

aggregated as (

    select
        tenant_id,
        evaluation_id,
        any_value(contact_id) as contact_id,
        any_value(agent_id) as agent_id,
        any_value(evaluator_id) as evaluator_id,
        any_value(form_id) as form_id,
        any_value(team_id) as team_id,
        count(*) as criterion_count,
        count(*) filter (where is_applicable) as applicable_criterion_count,
        count(*) filter (where is_failed) as failed_criterion_count,
        sum(earned_points) as earned_points,
        sum(max_points) as max_points,
        bool_or(is_fatal_failure) as has_fatal_error,
        bool_or(is_applicable and max_points is null) as has_unknown_max,
        bool_or(is_new_hire) as is_new_hire,
        min(month_start_date) as month_start_date,
        max(evaluated_date) as evaluated_date,
        max(evaluated_at) as evaluated_at
    from criteria
    group by 1, 2

),

final as (

    select
        -- ids
        tenant_id,
        evaluation_id,
        contact_id,
        agent_id,
        evaluator_id,
        form_id,
        team_id,

        -- numerics
        criterion_count,
        applicable_criterion_count,
        failed_criterion_count,
        earned_points,
        max_points,
        case
            when has_fatal_error then 0.0
            when not has_unknown_max
                then {{ safe_divide('earned_points', 'max_points') }}
        end as qa_score,

        -- booleans
        has_fatal_error,
        is_new_hire,

        -- dates
        month_start_date,
        evaluated_date,

        -- timestamps (UTC)
        evaluated_at

    from aggregated

)

select * from final
