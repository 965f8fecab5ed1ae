{#
    One row per tenant x calendar month from its first hire month (or first
    roster delivery, if earlier) to the month of its latest roster delivery:
    whether a roster snapshot covers the month, so the HR marts publish its
    roster figures (DECISIONLOG "HR months a roster covers").
    - Covered (has_roster_snapshot): a roster was delivered on a day inside
      the month or in the first 7 days after it (a month-end snapshot sent
      early in the next month). Months before the first roster, in a gap
      between rosters and after the last one are not: a snapshot read
      backwards cannot say who left before it came (an agent gone by then
      may not be listed at all).
    - Complete: covered, and a roster was delivered after the month's last
      day; the month in progress at the latest delivery is covered but not
      complete (its figures use the terminations known so far).
#}

{%- set covered_days_after_month = 7 %}

with

roster as (

    select * from {{ ref('stg_hr__roster') }}

),

deliveries as (

    select * from {{ ref('stg_hr__roster_deliveries') }}

),

first_hires as (

    select
        tenant_id,
        min(hire_date) as first_hire_date
    from roster
    group by 1

),

delivery_bounds as (

    select
        tenant_id,
        min(delivery_date) as first_delivery_date,
        max(delivery_date) as latest_delivery_date
    from deliveries
    group by 1

),

months as (

    select
        delivery_bounds.tenant_id,
        delivery_bounds.latest_delivery_date,
        cast(
            unnest(
                generate_series(
                    date_trunc(
                        'month',
                        least(
                            first_hires.first_hire_date,
                            delivery_bounds.first_delivery_date
                        )
                    ),
                    date_trunc('month', delivery_bounds.latest_delivery_date),
                    interval 1 month
                )
            ) as date
        ) as month_start_date
    from delivery_bounds
    inner join first_hires
        on delivery_bounds.tenant_id = first_hires.tenant_id

),

month_ends as (

    select
        *,
        cast(last_day(month_start_date) as date) as month_end_date
    from months

),

covered as (

    select distinct
        month_ends.tenant_id,
        month_ends.month_start_date
    from month_ends
    inner join deliveries
        on
            month_ends.tenant_id = deliveries.tenant_id
            and month_ends.month_start_date <= deliveries.delivery_date
            and deliveries.delivery_date
            <= month_ends.month_end_date + {{ covered_days_after_month }}

),

final as (

    select
        -- ids
        month_ends.tenant_id,

        -- booleans
        covered.month_start_date is not null as has_roster_snapshot,
        covered.month_start_date is not null
        and month_ends.month_end_date < month_ends.latest_delivery_date
            as is_month_complete,

        -- dates
        month_ends.month_start_date,
        month_ends.month_end_date

    from month_ends
    left join covered
        on
            month_ends.tenant_id = covered.tenant_id
            and month_ends.month_start_date = covered.month_start_date

)

select * from final
