{#
    Fails for every row whose text is empty or padded with spaces; nulls
    pass. The loaders store every text field trimmed, with empty as null
    (callops.load.base.text_sql), so a blank value came around them (a
    coalesce(x, '') in a model, a source that skips the loader) and would
    group or join as a phantom agent, queue, team or form. Each failing row
    names its tenant and day (macros/failing_rows.sql).
#}
{% test not_blank(model, column_name) %}

select {{ failing_row_key_columns([column_name]) }}{{ column_name }}
from {{ model }}
where {{ column_name }} = '' or {{ column_name }} <> trim({{ column_name }})

{% endtest %}
