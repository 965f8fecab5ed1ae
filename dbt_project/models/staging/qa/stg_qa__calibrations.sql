{#
    One row per tenant x calibration session x criterion x participant (the
    consensus row apart). A re-delivered session replaces the whole session:
    the rows of the latest delivery that holds it win, and within it the last
    line per participant and criterion.
#}
with

qa_calibrations as (

    {{ admitted(source('qa', 'qa_calibrations')) }}

),

latest_delivery as (

    select *
    from qa_calibrations
    qualify file_id = first_value(file_id) over (
        partition by tenant_id, calibration_id
        order by delivery_date desc, file_id desc
    )

),

typed as (

    select
        * exclude (is_consensus, is_not_applicable),
        coalesce(is_consensus, false) as is_consensus,
        coalesce(is_not_applicable, false) as is_not_applicable
    from latest_delivery

),

deduplicated as (

    select *
    from typed
    qualify row_number() over (
        partition by
            tenant_id, calibration_id, criterion_id,
            coalesce(evaluator_id, ''), is_consensus
        order by source_line desc
    ) = 1

),

renamed as (

    select
        -- ids
        tenant_id,
        calibration_id,
        criterion_id,
        evaluator_id,
        evaluation_id,
        contact_id,
        agent_id,
        form_id,
        file_id,

        -- strings
        criterion_name,

        -- numerics
        form_version,
        score,
        max_score,
        weight,

        -- booleans
        is_consensus,
        is_auto_fail,
        is_not_applicable,

        -- dates
        delivery_date,

        -- timestamps (UTC)
        calibrated_at,
        loaded_at

    from deduplicated

)

select * from renamed
