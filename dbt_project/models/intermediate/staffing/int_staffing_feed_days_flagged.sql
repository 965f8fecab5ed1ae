{#
    One row per tenant x local date on which any staffing feed delivered
    data: whether schedules (shift_date), attendance (work_date) and agent
    state changes (local date of the change) exist for that date. The marts
    publish a figure only for dates its feeds cover, null elsewhere.
#}
with

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

shift_dates as (

    select distinct
        tenant_id,
        shift_date as feed_date
    from {{ ref('stg_hr__shifts') }}

),

attendance_dates as (

    select distinct
        tenant_id,
        work_date as feed_date
    from {{ ref('stg_hr__attendance') }}

),

state_dates as (

    select distinct
        agent_state_events.tenant_id,
        cast({{ to_local('agent_state_events.event_at', 'tenants.timezone') }} as date)
            as feed_date
    from {{ ref('stg_telephony__agent_state_events') }} as agent_state_events
    inner join tenants
        on agent_state_events.tenant_id = tenants.tenant_id

),

dates as (

    select
        tenant_id,
        feed_date
    from shift_dates
    union
    select
        tenant_id,
        feed_date
    from attendance_dates
    union
    select
        tenant_id,
        feed_date
    from state_dates

),

final as (

    select
        -- ids
        dates.tenant_id,

        -- booleans
        shift_dates.feed_date is not null as has_shifts,
        attendance_dates.feed_date is not null as has_attendance,
        state_dates.feed_date is not null as has_agent_states,

        -- dates
        dates.feed_date

    from dates
    left join shift_dates
        on
            dates.tenant_id = shift_dates.tenant_id
            and dates.feed_date = shift_dates.feed_date
    left join attendance_dates
        on
            dates.tenant_id = attendance_dates.tenant_id
            and dates.feed_date = attendance_dates.feed_date
    left join state_dates
        on
            dates.tenant_id = state_dates.tenant_id
            and dates.feed_date = state_dates.feed_date

)

select * from final
