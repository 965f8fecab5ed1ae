{#
    Reporting periods (rpt_kpis_by_period, rpt_tenant_benchmark): a period is
    named by its grain ('day', 'week' ISO from Monday, 'month', 'quarter',
    'year') and its first day, period_start = date_trunc(grain, a day).
    `grain` is a SQL expression (a column or a quoted literal).
#}

{# SQL: the first day of the period `n` periods after (n < 0: before) the one starting `start` #}
{% macro add_periods(grain, start, n) -%}
    cast(
        case {{ grain }}
            when 'day' then {{ start }} + to_days(cast({{ n }} as integer))
            when 'week' then {{ start }} + to_days(cast(7 * ({{ n }}) as integer))
            when 'month' then {{ start }} + to_months(cast({{ n }} as integer))
            when 'quarter' then {{ start }} + to_months(cast(3 * ({{ n }}) as integer))
            when 'year' then {{ start }} + to_years(cast({{ n }} as integer))
        end
        as date
    )
{%- endmacro %}

{# SQL: the last day of the period starting `start` #}
{% macro period_end(grain, start) -%}
    ({{ add_periods(grain, start, 1) }} - 1)
{%- endmacro %}

{#
    SQL: the start of the same period a year earlier: 52 weeks (364 days)
    before for a week, so it starts on a Monday and holds the same weekdays;
    a calendar year before for a month, a quarter or a year.
#}
{% macro period_a_year_earlier(grain, start) -%}
    case {{ grain }}
        when 'week' then {{ add_periods(grain, start, -52) }}
        else cast({{ start }} - to_years(1) as date)
    end
{%- endmacro %}
