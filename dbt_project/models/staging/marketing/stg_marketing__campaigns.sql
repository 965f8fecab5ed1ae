{#
    One row per tenant x campaign. Campaign exports repeat every campaign
    with its current terms: the latest delivery day, then the later file,
    then the last line wins.
#}
with

marketing_campaigns as (

    {{ admitted(source('marketing', 'marketing_campaigns')) }}

),

deduplicated as (

    select *
    from marketing_campaigns
    {{ keep_latest_delivered('tenant_id, campaign_id') }}

),

renamed as (

    select
        -- ids
        tenant_id,
        campaign_id,
        file_id,

        -- strings
        campaign_name,
        product,
        direction,
        lower(target_segment) as target_segment,
        upper(currency) as currency,

        -- numerics
        unit_value,
        commission_per_sale,
        agent_cost_per_hour,
        fixed_cost,
        business_weight,

        -- dates
        starts_on as start_date,
        ends_on as end_date,
        delivery_date,

        -- timestamps (UTC)
        loaded_at

    from deduplicated

)

select * from renamed
