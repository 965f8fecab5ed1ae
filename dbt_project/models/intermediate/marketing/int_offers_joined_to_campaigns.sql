{#
    One row per tenant x in-call offer, dated by the tenant-local day of the
    offer (offered_at, the pop-up), with the campaign's terms and the money
    each offer brings in and costs (DECISIONLOG "Marketing and HR marts"):
    - revenue of an accepted offer: the offer's own revenue, else the
      campaign's unit_value (sales x unit value, seed 003); null when
      neither is known. Offers not accepted bring 0.
    - staff cost: pitch_seconds / 3600 x the campaign's agent_cost_per_hour
      (a missing pitch time or rate counts as no such cost).
    - commission of an accepted offer: the offer's own commission, else the
      campaign's commission_per_sale, else 0.
    An offer whose campaign has not been delivered keeps its funnel flags;
    its campaign attributes and unit-value fallback are null.
#}
with

offers as (

    select * from {{ ref('stg_marketing__offers') }}

),

campaigns as (

    select * from {{ ref('stg_marketing__campaigns') }}

),

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

joined as (

    select
        -- ids
        offers.tenant_id,
        offers.offer_id,
        offers.campaign_id,

        -- strings
        campaigns.campaign_name,
        campaigns.product,
        campaigns.direction,
        campaigns.currency,

        -- numerics
        coalesce(offers.pitch_seconds, 0) as pitch_seconds,
        case
            when offers.is_accepted
                then coalesce(offers.revenue, campaigns.unit_value)
            else 0
        end as revenue,
        coalesce(offers.pitch_seconds, 0)
        * coalesce(campaigns.agent_cost_per_hour, 0) / 3600.0 as staff_cost,
        case
            when offers.is_accepted
                then coalesce(
                    offers.commission, campaigns.commission_per_sale, 0
                )
            else 0
        end as commission_cost,
        tenants.roi_pause_threshold,

        -- booleans
        offers.is_shown,
        offers.is_pitched,
        offers.is_accepted,
        campaigns.campaign_id is not null as is_campaign_known,

        -- dates
        cast(
            {{ to_local('offers.offered_at', 'tenants.timezone') }} as date
        ) as offer_date,

        -- timestamps (UTC)
        offers.offered_at

    from offers
    inner join tenants
        on offers.tenant_id = tenants.tenant_id
    left join campaigns
        on
            offers.tenant_id = campaigns.tenant_id
            and offers.campaign_id = campaigns.campaign_id

)

select * from joined
