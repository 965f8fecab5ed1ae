{#
    The headcount movements and tenure bands of a group of agent-months
    (int_rosters_expanded_to_months, banded): one definition for the tenant
    mart and its team x employment-type breakdown, so they always add up.
#}
{% macro headcount_counts() -%}
    count(*) filter (where is_in_headcount_start) as headcount_start,
    count(*) filter (where is_in_headcount_end) as headcount_end,
    sum(employed_days) / any_value(days_in_month) as average_headcount,
    count(*) filter (where is_hire) as hires_count,
    count(*) filter (where is_leaver) as leavers_count,
    count(*) filter (
        where tenure_band = 'under_3_months'
    ) as tenure_under_3_months_count,
    count(*) filter (
        where tenure_band = '3_to_12_months'
    ) as tenure_3_to_12_months_count,
    count(*) filter (
        where tenure_band = '1_to_2_years'
    ) as tenure_1_to_2_years_count,
    count(*) filter (
        where tenure_band = 'over_2_years'
    ) as tenure_over_2_years_count
{%- endmacro %}


{#
    The columns headcount_counts gives: every one is read from the roster,
    so a mart publishes it only for a month a roster snapshot covers
    (roster_figure; DECISIONLOG "HR months a roster covers").
#}
{% macro headcount_count_columns() -%}
    {{ return([
        'headcount_start', 'headcount_end', 'average_headcount',
        'hires_count', 'leavers_count',
        'tenure_under_3_months_count', 'tenure_3_to_12_months_count',
        'tenure_1_to_2_years_count', 'tenure_over_2_years_count',
    ]) }}
{%- endmacro %}


{#
    SQL: a roster figure (`value`) where the month has a roster snapshot
    (`covered`, a boolean SQL expression), else null: no roster, no figure.
    `missing`: what a covered month without any agent-month counts (0).
#}
{% macro roster_figure(value, covered='has_roster_snapshot', missing=none) -%}
    {%- if missing is not none -%}
        {%- set value = 'coalesce(' ~ value ~ ', ' ~ missing ~ ')' -%}
    {%- endif -%}
    case when {{ covered }} then {{ value }} end
{%- endmacro %}
