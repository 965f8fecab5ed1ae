{#
    dbt's built-in not_null, overridden (a generic test of the root project
    wins over dbt's own of the same name): fails for every row whose value
    is null, as dbt's does, and each failing row names its tenant and day
    (macros/failing_rows.sql).
#}
{% test not_null(model, column_name) %}

select {{ failing_row_key_columns([column_name]) }}{{ column_name }}
from {{ model }}
where {{ column_name }} is null

{% endtest %}
