{#
    One row per tenant x agent x course attempt (course_id, started_on). An
    attempt is delivered again as it progresses (completed, assessed): the
    latest delivery day, then the later file, then the last line wins.
#}
with

hr_training as (

    {{ admitted(source('hr', 'hr_training')) }}

),

deduplicated as (

    select *
    from hr_training
    {{ keep_latest_delivered('tenant_id, agent_id, course_id, started_on') }}

),

renamed as (

    select
        -- ids
        tenant_id,
        agent_id,
        course_id,
        file_id,

        -- strings
        course_name,
        lower(course_type) as course_type,
        certification,

        -- numerics
        score,
        training_seconds,

        -- booleans
        is_passed,

        -- dates
        started_on as started_date,
        completed_on as completed_date,
        certified_until as certified_until_date,
        delivery_date,

        -- timestamps (UTC)
        loaded_at

    from deduplicated

)

select * from renamed
