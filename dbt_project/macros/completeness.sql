{#
    Whether the tenant's loaded data covers a period (DECISIONLOG "Partial
    days"). Judged on how far the tenant's loaded telephony reaches
    (int_telephony_feeds_measured: its latest event time, its latest delivery
    day), never on the wall clock, so a replayed day is judged as it was live.
#}

{#
    SQL: the tenant-local day `local_date` is complete. It is once the
    tenant's loaded telephony reaches the day's last interval (has an event
    at or after its start, `interval_minutes` before the local midnight that
    ends the day: 23:30 at 30 minutes, on a 23- or 25-hour daylight-saving
    day too), or once telephony of a later delivery day is loaded. A day
    holding only an earlier delivery's spillover (calls after the midnight a
    log was rotated past) is partial; so is every day without coverage.
#}
{% macro is_day_complete(local_date, timezone, interval_minutes, last_event_at, last_delivery_date) -%}
    coalesce(
        {{ last_delivery_date }} > {{ local_date }}
        or {{ last_event_at }}
        >= {{ day_last_interval_start_at(local_date, timezone, interval_minutes) }},
        false
    )
{%- endmacro %}


{#
    SQL: start (UTC) of the last staffing interval of the tenant-local day
    `local_date`: `interval_minutes` before the local midnight that ends it.
#}
{% macro day_last_interval_start_at(local_date, timezone, interval_minutes) -%}
    timezone('UTC', timezone({{ timezone }}, cast({{ local_date }} + 1 as timestamp)))
    - to_minutes(cast({{ interval_minutes }} as bigint))
{%- endmacro %}


{#
    SQL: the staffing interval ending at `interval_end_at` (UTC), of the
    tenant-local day `local_date`, is complete. It is once the tenant's
    loaded telephony has an event at or after its end, or once telephony of
    a later delivery day is loaded (which completes the whole day). An
    interval not complete is still filling, or not begun: its counts are
    what has arrived so far (fct_queue_intervals reforecasts it).
#}
{% macro is_interval_complete(interval_end_at, local_date, last_event_at, last_delivery_date) -%}
    coalesce(
        {{ last_delivery_date }} > {{ local_date }}
        or {{ last_event_at }} >= {{ interval_end_at }},
        false
    )
{%- endmacro %}
