{{ config(
    materialized='incremental',
    incremental_strategy='window_overwrite',
    unique_key=['tenant_id', 'capacity_date'],
    meta={'window_column': 'capacity_date', 'whole_when_changed': ['hr', 'marketing']},
) }}
{#- the days after a change whose forecast it changes (the Erlang workload of an
    interval whose AHT is the forecast's) -#}
{%- set forecast_reach = forecast_reach_days() -%}
{#
    One row per tenant x local date with contacts or staffing feeds: seed
    003's resource balance (docs/domain.md "Staffing"), the day's workload
    (service + marketing) against the capacity its agents gave, in seconds,
    and the gap. Each factor is published beside the result; a factor whose
    feed is missing that day is null, and so are the totals built on it.
    Incremental (macros/build_window.sql): a telephony change rebuilds the
    days it touched and those whose forecast it changes (the forecast reach
    after it), each replacing its row (unique_key); an HR or marketing
    change rebuilds every day.
#}
with

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

inbound as (

    select * from {{ ref('int_contacts_rolled_up') }}
    where is_offered and {{ in_build_window('contact_date', after=forecast_reach) }}

),

outbound_stints as (

    select * from {{ ref('stg_telephony__contacts') }}
    -- a contact's stints, dated by its first (local day at most 14 h off UTC)
    where
        direction = 'outbound'
        and {{ in_build_window('entered_at', before=1, after=forecast_reach ~ ' + 1') }}

),

offers as (

    select * from {{ ref('stg_marketing__offers') }}

),

shifts as (

    select * from {{ ref('stg_hr__shifts') }}

),

attendance as (

    select * from {{ ref('stg_hr__attendance') }}

),

agent_intervals as (

    select * from {{ ref('int_agent_intervals_measured') }}
    where {{ in_build_window('interval_start_at', before=1, after=forecast_reach ~ ' + 1') }}

),

staffed as (

    select * from {{ ref('int_queue_intervals_staffed') }}
    where not is_future

),

feed_days as (

    select * from {{ ref('int_staffing_feed_days_flagged') }}

),

offer_pitches as (

    {# pitch time spent inside an inbound contact, taken out of its service handle time #}
    select
        tenant_id,
        contact_id,
        sum(pitch_seconds) as pitch_seconds
    from offers
    where is_pitched and contact_id is not null
    group by 1, 2

),

inbound_days as (

    select
        inbound.tenant_id,
        inbound.contact_date as capacity_date,
        count(*) as offered_count,
        count(*) filter (where inbound.is_answered) as answered_count,
        count(inbound.handle_seconds) filter (where inbound.is_answered) as handled_count,
        sum(inbound.handle_seconds - coalesce(offer_pitches.pitch_seconds, 0))
        filter (where inbound.is_answered) as service_handle_seconds
    from inbound
    left join offer_pitches
        on
            inbound.tenant_id = offer_pitches.tenant_id
            and inbound.contact_id = offer_pitches.contact_id
    group by 1, 2

),

outbound_days as (

    select
        outbound_contacts.tenant_id,
        cast({{ to_local('outbound_contacts.first_entered_at', 'tenants.timezone') }} as date)
            as capacity_date,
        count(*) as outbound_count,
        count(*) filter (where outbound_contacts.is_answered) as outbound_answered_count
    from (
        select
            tenant_id,
            contact_id,
            min(entered_at) as first_entered_at,
            bool_or(outcome = 'answered') as is_answered
        from outbound_stints
        group by 1, 2
    ) as outbound_contacts
    inner join tenants
        on outbound_contacts.tenant_id = tenants.tenant_id
    group by 1, 2

),

offer_days as (

    select
        offers.tenant_id,
        cast({{ to_local('offers.offered_at', 'tenants.timezone') }} as date) as capacity_date,
        count(*) filter (where offers.is_shown) as shown_count,
        count(*) filter (where offers.is_pitched) as pitched_count,
        avg(offers.pitch_seconds) filter (where offers.is_pitched) as marketing_aht_seconds
    from offers
    inner join tenants
        on offers.tenant_id = tenants.tenant_id
    group by 1, 2

),

shift_activities as (

    select
        shifts.tenant_id,
        shifts.agent_id,
        shifts.shift_date,
        date_diff('millisecond', shifts.starts_at, shifts.ends_at) / 1000.0 as paid_seconds,
        case
            when attendance.attendance_status in ('absent', 'sick', 'leave', 'day_off') then 0.0
            else greatest(
                0.0,
                date_diff(
                    'millisecond',
                    greatest(shifts.starts_at, coalesce(attendance.clock_in_at, shifts.starts_at)),
                    least(shifts.ends_at, coalesce(attendance.clock_out_at, shifts.ends_at))
                ) / 1000.0
            )
        end as attended_seconds
    from shifts
    left join attendance
        on
            shifts.tenant_id = attendance.tenant_id
            and shifts.agent_id = attendance.agent_id
            and shifts.shift_date = attendance.work_date
    where coalesce(shifts.is_paid, shifts.activity <> 'lunch')

),

shift_days as (

    select
        tenant_id,
        shift_date as capacity_date,
        count(distinct agent_id) as scheduled_agent_count,
        sum(paid_seconds) as paid_seconds,
        sum(attended_seconds) as attended_seconds
    from shift_activities
    group by 1, 2

),

available_days as (

    {# an agent's availability in several queues is counted once (max) #}
    select
        per_agent.tenant_id,
        cast({{ to_local('per_agent.interval_start_at', 'tenants.timezone') }} as date)
            as capacity_date,
        sum(per_agent.available_seconds) as available_seconds
    from (
        select
            tenant_id,
            agent_id,
            interval_start_at,
            max(available_seconds) as available_seconds
        from agent_intervals
        group by 1, 2, 3
    ) as per_agent
    inner join tenants
        on per_agent.tenant_id = tenants.tenant_id
    group by 1, 2

),

erlang_days as (

    select
        tenant_id,
        interval_date as capacity_date,
        sum(staffing_calls * staffing_aht_seconds) filter (where erlang_c_agents > 0)
            as erlang_workload_seconds,
        sum(erlang_c_agents * interval_seconds) filter (where erlang_c_agents > 0)
            as erlang_agent_seconds
    from staffed
    group by 1, 2

),

days as (

    select
        tenant_id,
        capacity_date
    from inbound_days
    union
    select
        tenant_id,
        feed_date
    from feed_days

),

factors as (

    select
        days.tenant_id,
        days.capacity_date,
        coalesce(inbound_days.offered_count, 0)
        + coalesce(outbound_days.outbound_count, 0) as call_count,
        coalesce(inbound_days.answered_count, 0) as answered_count,
        {{ safe_divide(
            'coalesce(inbound_days.answered_count, 0) + coalesce(outbound_days.outbound_answered_count, 0)',
            'coalesce(inbound_days.offered_count, 0) + coalesce(outbound_days.outbound_count, 0)'
        ) }} as answer_rate,
        {{ safe_divide(
            'coalesce(inbound_days.answered_count, 0)',
            'coalesce(inbound_days.answered_count, 0) + coalesce(outbound_days.outbound_answered_count, 0)'
        ) }} as service_share,
        {{ safe_divide('inbound_days.service_handle_seconds', 'inbound_days.handled_count') }}
            as service_aht_seconds,
        {{ safe_divide('offer_days.shown_count', 'inbound_days.answered_count') }} as popup_rate,
        {{ safe_divide('offer_days.pitched_count', 'offer_days.shown_count') }}
            as recommendation_rate,
        offer_days.marketing_aht_seconds,
        case when feed_days.has_shifts then shift_days.scheduled_agent_count end
            as scheduled_agent_count,
        case
            when feed_days.has_shifts
                then {{ safe_divide(
                    'shift_days.paid_seconds', 'shift_days.scheduled_agent_count'
                ) }}
        end as shift_seconds,
        case
            when feed_days.has_shifts and feed_days.has_attendance
                then {{ safe_divide('shift_days.attended_seconds', 'shift_days.paid_seconds') }}
        end as attendance_rate,
        case
            when feed_days.has_shifts and feed_days.has_agent_states
                then {{ safe_divide(
                    'coalesce(available_days.available_seconds, 0)',
                    'shift_days.attended_seconds'
                ) }}
        end as online_utilisation_rate,
        1 - {{ safe_divide(
            'erlang_days.erlang_workload_seconds', 'erlang_days.erlang_agent_seconds'
        ) }} as redundancy_loss_rate
    from days
    left join inbound_days
        on
            days.tenant_id = inbound_days.tenant_id
            and days.capacity_date = inbound_days.capacity_date
    left join outbound_days
        on
            days.tenant_id = outbound_days.tenant_id
            and days.capacity_date = outbound_days.capacity_date
    left join offer_days
        on
            days.tenant_id = offer_days.tenant_id
            and days.capacity_date = offer_days.capacity_date
    left join shift_days
        on
            days.tenant_id = shift_days.tenant_id
            and days.capacity_date = shift_days.capacity_date
    left join available_days
        on
            days.tenant_id = available_days.tenant_id
            and days.capacity_date = available_days.capacity_date
    left join erlang_days
        on
            days.tenant_id = erlang_days.tenant_id
            and days.capacity_date = erlang_days.capacity_date
    left join feed_days
        on
            days.tenant_id = feed_days.tenant_id
            and days.capacity_date = feed_days.feed_date

),

balanced as (

    select
        *,
        case
            when call_count = 0 then 0.0
            else {{ service_workload_seconds(
                'call_count', 'answer_rate', 'service_share', 'service_aht_seconds'
            ) }}
        end as service_workload_seconds,
        case
            when answered_count = 0 then 0.0
            else coalesce(
                {{ marketing_workload_seconds(
                    'answered_count', 'popup_rate', 'recommendation_rate', 'marketing_aht_seconds'
                ) }},
                case when popup_rate is null or popup_rate = 0 then 0.0 end
            )
        end as marketing_workload_seconds,
        {{ capacity_seconds(
            'scheduled_agent_count',
            'online_utilisation_rate',
            'attendance_rate',
            'shift_seconds',
            'redundancy_loss_rate'
        ) }} as capacity_seconds
    from factors

),

final as (

    select
        -- ids
        tenant_id,

        -- dates
        capacity_date,

        -- numerics
        call_count,
        answer_rate,
        service_share,
        service_aht_seconds,
        popup_rate,
        recommendation_rate,
        marketing_aht_seconds,
        service_workload_seconds,
        marketing_workload_seconds,
        service_workload_seconds + marketing_workload_seconds as workload_seconds,
        scheduled_agent_count,
        online_utilisation_rate,
        attendance_rate,
        shift_seconds,
        redundancy_loss_rate,
        capacity_seconds,
        capacity_seconds - (service_workload_seconds + marketing_workload_seconds)
            as capacity_gap_seconds

    from balanced

)

select * from final
where {{ in_build_window('capacity_date', after=forecast_reach) }}
