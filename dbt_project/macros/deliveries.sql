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
