{#
    Fails for every row where the boolean SQL expression is false: a rule
    tying a column to the others of its row (a null contract such as "null
    exactly when the wait is unknown", an order such as ends_at >= starts_at,
    an implication such as "only answered stints have an agent"). Attach it
    under the column the rule is about; the expression names its columns
    itself. A null result passes, as with accepted_range: write the rule
    with `is null` / `is not distinct from` where a null must fail. dbt_utils
    is not installable offline, so the project carries its own.
#}
{% test expression_is_true(model, expression, column_name=none) %}

select *
from {{ model }}
where not ({{ expression }})

{% endtest %}
