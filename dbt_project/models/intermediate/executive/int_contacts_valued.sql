{{ config(
    materialized='incremental',
    incremental_strategy='window_overwrite',
    unique_key=['tenant_id', 'contact_id'],
    meta={'window_column': 'contact_date', 'whole_when_changed': ['marketing']},
) }}
{%- set reach = fcr_reach_days(90, 3) -%}
{#
    One row per tenant x inbound contact: the contact's value components and
    its value tier (docs/domain.md "Value and segments", seed 003: historical,
    current, future, influence and elasticity value, weighted into
    high-value / low-value / complex contacts). Weights and thresholds in
    DECISIONLOG.md ("Contact value tiers").
    - historical: accepted-offer revenue of the same caller's earlier
      contacts in the 90 days before this one, in units of the tenant's
      average sale (capped at 1);
    - current: accepted-offer revenue of this contact, likewise;
    - future: an offer was pitched on this contact but not (yet) accepted;
    - influence: the VIP segment;
    - elasticity: the caller's earlier acceptance rate (accepted / pitched,
      90 days).
    Complex (first, whatever the value): transferred or overflowed (more than
    one stint), a repeat within the tenant's FCR window, or a handle time
    above twice the tenant-day's median. Withheld callers have no history.
    Incremental (macros/build_window.sql): a change on a day re-values the
    contacts of that local day and of the reach after it (90 days of caller
    history, or the FCR window if longer, + 3 days), each from what its
    caller's history adds: the contacts within the FCR window before it and
    those with offers within the reach before it.
    A marketing change re-values every contact (the tenant's average sale
    is over all its offers).
#}
with

offers as (

    select * from {{ ref('stg_marketing__offers') }}

),

{% if build_window_ranges() is not none %}
{%- set revalued = in_build_window('contact_date', after=reach) %}
{%- set in_fcr_history = in_build_window(
    'first_entered_at', before=fcr_reach_days(0, 2), after=reach
) %}
{# the contacts this build re-values, and what the window functions read
   of their callers' history: the contacts within the FCR window before
   them (the repeat count) and those with offers within reach (the revenue
   and acceptance sums; a contact without offers adds nothing to them).
   Each reads the roll-up with its own window (stored in time order, the
   rest of it is skipped), not a shared CTE DuckDB would materialise whole #}
revalued_contacts as (

    select * from {{ ref('int_contacts_rolled_up') }}
    where {{ revalued }}

),

revalued_callers as (

    select distinct
        tenant_id,
        caller_id_hash
    from revalued_contacts
    where caller_id_hash is not null

),

contacts as (

    select * from revalued_contacts
    union all
    select fcr_history.*
    from {{ ref('int_contacts_rolled_up') }} as fcr_history
    semi join revalued_callers
        on
            fcr_history.tenant_id = revalued_callers.tenant_id
            and fcr_history.caller_id_hash = revalued_callers.caller_id_hash
    where {{ in_fcr_history }} and not {{ revalued }}
    union all
    select offer_history.*
    from {{ ref('int_contacts_rolled_up') }} as offer_history
    semi join offers
        on
            offer_history.tenant_id = offers.tenant_id
            and offer_history.contact_id = offers.contact_id
    semi join revalued_callers
        on
            offer_history.tenant_id = revalued_callers.tenant_id
            and offer_history.caller_id_hash = revalued_callers.caller_id_hash
    where
        {{ in_build_window('first_entered_at', before=reach, after=reach) }}
        and not {{ in_fcr_history }}
        and not {{ revalued }}

),
{% else %}
contacts as (

    select * from {{ ref('int_contacts_rolled_up') }}

),
{% endif %}

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

typical_sales as (

    select
        tenant_id,
        avg(revenue) filter (where is_accepted and revenue > 0)
            as average_sale_revenue
    from offers
    group by 1

),

offers_per_contact as (

    select
        tenant_id,
        contact_id,
        count(*) filter (where is_pitched) as pitched_count,
        count(*) filter (where is_accepted) as accepted_count,
        coalesce(sum(revenue) filter (where is_accepted), 0) as revenue
    from offers
    where contact_id is not null
    group by 1, 2

),

joined as (

    select
        contacts.tenant_id,
        contacts.contact_id,
        contacts.caller_id_hash,
        contacts.contact_date,
        contacts.first_entered_at,
        contacts.stint_count,
        contacts.handle_seconds,
        contacts.is_vip,
        contacts.is_transferred,
        coalesce(offers_per_contact.pitched_count, 0) as pitched_count,
        coalesce(offers_per_contact.accepted_count, 0) as accepted_count,
        coalesce(offers_per_contact.revenue, 0) as current_revenue,
        tenants.fcr_window_days,
        typical_sales.average_sale_revenue
    from contacts
    inner join tenants
        on contacts.tenant_id = tenants.tenant_id
    left join offers_per_contact
        on
            contacts.tenant_id = offers_per_contact.tenant_id
            and contacts.contact_id = offers_per_contact.contact_id
    left join typical_sales
        on contacts.tenant_id = typical_sales.tenant_id
    where contacts.is_offered or contacts.is_ivr_contained

),

{# a caller without any offer has no revenue or pitch history: the 90-day
   sums run over the contacts of callers with offers only #}
offer_callers as (

    select distinct
        tenant_id,
        caller_id_hash
    from joined
    where
        caller_id_hash is not null
        and (pitched_count > 0 or accepted_count > 0 or current_revenue > 0)

),

offer_histories as (

    select
        joined.tenant_id,
        joined.contact_id,
        coalesce(sum(joined.current_revenue) over caller_90_days, 0) as historical_revenue,
        sum(joined.pitched_count) over caller_90_days as prior_pitched_count,
        sum(joined.accepted_count) over caller_90_days as prior_accepted_count
    from joined
    semi join offer_callers
        on
            joined.tenant_id = offer_callers.tenant_id
            and joined.caller_id_hash = offer_callers.caller_id_hash
    window caller_90_days as (
        partition by joined.tenant_id, joined.caller_id_hash
        order by joined.first_entered_at
        range between interval 90 days preceding and interval 1 microsecond preceding
    )

),

{# the caller's latest contact before each (not at the same instant), on
   the few columns it needs: a window over every column of `joined` costs
   five times as much #}
previous_contacts as (

    select
        tenant_id,
        contact_id,
        max(first_entered_at) over (
            partition by tenant_id, caller_id_hash
            order by first_entered_at
            range between unbounded preceding and interval 1 microsecond preceding
        ) as previous_contact_entered_at
    from joined
    where caller_id_hash is not null

),

daily_medians as (

    select
        tenant_id,
        contact_date,
        median(handle_seconds) as median_handle_seconds
    from joined
    group by 1, 2

),

histories as (

    select
        joined.*,
        coalesce(offer_histories.historical_revenue, 0) as historical_revenue,
        offer_histories.prior_pitched_count,
        offer_histories.prior_accepted_count,
        previous_contacts.previous_contact_entered_at,
        daily_medians.median_handle_seconds
    from joined
    left join offer_histories
        on
            joined.tenant_id = offer_histories.tenant_id
            and joined.contact_id = offer_histories.contact_id
    left join previous_contacts
        on
            joined.tenant_id = previous_contacts.tenant_id
            and joined.contact_id = previous_contacts.contact_id
    inner join daily_medians
        on
            joined.tenant_id = daily_medians.tenant_id
            and joined.contact_date = daily_medians.contact_date

),

scored as (

    select
        *,
        -- revenue in units of the tenant's average sale, capped at 1
        coalesce(
            least({{ safe_divide('historical_revenue', 'average_sale_revenue') }}, 1), 0
        ) as historical_value,
        coalesce(
            least({{ safe_divide('current_revenue', 'average_sale_revenue') }}, 1), 0
        ) as current_value,
        case when pitched_count > accepted_count then 1.0 else 0.0 end
            as future_value,
        case when is_vip then 1.0 else 0.0 end as influence_value,
        coalesce(
            {{ safe_divide('prior_accepted_count', 'prior_pitched_count') }}, 0
        ) as elasticity_value
    from histories

),

tiered as (

    select
        -- ids
        tenant_id,
        contact_id,

        -- strings
        case
            when is_complex then 'complex'
            when value_score >= 0.2 then 'high_value'
            else 'low_value'
        end as value_tier,

        -- numerics
        historical_revenue,
        current_revenue,
        historical_value,
        current_value,
        future_value,
        influence_value,
        elasticity_value,
        value_score,
        handle_seconds,

        -- booleans
        is_complex,

        -- dates
        contact_date

    from (
        select
            *,
            0.3 * historical_value
            + 0.3 * current_value
            + 0.1 * future_value
            + 0.2 * influence_value
            + 0.1 * elasticity_value as value_score,
            (
                stint_count > 1
                or is_transferred
                or coalesce(
                    previous_contact_entered_at
                    >= first_entered_at - to_days(cast(fcr_window_days as integer)),
                    false
                )
                or coalesce(handle_seconds > 2 * median_handle_seconds, false)
            ) as is_complex
        from scored
    ) as weighed

)

select * from tiered
where {{ in_build_window('contact_date', after=reach) }}
