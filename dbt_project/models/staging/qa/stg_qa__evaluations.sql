{#
    One row per tenant x evaluation x criterion. QA tools export an evaluation
    whole, so a re-delivered evaluation (corrected, disputed, re-scored)
    replaces all its criterion rows: the rows of the latest delivery that
    holds the evaluation win (later delivery day, then later load, then file),
    and within it the last line per criterion.
#}
with

qa_evaluations as (

    {{ admitted(source('qa', 'qa_evaluations')) }}

),

latest_delivery as (

    select *
    from qa_evaluations
    qualify file_id = first_value(file_id) over (
        partition by tenant_id, evaluation_id
        order by delivery_date desc, file_id desc
    )

),

deduplicated as (

    select *
    from latest_delivery
    qualify row_number() over (
        partition by tenant_id, evaluation_id, criterion_id
        order by source_line desc
    ) = 1

),

renamed as (

    select
        -- ids
        tenant_id,
        evaluation_id,
        criterion_id,
        contact_id,
        agent_id,
        evaluator_id,
        form_id,
        file_id,

        -- strings
        status as evaluation_status,
        section,
        criterion_name,
        answer,

        -- numerics
        form_version,
        score,
        max_score,
        weight,

        -- booleans
        is_fatal,
        is_auto_fail,
        coalesce(is_not_applicable, false) as is_not_applicable,

        -- dates
        delivery_date,

        -- timestamps (UTC)
        evaluated_at,
        loaded_at

    from deduplicated

)

select * from renamed
