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
    - Months run from the tenant's first hire month to the month of its
      latest roster delivery; a month is complete once a roster was delivered
      after its last day.
    Team and employment type are the agent's latest (staging keeps the
    latest roster row), applied to every month.
#}
with

roster as (

    select * from {{ ref('stg_hr__roster') }}

),

bounds as (

    select
        tenant_id,
        cast(date_trunc('month', min(hire_date)) as date)
            as first_month_start_date,
        cast(date_trunc('month', max(delivery_date)) as date)
            as last_month_start_date,
        max(delivery_date) as latest_delivery_date
    from roster
    group by 1

),

months as (

    select
        tenant_id,
        latest_delivery_date,
        cast(
            unnest(
                generate_series(
                    first_month_start_date,
                    last_month_start_date,
                    interval 1 month
                )
            ) as date
        ) as month_start_date
    from bounds

),

month_ends as (

    select
        *,
        cast(last_day(month_start_date) as date) as month_end_date
    from months

),

agent_months as (

    select
        roster.tenant_id,
        roster.agent_id,
        roster.team_id,
        roster.employment_type,
        roster.hire_date,
        roster.termination_date,
        month_ends.month_start_date,
        month_ends.month_end_date,
        month_ends.latest_delivery_date
    from roster
    inner join month_ends
        on
            roster.tenant_id = month_ends.tenant_id
            and roster.hire_date <= month_ends.month_end_date
            and (
                roster.termination_date is null
                or roster.termination_date >= month_ends.month_start_date
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
        month_end_date < latest_delivery_date as is_month_complete,
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
        is_month_complete,

        -- dates
        month_start_date,
        month_end_date,
        hire_date,
        termination_date

    from flagged

)

select * from final
