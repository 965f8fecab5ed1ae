{#
    One row per tenant x QA evaluation (drafts left out): a minimal
    evaluation score and whether the evaluated agent had completed a training
    course before it, for the "training vs QA results" figures of the HR
    marts (DECISIONLOG "Marketing and HR marts"). The full QA marts live in
    models/*/quality; this score is the same textbook formula:
    - QA score = sum of points earned / sum of points available over the
      applicable criteria (0-1); an auto-failed fatal criterion sets it to 0;
      null when no criterion applies or a max_score is missing.
    - Trained = completed (and not failed) a course on a local day before the
      evaluation's local day; untrained = the agent has training records but
      none completed by then (a new hire in onboarding); null when the agent
      has no training record at all: absence from a training export (which
      may cover recent courses only) is not evidence of no training.
#}
with

evaluations as (

    select * from {{ ref('stg_qa__evaluations') }}
    where evaluation_status is distinct from 'draft'

),

training as (

    select * from {{ ref('stg_hr__training') }}

),

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

scored as (

    select
        tenant_id,
        evaluation_id,
        any_value(agent_id) as agent_id,
        max(evaluated_at) as evaluated_at,
        coalesce(bool_or(is_auto_fail), false) as is_auto_failed,
        sum(score) filter (where not is_not_applicable) as earned_points,
        case
            when bool_and(max_score is not null) filter (
                where not is_not_applicable
            )
                then sum(max_score) filter (where not is_not_applicable)
        end as max_points
    from evaluations
    group by 1, 2

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
        scored.*,
        cast(
            {{ to_local('scored.evaluated_at', 'tenants.timezone') }} as date
        ) as evaluation_date
    from scored
    inner join tenants
        on scored.tenant_id = tenants.tenant_id

),

final as (

    select
        -- ids
        dated.tenant_id,
        dated.evaluation_id,
        dated.agent_id,

        -- numerics
        case
            when dated.is_auto_failed then 0.0
            else {{ safe_divide('dated.earned_points', 'dated.max_points') }}
        end as qa_score_rate,

        -- booleans
        dated.is_auto_failed,
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
