{#
    One row per tenant x in-call offer. An offer is delivered again when its
    outcome changes (accepted after a call-back): the latest delivery day,
    then the later file, then the last line wins.
#}
with

marketing_offers as (

    {{ admitted(source('marketing', 'marketing_offers')) }}

),

deduplicated as (

    select *
    from marketing_offers
    {{ keep_latest_delivered('tenant_id, offer_id') }}

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
