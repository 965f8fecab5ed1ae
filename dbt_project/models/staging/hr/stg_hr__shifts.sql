{#
    One row per tenant x agent x scheduled activity (starts_at, activity).
    Schedules are re-published as plans change, so an agent's day is the unit
    of replacement: the rows of the latest delivery that holds the agent's
    shift_date win (later delivery day, then later load, then file), and
    within it the last line per activity start.
#}
with

hr_shifts as (

    {{ admitted(source('hr', 'hr_shifts')) }}

),

latest_delivery as (

    select *
    from hr_shifts
    qualify file_id = first_value(file_id) over (
        partition by tenant_id, agent_id, shift_date
        order by delivery_date desc, file_id desc
    )

),

deduplicated as (

    select *
    from latest_delivery
    qualify row_number() over (
        partition by tenant_id, agent_id, starts_at, activity
        order by source_line desc
    ) = 1

),

renamed as (

    select
        -- ids
        tenant_id,
        agent_id,
        shift_id,
        queue_id,
        file_id,

        -- strings
        activity,
        activity_name,

        -- numerics
        date_diff('second', starts_at, ends_at) as activity_seconds,

        -- booleans
        is_paid,

        -- dates
        shift_date,
        delivery_date,

        -- timestamps (UTC)
        starts_at,
        ends_at,
        loaded_at

    from deduplicated

)

select * from renamed
