{#
    Timestamps are stored as UTC `timestamp` (suffix `_at`). `to_local` gives
    the wall-clock time in an IANA zone (a column or a literal), daylight
    saving included.
#}
{% macro to_local(utc_timestamp, timezone) -%}
    timezone({{ timezone }}, timezone('UTC', {{ utc_timestamp }}))
{%- endmacro %}

{#
    Start (UTC) of the staffing interval holding a UTC timestamp. Buckets are
    cut in UTC: for every zone whose offset is a whole number of the interval
    (all but a few 45-minute zones) they coincide with local wall-clock
    intervals, and the repeated hour of a fall-back night keeps two distinct
    intervals that share a local label (a 25-hour day has 50 half hours).
    Label them with to_local(interval_start_at, timezone).
#}
{% macro interval_start_at(utc_timestamp, interval_minutes) -%}
    time_bucket(
        to_minutes(cast({{ interval_minutes }} as bigint)),
        cast({{ utc_timestamp }} as timestamp)
    )
{%- endmacro %}

{#
    Start (UTC) of every staffing interval a period [started_at, ended_at)
    touches, one row each (an UNNEST): how schedules, agent states and busy
    time are cut into intervals. Same buckets as interval_start_at.
#}
{% macro interval_starts_spanned(started_at, ended_at, interval_minutes) -%}
    unnest(range(
        {{ interval_start_at(started_at, interval_minutes) }},
        {{ ended_at }},
        to_minutes(cast({{ interval_minutes }} as bigint))
    ))
{%- endmacro %}
