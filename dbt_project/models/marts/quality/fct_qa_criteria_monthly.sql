{#
    One row per tenant x local month x evaluation form x criterion: how often
    the criterion was scored and failed (failed = auto-fail, or scored below
    its max_score), its failure rate and rank among the tenant-month's
    criteria (1 = fails most), overall and split by the evaluated agent's
    tenure at evaluation (new hire: under 90 days since hire_date; the
    split is null when none of the criterion's evaluated agents is on the
    roster).
#}
with

criteria as (

    select * from {{ ref('int_qa_criteria_scored') }}

),

counted as (

    select
        tenant_id,
        month_start_date,
        form_id,
        criterion_id,
        arg_max(criterion_name, evaluated_at) as criterion_name,
        arg_max(section, evaluated_at) as section,
        bool_or(is_fatal) as is_fatal,
        count(distinct evaluation_id) filter (
            where is_applicable
        ) as evaluation_count,
        count(distinct evaluation_id) filter (
            where not is_applicable
        ) as not_applicable_count,
        count(distinct evaluation_id) filter (where is_failed)
            as failure_count,
        count(distinct evaluation_id) filter (where is_fatal_failure)
            as fatal_failure_count,
        count(is_new_hire) > 0 as has_known_tenure,
        count(distinct evaluation_id) filter (
            where is_applicable and is_new_hire
        ) as new_hire_evaluation_count,
        count(distinct evaluation_id) filter (
            where is_failed and is_new_hire
        ) as new_hire_failure_count,
        count(distinct evaluation_id) filter (
            where is_applicable and not is_new_hire
        ) as tenured_evaluation_count,
        count(distinct evaluation_id) filter (
            where is_failed and not is_new_hire
        ) as tenured_failure_count
    from criteria
    group by 1, 2, 3, 4

),

rated as (

    select
        *,
        {{ safe_divide('failure_count', 'evaluation_count') }}
            as failure_rate,
        case
            when has_known_tenure
                then {{ safe_divide(
                    'new_hire_failure_count', 'new_hire_evaluation_count'
                ) }}
        end as new_hire_failure_rate,
        case
            when has_known_tenure
                then {{ safe_divide(
                    'tenured_failure_count', 'tenured_evaluation_count'
                ) }}
        end as tenured_failure_rate
    from counted

),

ranked as (

    select
        -- ids
        tenant_id,
        form_id,
        criterion_id,

        -- strings
        criterion_name,
        section,

        -- numerics
        evaluation_count,
        not_applicable_count,
        failure_count,
        fatal_failure_count,
        failure_rate,
        rank() over (
            partition by tenant_id, month_start_date
            order by failure_rate desc nulls last
        ) as failure_rank,
        case when has_known_tenure then new_hire_evaluation_count end
            as new_hire_evaluation_count,
        case when has_known_tenure then new_hire_failure_count end
            as new_hire_failure_count,
        new_hire_failure_rate,
        case
            when new_hire_failure_rate is not null
                then rank() over (
                    partition by tenant_id, month_start_date
                    order by new_hire_failure_rate desc nulls last
                )
        end as new_hire_failure_rank,
        case when has_known_tenure then tenured_evaluation_count end
            as tenured_evaluation_count,
        case when has_known_tenure then tenured_failure_count end
            as tenured_failure_count,
        tenured_failure_rate,

        -- booleans
        is_fatal,

        -- dates
        month_start_date

    from rated

)

select * from ranked
