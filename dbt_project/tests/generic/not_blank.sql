{#
    Fails for every row whose text is empty or padded with spaces; nulls
    pass. The loaders store every text field trimmed, with empty as null
    (callops.load.base.text_sql), so a blank value came around them (a
    coalesce(x, '') in a model, a source that skips the loader) and would
    group or join as a phantom agent, queue, team or form.
#}
{% test not_blank(model, column_name) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} = '' or {{ column_name }} <> trim({{ column_name }})

{% endtest %}
