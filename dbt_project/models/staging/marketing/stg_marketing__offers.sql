{#
    One row per tenant x in-call offer. An offer is delivered again when its
    outcome changes (accepted after a call-back): the latest delivery day,
    then the latest load, then the last line wins.
#}
with

marketing_offers as (

    select * from {{ source('marketing', 'marketing_offers') }}

),

deduplicated as (

    select *
    from marketing_offers
    qualify row_number() over (
        partition by tenant_id, offer_id
        order by
            delivery_date desc, loaded_at desc,
            file_id desc, source_line desc
    ) = 1

),

renamed as (

    select
        -- ids
        tenant_id,
        offer_id,
        campaign_id,
        contact_id,
        agent_id,
        customer_id_hash,
        file_id,

        -- strings
        decline_reason,

        -- numerics
        revenue,
        commission,
        pitch_seconds,

        -- booleans
        is_shown,
        is_pitched,
        is_accepted,

        -- dates
        delivery_date,

        -- timestamps (UTC)
        offered_at,
        loaded_at

    from deduplicated

)

select * from renamed
