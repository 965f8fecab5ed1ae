{#
    Fails for every row whose value lies outside [min_value, max_value]
    (either bound optional; inclusive unless told otherwise). Nulls pass: pair
    with not_null where a value is required. dbt_utils is not installable
    offline, so the project carries its own.
#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}

select *
from {{ model }}
where
    {%- if min_value is not none %}
    {{ column_name }} {{ '<' if inclusive else '<=' }} {{ min_value }}
    {%- else %}
    false
    {%- endif %}
    {%- if max_value is not none %}
    or {{ column_name }} {{ '>' if inclusive else '>=' }} {{ max_value }}
    {%- endif %}

{% endtest %}
