{#
    One row per delivered file that loaded and may reach the marts (the
    loader's raw.manifest, less the files that failed to load and those the
    delivery gate holds back, as macro admitted leaves them out): its feed,
    tenant and delivery day (the landing folder's date). A file that loaded
    no rows (an empty export of a quiet day) still counts: its day was
    delivered.
#}
with

manifest as (

    select * from {{ source('config', 'manifest') }}

),

renamed as (

    select
        -- ids
        file_id,
        tenant_id,

        -- strings
        feed,

        -- dates
        delivery_date

    from manifest
    where status = 'loaded' and coalesce(gate_status, 'passed') <> 'held'

)

select * from renamed
