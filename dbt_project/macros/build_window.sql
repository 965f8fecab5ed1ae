{#
    Incremental builds by partition overwrite (issue 6: the daily run never
    rebuilds history).

    The pipeline passes the UTC dates that changed since the last validated
    build as the plan's `build_window` (macro build_plan): a list of [first,
    last] ISO date pairs (ops.changed_partitions, each already widened by a
    day either side for tenant-local days). Without a plan every model builds
    whole; with an empty list nothing changed.

    A model that grows with the history is `materialized='incremental'` with
    `incremental_strategy='window_overwrite'` and
    `meta={'window_column': <its UTC date or timestamp column>}`, optionally
    `'window_before'` / `'window_after'` (days, or a SQL expression) when a
    change reaches further (e.g. the FCR look-ahead) and `'window_grain':
    'month'` for monthly partitions (the whole months the window touches), and
    `'whole_when_changed': [feeds]` when every row depends on a feed (the
    plan's `build_feeds` lists the changed feeds). Its SQL reads its
    parents through `in_build_window(column, before, after)` and keeps only
    rows `in_build_window(window_column, ...)`; the strategy deletes exactly
    those partitions from the table and inserts the rebuilt ones, in one
    transaction.
#}

{#
    SQL: `column` within the ranges, widened by `before` / `after` days;
    grain 'month': the whole months they touch (`column` a month start or
    any date or timestamp).
#}
{% macro window_filter(column, ranges, before=0, after=0, grain='day') -%}
    {%- call(first, last) any_range(ranges) -%}
        {%- set low = "date '" ~ first ~ "' - (" ~ before ~ ")" -%}
        {%- set high = "date '" ~ last ~ "' + (" ~ after ~ ")" -%}
        {%- if grain == 'month' -%}
            {{ column }} >= date_trunc('month', {{ low }})
            and {{ column }} < date_trunc('month', {{ high }}) + interval 1 month
        {%- else -%}
            {{ column }} >= {{ low }} and {{ column }} < {{ high }} + 1
        {%- endif -%}
    {%- endcall -%}
{%- endmacro %}


{#
    SQL true when the caller block's condition holds for one of the ranges
    ([first, last] ISO dates; `{% call(first, last) any_range(ranges) %}`):
    true without a window (none: build whole), false for an empty one.
#}
{% macro any_range(ranges) -%}
    {%- if ranges is none -%}
        true
    {%- elif ranges | length == 0 -%}
        false
    {%- else -%}
        (
        {%- for first, last in ranges %}
            ({{ caller(first, last) }})
            {%- if not loop.last %} or{% endif %}
        {%- endfor %}
        )
    {%- endif -%}
{%- endmacro %}


{#
    A value of the build plan (`build_window`, `build_feeds`), or none: the
    JSON callops puts in CALLOPS_BUILD_PLAN for an incremental build (empty:
    build whole). Read only while nodes execute, never at parse: a --vars
    value or an env var dbt sees at parse time changes every run and would
    make dbt re-parse the whole project on each one.
#}
{% macro build_plan(name) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set encoded = env_var('CALLOPS_BUILD_PLAN', '') -%}
    {{ return(fromjson(encoded).get(name) if encoded else none) }}
{%- endmacro %}


{#
    The window's ranges for a model with this meta, or none (whole): a model
    whose every row depends on a feed (meta `whole_when_changed`: feed names,
    e.g. a tenant-wide average over all offers) is whole when one of them
    changed (var `build_feeds`: the changed feeds; unset: unknown, any).
#}
{% macro window_ranges_for(meta) -%}
    {%- set ranges = build_plan('build_window') -%}
    {%- set whole_when = (meta or {}).get('whole_when_changed', []) -%}
    {%- set feeds = build_plan('build_feeds') -%}
    {%- if ranges is not none and whole_when
            and (feeds is none or (whole_when | select('in', feeds) | list)) -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(ranges) }}
{%- endmacro %}


{# The build window's ranges for the current model, or none (build whole) on a full build. #}
{% macro build_window_ranges() -%}
    {%- if not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(window_ranges_for(config.get('meta'))) }}
{%- endmacro %}


{# In a model's SQL: the rows of a parent (or its own) within the window. #}
{% macro in_build_window(column, before=0, after=0, grain='day') -%}
    {{ window_filter(column, build_window_ranges(), before, after, grain) }}
{%- endmacro %}


{#
    In a model's SQL: a period [started_at, ended_at) overlaps the window's
    days (an open period, ended_at null, never does).
#}
{% macro overlaps_build_window(started_at, ended_at) -%}
    {%- call(first, last) any_range(build_window_ranges()) -%}
        {{ started_at }} < date '{{ last }}' + 1 and {{ ended_at }} > date '{{ first }}'
    {%- endcall -%}
{%- endmacro %}


{#
    In a model's SQL: the rows of `relation` a rebuild needs, those in the
    window (`in_window`, SQL) and, on an incremental build, every row of the
    keys the CTE `rebuilt_keys` lists (columns `key`), e.g. the whole
    history of an agent whose queues changed.
#}
{% macro window_rows_and_rebuilt_keys(relation, in_window, rebuilt_keys, key) -%}
    select * from {{ relation }}
    where {{ in_window }}
    {%- if build_window_ranges() is not none %}
    union all
    select * from {{ relation }} as keyed_rows
    semi join {{ rebuilt_keys }}
        on {{ key_match('keyed_rows', rebuilt_keys, key) }}
    where not coalesce({{ in_window }}, false)
    {%- endif %}
{%- endmacro %}


{#
    At the end of a big windowed model's SQL: on a whole build, its rows in
    the order of its window column (`column`). A daily run reads a few days of it, and
    DuckDB skips every row group whose min/max misses them; in the order a
    hash aggregate leaves them every row group spans the whole history, and
    a window read decompresses all of it (1.5 s for 4 days of 8.6 M stints,
    against 0.4 s more for the sort on the whole build).
#}
{% macro window_order(column) -%}
    {%- if build_window_ranges() is none -%}
        order by {{ column }}
    {%- endif -%}
{%- endmacro %}


{# The partitions the current incremental model rewrites (its meta). #}
{% macro own_window_predicate() -%}
    {%- set meta = config.get('meta') or {} -%}
    {%- if not meta.get('window_column') -%}
        {{ exceptions.raise_compiler_error(
            "model " ~ this ~ " uses window_overwrite without meta.window_column"
        ) }}
    {%- endif -%}
    {{ in_build_window(
        meta['window_column'],
        meta.get('window_before', 0),
        meta.get('window_after', 0),
        meta.get('window_grain', 'day'),
    ) }}
{%- endmacro %}


{#
    Custom incremental strategy: delete the window's partitions, insert them
    rebuilt. A model whose change reaches beyond the window (it rebuilds more
    rows than the window's) sets `unique_key`: the rows it rebuilds replace
    theirs wherever they are.
#}
{% macro get_incremental_window_overwrite_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- set key = arg_dict['unique_key'] -%}
    {%- set key = [key] if key is string else (key or []) -%}
    delete from {{ target }} where {{ own_window_predicate() }};
    {%- if key %}
    delete from {{ target }} as window_target
    using {{ arg_dict['temp_relation'] }} as window_rebuilt
    where {{ key_match('window_target', 'window_rebuilt', key) }};
    {%- endif %}
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}


{# SQL: `left` and `right` agree on every column of `key` (nulls never match, as in a join). #}
{% macro key_match(left, right, key) -%}
    {%- for column in key -%}
        {{ left }}.{{ column }} = {{ right }}.{{ column }}
        {%- if not loop.last %} and {% endif -%}
    {%- endfor -%}
{%- endmacro %}


{#
    Data tests of a windowed model read only the window's partitions (the
    gate's cost follows the changed data, not the history); a full build
    tests every row. Tests with their own `where` keep it.
#}
{% macro duckdb__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set tested = graph.nodes.get(model.get('attached_node') or '', {}) if execute else {} -%}
    {%- set meta = tested.get('config', {}).get('meta', {}) if tested else {} -%}
    {%- set ranges = window_ranges_for(meta) -%}
    {%- set window = window_filter(
            meta['window_column'], ranges,
            meta.get('window_before', 0), meta.get('window_after', 0),
            meta.get('window_grain', 'day'),
        ) if meta.get('window_column') and ranges is not none else '' -%}
    {%- if where or window -%}
        {%- set filtered -%}
            (select * from {{ relation }}
             where {{ where if where else 'true' }} and {{ window if window else 'true' }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}


{#
    Days an incremental model reads and rewrites around a change: the longest
    FCR window of any tenant (at least `at_least`) + `extra`, as a number, so
    the window filters are constants DuckDB pushes into its scans. Looked up
    only when a model builds incrementally (the tenants' view exists then);
    a full build reads everything and needs none, a unit test gets the least.
#}
{% macro fcr_reach_days(at_least=0, extra=1) -%}
    {%- set days = [at_least, 7] | max -%}
    {%- if execute and model.resource_type == 'model' and is_incremental() -%}
        {%- set found = run_query(
            "select max(coalesce(fcr_window_days, 7)) from " ~ ref('stg_config__tenants')
        ).columns[0].values()[0] -%}
        {%- if found is not none -%}
            {%- set days = [at_least, found | int] | max -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(days + extra) }}
{%- endmacro %}


{#
    Days after a change that the day-ahead forecast carries it forward
    (int_queue_intervals_forecast): a local day's forecast reads the same
    weekday over the six weeks before it (42 days) and a level over the 7 days
    before it, each of whose profiles reads its own six weeks: 49 days, and
    one more for a local day's UTC dates. A model that shows a forecast
    figure of past days (forecast WAPE; the Erlang workload of an interval
    whose AHT is the forecast's) rebuilds this far after the window: a
    corrected old day changes the forecasts of the weeks after it.
#}
{% macro forecast_reach_days() -%}
    {{ return(42 + 7 + 1) }}
{%- endmacro %}
