{#
    One row per tenant x QA evaluation (drafts left out): its QA score and
    whether the evaluated agent had completed a training course before it,
    for the "training vs QA results" figures of the HR marts (DECISIONLOG
    "Marketing and HR marts"). The score is the QA marts' own
    (int_qa_evaluations_scored: weighted points of the applicable criteria,
    0 with a fatal error), so HR and quality marts never disagree.
    - Trained = completed (and not failed) a course on a local day before the
      evaluation's local day; null when the agent has no training record at
      all: absence from a training export (which may cover recent courses
      only) is not evidence of no training.
    - Untrained = the agent has training records but none completed by then
      (a new hire in onboarding), and the training feed covers the agent's
      whole employment up to the evaluation: its latest delivery (with rows)
      came on or after the evaluation day (a course completed since is not
      known yet),
      and the agent (hire_date of the latest roster, whatever month it came
      in) was hired on or after the earliest course start of the tenant's
      training data (the courses of an agent hired before it may be missing).
      Otherwise null: unknown, in neither group (DECISIONLOG "HR months a
      roster covers").
#}
with

evaluations as (

    select * from {{ ref('int_qa_evaluations_scored') }}

),

training as (

    select * from {{ ref('stg_hr__training') }}

),

roster as (

    select * from {{ ref('stg_hr__roster') }}

),

training_reach as (

    select
        tenant_id,
        min(started_date) as first_started_date,
        max(delivery_date) as latest_delivery_date
    from training
    group by 1

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
            when completions.agent_id is null then null
            when completions.first_completed_date < dated.evaluation_date
                then true
            when
                dated.evaluation_date <= training_reach.latest_delivery_date
                and roster.hire_date >= training_reach.first_started_date
                then false
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
    left join training_reach
        on dated.tenant_id = training_reach.tenant_id
    left join roster
        on
            dated.tenant_id = roster.tenant_id
            and dated.agent_id = roster.agent_id

)

select * from final
