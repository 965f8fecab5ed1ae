{#
    One row per tenant x QA evaluation (drafts left out): its QA score and
    whether the evaluated agent had completed a training course before it,
    for the "training vs QA results" figures of the HR marts (DECISIONLOG
    "Marketing and HR marts"). The score is the QA marts' own
    (int_qa_evaluations_scored: weighted points of the applicable criteria,
    0 with a fatal error), so HR and quality marts never disagree.
    - Trained = completed (and not failed) a course on a local day before the
      evaluation's local day; untrained = the agent has training records but
      none completed by then (a new hire in onboarding); null when the agent
      has no training record at all: absence from a training export (which
      may cover recent courses only) is not evidence of no training.
#}
with

evaluations as (

    select * from {{ ref('int_qa_evaluations_scored') }}

),

training as (

    select * from {{ ref('stg_hr__training') }}

),

completions as (

    select
        tenant_id,
        agent_id,
        min(completed_date) filter (
            where is_passed is distinct from false
        ) as first_completed_date
    from training
    group by 1, 2

),

dated as (

    select
        tenant_id,
        evaluation_id,
        agent_id,
        qa_score,
        has_fatal_error,
        evaluated_date as evaluation_date,
        evaluated_at
    from evaluations

),

final as (

    select
        -- ids
        dated.tenant_id,
        dated.evaluation_id,
        dated.agent_id,

        -- numerics
        dated.qa_score as qa_score_rate,

        -- booleans
        dated.has_fatal_error as is_auto_failed,
        case
            when completions.agent_id is not null
                then coalesce(
                    completions.first_completed_date < dated.evaluation_date,
                    false
                )
        end as is_trained,

        -- dates
        dated.evaluation_date,
        cast(date_trunc('month', dated.evaluation_date) as date)
            as month_start_date,

        -- timestamps (UTC)
        dated.evaluated_at

    from dated
    left join completions
        on
            dated.tenant_id = completions.tenant_id
            and dated.agent_id = completions.agent_id

)

select * from final
