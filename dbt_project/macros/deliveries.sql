{#
    Keep one row per key across deliveries: the latest delivery day wins,
    then the latest load, then the later file and line (a corrected
    re-delivery or a newer snapshot replaces what came before; reloading an
    old day never overrides a newer one). Used as the QUALIFY clause of
    staging models over raw tables (file_id, delivery_date, loaded_at,
    source_line).
#}
{% macro keep_latest_delivered(partition_by) -%}
    qualify row_number() over (
        partition by {{ partition_by }}
        order by
            delivery_date desc, loaded_at desc,
            file_id desc, source_line desc
    ) = 1
{%- endmacro %}


{#
    The rows of a raw table that may reach the marts: every delivery except
    those the delivery gate holds back (rejected share above the tenant's
    reject_threshold; raw.manifest.gate_status = 'held') until they are
    re-delivered corrected or accepted with `callops accept`. Held rows stay
    in the raw layer, so accepting needs no reload.
#}
{% macro admitted(relation) -%}
    select * from {{ relation }}
    where file_id not in (
        select file_id from {{ source('config', 'manifest') }}
        where gate_status = 'held'
    )
{%- endmacro %}
