{#
    Timestamps are stored as UTC `timestamp` (suffix `_at`). `to_local` gives
    the wall-clock time in an IANA zone (a column or a literal), daylight
    saving included.
#}
{% macro to_local(utc_timestamp, timezone) -%}
    timezone({{ timezone }}, timezone('UTC', {{ utc_timestamp }}))
{%- endmacro %}
