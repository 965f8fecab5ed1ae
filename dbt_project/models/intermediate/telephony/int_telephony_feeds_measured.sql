{#
    One row per tenant with loaded telephony: how far it reaches, what
    completeness is judged on (macros/completeness.sql; DECISIONLOG "Partial
    days"). last_event_at is the latest time of any loaded telephony (a
    queue_log line, an agent state change, a contact's entry, answer or end);
    last_delivery_date the latest delivery day of a telephony file that
    loaded (an empty one included). Never the wall clock: a replayed day is
    judged as it was live.

    A day is complete once last_event_at reaches its last interval or
    last_delivery_date is later than the day (macro is_day_complete); an
    interval once last_event_at is at or after its end.
#}
with

event_days as (

    select * from {{ ref('int_telephony_events_bucketed_to_days') }}

),

deliveries as (

    select * from {{ ref('stg_config__deliveries') }}
    where feed = 'telephony'

),

event_extents as (

    select
        tenant_id,
        max(last_event_at) as last_event_at
    from event_days
    group by 1

),

delivery_extents as (

    select
        tenant_id,
        max(delivery_date) as last_delivery_date
    from deliveries
    group by 1

),

final as (

    select
        -- ids
        coalesce(event_extents.tenant_id, delivery_extents.tenant_id)
            as tenant_id,

        -- dates
        delivery_extents.last_delivery_date,

        -- timestamps (UTC)
        event_extents.last_event_at

    from event_extents
    full join delivery_extents
        on event_extents.tenant_id = delivery_extents.tenant_id

)

select * from final
