{#
    Keep one row per key across deliveries: the latest delivery day wins,
    then the later file and line (a corrected re-delivery or a newer
    snapshot replaces what came before; reloading an old day never
    overrides a newer one). Used as the QUALIFY clause of staging models
    over raw tables (file_id, delivery_date, source_line).
#}
{% macro keep_latest_delivered(partition_by) -%}
    qualify row_number() over (
        partition by {{ partition_by }}
        order by {{ latest_delivered_first() }}
    ) = 1
{%- endmacro %}


{#
    The order in which copies of one record compete, the winner first: the
    latest delivery day, then the file (by its id) and the later line. A
    function of the landing zone alone, never of when a file was loaded
    (loaded_at): a full build loads every file in one run, in parallel, and
    must pick the copy an incremental history picked.
#}
{% macro latest_delivered_first(prefix='') -%}
    {{ prefix }}delivery_date desc, {{ prefix }}file_id desc, {{ prefix }}source_line desc
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


{#
    SQL: the rows of `rows` (a relation or a parenthesised query), one per
    `identity` (a list of SQL expressions; nulls compare equal): the first by
    `order_by`. Only rows whose identity hash repeats are ranked; the rest
    (almost every row: a record delivered once) pass through without the
    sort a window over every row of a backfill would cost. Read three times,
    so `rows` should be a plain filtered scan.
#}
{% macro one_row_per(rows, identity, order_by) -%}
    {%- set key = identity | join(', ') -%}
    (
        with repeated as (
            {{ repeated_hashes(rows, key) }}
        )
        select * from {{ rows }} as single_rows
        where hash({{ key }}) not in (select identity_hash from repeated)
        union all
        select * from {{ rows }} as repeated_rows
        where hash({{ key }}) in (select identity_hash from repeated)
        qualify row_number() over (partition by {{ key }} order by {{ order_by }}) = 1
    )
{%- endmacro %}


{#
    SQL: the hashes (column identity_hash) of the `key` values (a SQL list)
    that occur more than once in `rows`: grouping one integer per row finds
    the few repeated keys of a table of millions of unique ones. A hash
    collision only adds a candidate; callers compare the values themselves.
#}
{% macro repeated_hashes(rows, key) -%}
    select hash({{ key }}) as identity_hash
    from {{ rows }}
    group by 1
    having count(*) > 1
{%- endmacro %}
