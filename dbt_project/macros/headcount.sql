{#
    The headcount movements and tenure bands of a group of agent-months
    (int_roster_expanded_to_months, banded): one definition for the tenant
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
