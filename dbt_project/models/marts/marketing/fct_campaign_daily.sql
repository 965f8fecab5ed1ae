{#
    One row per tenant x campaign x tenant-local day with at least one offer:
    the in-call offer funnel (shown -> pitched -> accepted), revenue, cost and
    ROI, and a pause recommendation from the trailing 7 days (DECISIONLOG
    "Marketing and HR marts"). Formulas live in macros/kpis.sql.
#}
with

offers as (

    select * from {{ ref('int_offers_joined_to_campaigns') }}

),

counted as (

    select
        tenant_id,
        campaign_id,
        offer_date,
        any_value(campaign_name) as campaign_name,
        any_value(product) as product,
        any_value(direction) as direction,
        any_value(currency) as currency,
        any_value(roi_pause_threshold) as roi_pause_threshold,
        count(*) as offer_count,
        count(*) filter (where is_shown) as shown_count,
        count(*) filter (where is_pitched) as pitched_count,
        count(*) filter (where is_accepted) as accepted_count,
        sum(pitch_seconds) as pitch_seconds,
        -- an accepted offer of unknown value makes the day's revenue unknown
        case
            when bool_and(revenue is not null) then sum(revenue)
        end as revenue,
        sum(staff_cost) as staff_cost,
        sum(commission_cost) as commission_cost
    from offers
    group by 1, 2, 3

),

costed as (

    select
        *,
        staff_cost + commission_cost as cost
    from counted

),

summed_over_7_days as (

    select
        *,
        case
            when count(revenue) over trailing_7d = count(*) over trailing_7d
                then sum(revenue) over trailing_7d
        end as revenue_trailing_7d,
        sum(cost) over trailing_7d as cost_trailing_7d,
        min(offer_date) over (
            partition by tenant_id, campaign_id
        ) as first_offer_date
    from costed
    window trailing_7d as (
        partition by tenant_id, campaign_id
        order by offer_date
        range between interval 6 days preceding and current row
    )

),

rated as (

    select
        *,
        {{ safe_divide('pitched_count', 'shown_count') }} as pitch_rate,
        {{ safe_divide('accepted_count', 'pitched_count') }} as acceptance_rate,
        {{ safe_divide('accepted_count', 'shown_count') }} as conversion_rate,
        {{ roi('revenue', 'cost') }} as roi,
        {{ roi('revenue_trailing_7d', 'cost_trailing_7d') }} as roi_trailing_7d
    from summed_over_7_days

),

flagged as (

    select
        *,
        -- judged once the campaign has a full week of offers behind it;
        -- no ROI (no cost, unknown revenue) is no recommendation
        coalesce(
            first_offer_date <= offer_date - 6
            and roi_trailing_7d < roi_pause_threshold,
            false
        ) as is_pause_recommended
    from rated

),

final as (

    select
        -- grain
        tenant_id,
        campaign_id,
        offer_date,

        -- strings
        campaign_name,
        product,
        direction,
        currency,

        -- numerics
        offer_count,
        shown_count,
        pitched_count,
        accepted_count,
        pitch_rate,
        acceptance_rate,
        conversion_rate,
        pitch_seconds,
        revenue,
        staff_cost,
        commission_cost,
        cost,
        roi,
        revenue_trailing_7d,
        cost_trailing_7d,
        roi_trailing_7d,
        roi_pause_threshold,

        -- booleans
        is_pause_recommended

    from flagged

)

select * from final
