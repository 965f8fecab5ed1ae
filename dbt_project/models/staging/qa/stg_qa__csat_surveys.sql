{#
    One row per tenant x survey response. A response delivered again counts
    once: the latest delivery day, then the later file, then the last line
    wins.
#}
with

csat_surveys as (

    {{ admitted(source('qa', 'csat_surveys')) }}

),

deduplicated as (

    select *
    from csat_surveys
    {{ keep_latest_delivered('tenant_id, survey_id') }}

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
