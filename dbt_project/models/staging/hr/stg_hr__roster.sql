{#
    One row per tenant x agent: the agent's latest delivered roster row.
    Rosters usually arrive as full snapshots; the row of the latest delivery
    day wins (then the later file and line), so a later snapshot or a
    corrected re-delivery replaces earlier ones. An agent missing from the
    latest snapshot keeps their last row: leaving is read from
    termination_date, never inferred from absence.
#}
with

hr_roster as (

    {{ admitted(source('hr', 'hr_roster')) }}

),

deduplicated as (

    select *
    from hr_roster
    {{ keep_latest_delivered('tenant_id, agent_id') }}

),

renamed as (

    select
        -- ids
        tenant_id,
        agent_id,
        employee_id_hash,
        employee_name_hash,
        team_id,
        supervisor_id,
        file_id,

        -- strings
        team_name,
        site,
        lower(role) as role,
        employment_type,
        vendor,
        termination_type,
        termination_reason,
        skills,

        -- numerics
        contracted_hours_per_week,
        cost_per_hour,

        -- dates
        hire_date,
        termination_date,
        delivery_date,

        -- timestamps (UTC)
        loaded_at

    from deduplicated

)

select * from renamed
