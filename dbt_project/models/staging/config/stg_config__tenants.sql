with

tenants as (

    select * from {{ source('config', 'tenants') }}

),

renamed as (

    select
        -- ids
        id as tenant_id,

        -- strings
        name as tenant_name,
        timezone,
        service_level_variant,

        -- numerics
        service_level_seconds,
        short_abandon_seconds,
        service_level_target,
        interval_minutes,
        fcr_window_days,
        reject_threshold,
        roi_pause_threshold

    from tenants

)

select * from renamed
