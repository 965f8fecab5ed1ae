{#
    One row per tenant x agent x calendar month in which the agent was
    employed on at least one day: the movements and the month-end state the
    headcount marts count (DECISIONLOG "Marketing and HR marts").
    - Employed on day d: hire_date <= d and (termination_date is null or
      termination_date >= d); termination_date is the last day employed.
    - Headcount at the start of a month = employed at the end of the day
      before its first day; at its end = still employed after its last day.
      So end = start + hires - leavers.
    - Hire: hire_date within the month; leaver: termination_date within it.
    - Tenure at month end = whole calendar months from hire_date to the end
      of the month's last day (hired 1 Jan: 3 months at the end of 31 Mar);
      the marts band it with the tenure_band macro.
    - Months are int_months_covered_by_rosters' (the tenant's first hire
      month to the month of its latest roster delivery), with their
      coverage: the marts publish a month's figures only when a roster
      snapshot covers it (has_roster_snapshot); it is complete once covered
      and a roster was delivered after its last day.
    Team and employment type are the agent's latest (staging keeps the
    latest roster row), applied to every month.
#}
with

roster as (

    select * from {{ ref('stg_hr__roster') }}

),

months as (

    select * from {{ ref('int_months_covered_by_rosters') }}

),

agent_months as (

    select
        roster.tenant_id,
        roster.agent_id,
        roster.team_id,
        roster.employment_type,
        roster.hire_date,
        roster.termination_date,
        months.month_start_date,
        months.month_end_date,
        months.has_roster_snapshot,
        months.is_month_complete
    from roster
    inner join months
        on
            roster.tenant_id = months.tenant_id
            and roster.hire_date <= months.month_end_date
            and (
                roster.termination_date is null
                or roster.termination_date >= months.month_start_date
            )

),

flagged as (

    select
        *,
        hire_date < month_start_date as is_in_headcount_start,
        termination_date is null
        or termination_date > month_end_date as is_in_headcount_end,
        hire_date >= month_start_date as is_hire,
        coalesce(termination_date <= month_end_date, false) as is_leaver,
        employment_type = 'dispatched' as is_dispatched,
        date_diff(
            'day',
            greatest(hire_date, month_start_date),
            least(coalesce(termination_date, month_end_date), month_end_date)
        ) + 1 as employed_days,
        date_diff('day', month_start_date, month_end_date) + 1
            as days_in_month,
        date_sub('month', hire_date, month_end_date + 1)
            as tenure_months_at_month_end
    from agent_months

),

final as (

    select
        -- ids
        tenant_id,
        agent_id,
        team_id,

        -- strings
        employment_type,

        -- numerics
        employed_days,
        days_in_month,
        tenure_months_at_month_end,

        -- booleans
        is_in_headcount_start,
        is_in_headcount_end,
        is_hire,
        is_leaver,
        is_dispatched,
        has_roster_snapshot,
        is_month_complete,

        -- dates
        month_start_date,
        month_end_date,
        hire_date,
        termination_date

    from flagged

)

select * from final
