{#
    One row per tenant x survey response. A response delivered again counts
    once: the latest delivery day, then the latest load, then the last line
    wins.
#}
with

csat_surveys as (

    select * from {{ source('qa', 'csat_surveys') }}

),

deduplicated as (

    select *
    from csat_surveys
    qualify row_number() over (
        partition by tenant_id, survey_id
        order by
            delivery_date desc, loaded_at desc,
            file_id desc, source_line desc
    ) = 1

),

renamed as (

    select
        -- ids
        tenant_id,
        survey_id,
        contact_id,
        agent_id,
        queue_id,
        caller_number_hash as caller_id_hash,
        customer_id_hash,
        file_id,

        -- strings
        lower(channel) as channel,

        -- numerics
        score,
        coalesce(scale_min, 1) as scale_min,
        scale_max,

        -- booleans
        is_resolved,

        -- dates
        delivery_date,

        -- timestamps (UTC)
        answered_at,
        loaded_at

    from deduplicated

)

select * from renamed
