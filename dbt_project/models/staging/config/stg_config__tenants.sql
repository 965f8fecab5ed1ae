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
        roi_pause_threshold,
        planned_shrinkage_rate,
        answer_rate_target,
        abandon_rate_target,
        csat_target,
        qa_score_target,
        vip_service_level_seconds,
        vip_service_level_target,
        alert_min_offered,
        alert_service_level_rate,
        alert_vip_service_level_rate,
        alert_abandon_rate,
        alert_asa_seconds,

        -- booleans
        cdr_usegmtime

    from tenants

)

select * from renamed
