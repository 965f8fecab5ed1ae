{#
    One row per tenant x agent x work day. A corrected attendance record
    (late clock-out, approved leave) arrives again: the latest delivery day,
    then the later file, then the last line wins.
#}
with

hr_attendance as (

    {{ admitted(source('hr', 'hr_attendance')) }}

),

deduplicated as (

    select *
    from hr_attendance
    {{ keep_latest_delivered('tenant_id, agent_id, work_date') }}

),

renamed as (

    select
        -- ids
        tenant_id,
        agent_id,
        file_id,

        -- strings
        status as attendance_status,
        absence_reason,

        -- numerics
        absence_seconds,

        -- booleans
        is_planned,

        -- dates
        work_date,
        delivery_date,

        -- timestamps (UTC)
        clock_in_at,
        clock_out_at,
        loaded_at

    from deduplicated

)

select * from renamed
