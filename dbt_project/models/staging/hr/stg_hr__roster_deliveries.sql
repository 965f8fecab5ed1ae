{#
    One row per tenant x roster delivery day with at least one admitted
    roster row: the days a roster snapshot arrived, from which the HR marts
    decide which months a roster covers (int_months_covered_by_rosters).
    stg_hr__roster keeps only each agent's latest row, so it cannot say when
    the earlier snapshots came.
#}
with

hr_roster as (

    {{ admitted(source('hr', 'hr_roster')) }}

),

delivered as (

    select
        -- ids
        tenant_id,

        -- numerics
        count(distinct agent_id) as agent_count,

        -- dates
        delivery_date

    from hr_roster
    group by 1, 3

)

select * from delivered
