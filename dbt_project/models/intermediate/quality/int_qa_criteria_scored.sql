{#
    One row per tenant x QA evaluation x criterion (drafts left out): the
    criterion's applicability, weighted points, failure flags, the evaluated
    agent's tenure, and the month the evaluation counts in (DECISIONLOG
    "Quality marts"):
    - applicable = not marked not-applicable and scored, or auto-failed;
    - weighted points = weight x score and weight x max_score (weight 1 when
      the export gives none); a criterion without max_score has unknown points;
    - failed = auto-fail, or scored below max_score (0 when max is unknown);
      a fatal failure is a failed fatal (or auto-fail) criterion;
    - month = local month of the evaluated contact's first queue entry when the
      contact is in the telephony feed, else of evaluated_at;
    - new hire = fewer than 90 days from hire_date to the local evaluation
      date (null when the agent is not on the roster).
#}
with

evaluations as (

    select * from {{ ref('stg_qa__evaluations') }}
    where evaluation_status <> 'draft'

),

handled as (

    {# only the evaluated contacts' stints: a join filter, not a pass over
       every handled stint of the history #}
    select handled_stints.*
    from {{ ref('int_handled_stints_dated') }} as handled_stints
    semi join evaluations
        on
            handled_stints.tenant_id = evaluations.tenant_id
            and handled_stints.contact_id = evaluations.contact_id

),

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

roster as (

    select * from {{ ref('stg_hr__roster') }}

),

contact_dates as (

    select
        tenant_id,
        contact_id,
        min(contact_date) as contact_date
    from handled
    group by 1, 2

),

flagged as (

    select
        *,
        coalesce(is_auto_fail, false) as is_auto_failed,
        coalesce(is_auto_fail, false)
        or (not is_not_applicable and score is not null) as is_applicable,
        coalesce(weight, 1) as applied_weight
    from evaluations

),

scored as (

    select
        -- ids
        flagged.tenant_id,
        flagged.evaluation_id,
        flagged.criterion_id,
        flagged.contact_id,
        flagged.agent_id,
        flagged.evaluator_id,
        flagged.form_id,
        roster.team_id,

        -- strings
        flagged.criterion_name,
        flagged.section,

        -- numerics
        flagged.form_version,
        flagged.score,
        flagged.max_score,
        flagged.applied_weight as weight,
        case
            when flagged.is_applicable and flagged.max_score is not null
                then flagged.applied_weight * coalesce(flagged.score, 0)
        end as earned_points,
        case
            when flagged.is_applicable
                then flagged.applied_weight * flagged.max_score
        end as max_points,
        cast({{ to_local('flagged.evaluated_at', 'tenants.timezone') }} as date)
        - roster.hire_date as tenure_days,

        -- booleans
        flagged.is_applicable,
        coalesce(flagged.is_fatal, false) or flagged.is_auto_failed
            as is_fatal,
        flagged.is_auto_failed
        or (
            flagged.is_applicable
            and coalesce(
                flagged.score < flagged.max_score, flagged.score = 0
            )
        ) as is_failed,

        -- dates
        contact_dates.contact_date,
        cast(
            {{ to_local('flagged.evaluated_at', 'tenants.timezone') }} as date
        ) as evaluated_date,

        -- timestamps (UTC)
        flagged.evaluated_at

    from flagged
    inner join tenants
        on flagged.tenant_id = tenants.tenant_id
    left join contact_dates
        on
            flagged.tenant_id = contact_dates.tenant_id
            and flagged.contact_id = contact_dates.contact_id
    left join roster
        on
            flagged.tenant_id = roster.tenant_id
            and flagged.agent_id = roster.agent_id

),

final as (

    select
        -- ids
        tenant_id,
        evaluation_id,
        criterion_id,
        contact_id,
        agent_id,
        evaluator_id,
        form_id,
        team_id,

        -- strings
        criterion_name,
        section,

        -- numerics
        form_version,
        score,
        max_score,
        weight,
        earned_points,
        max_points,
        tenure_days,

        -- booleans
        is_applicable,
        is_fatal,
        is_failed,
        is_failed and is_fatal as is_fatal_failure,
        tenure_days < 90 as is_new_hire,

        -- dates
        contact_date,
        evaluated_date,
        cast(
            date_trunc('month', coalesce(contact_date, evaluated_date)) as date
        ) as month_start_date,

        -- timestamps (UTC)
        evaluated_at

    from scored

)

select * from final
