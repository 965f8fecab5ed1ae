{#
    on-run-end of `dbt build` / `dbt run`: drop the tables and views left in
    the project's schemas (staging, intermediate, marts) by a model this
    project no longer has, e.g. one renamed since the warehouse was built
    (issue 17 renamed the intermediate models). Left behind, a stale table
    would hold its disk space for good, and one in `marts` would be copied
    to the published file with the live marts. Only relations of the
    project's schemas that no model, seed, snapshot or source names are
    dropped: `raw` and `ops` (the loaders' tables) are never touched, and a
    selected build (`--select`) keeps every model of the project, built or
    not. Each drop is logged.
#}
{% macro drop_stale_relations() -%}
    {%- if execute and flags.WHICH in ('build', 'run') -%}
        {%- set kept = [] -%}
        {%- set schemas = [] -%}
        {%- for node in graph.nodes.values()
                if node.resource_type in ('model', 'seed', 'snapshot') -%}
            {%- do kept.append((node.schema ~ '.' ~ node.alias) | lower) -%}
            {%- if node.config.materialized != 'ephemeral'
                    and node.database == target.database
                    and node.schema not in schemas -%}
                {%- do schemas.append(node.schema) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- for source in graph.sources.values() -%}
            {%- do kept.append((source.schema ~ '.' ~ source.identifier) | lower) -%}
        {%- endfor -%}
        {%- if schemas -%}
            {%- set found = run_query(
                "select schema_name, table_name, 'table' from duckdb_tables()"
                ~ " where database_name = '" ~ target.database ~ "'"
                ~ " and not internal and not temporary"
                ~ " and schema_name in ('" ~ schemas | join("', '") ~ "')"
                ~ " union all"
                ~ " select schema_name, view_name, 'view' from duckdb_views()"
                ~ " where database_name = '" ~ target.database ~ "'"
                ~ " and not internal and not temporary"
                ~ " and schema_name in ('" ~ schemas | join("', '") ~ "')"
            ) -%}
            {%- for schema, name, kind in found.rows
                    if (schema ~ '.' ~ name) | lower not in kept -%}
                {%- do log(
                    "dropping " ~ kind ~ " " ~ schema ~ "." ~ name
                    ~ ": no model of the project builds it", info=true
                ) -%}
                {%- do adapter.drop_relation(api.Relation.create(
                    database=target.database, schema=schema,
                    identifier=name, type=kind,
                )) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
