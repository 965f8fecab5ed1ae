{{ config(
    materialized='incremental',
    incremental_strategy='window_overwrite',
    meta={'window_column': 'contact_date', 'whole_when_changed': ['hr']},
) }}
{#
    One row per tenant x local date x agent who answered a queue stint (any
    direction) of that date's contacts (int_handled_stints_dated dates a
    stint by its contact's first queue entry), and whether the agent was on
    the tenant's roster that day: hired by then and not yet left. Null for a
    tenant that sends no roster (nothing to check against).
    The agent-day grain behind answering_agent_count and
    unrostered_agent_count: rpt_daily_kpis counts a day's agents from it,
    rpt_kpis_by_period a period's distinct agents (an agent working five
    days of a week counts once).
    Incremental (macros/build_window.sql): a telephony change rebuilds the
    dates it touched; an HR change rebuilds every date (the roster's
    agents).
#}
with

handled_stints as (

    select * from {{ ref('int_handled_stints_dated') }}
    where
        agent_id is not null
        and {{ in_build_window('contact_date') }}

),

roster as (

    select * from {{ ref('stg_hr__roster') }}

),

rostered_tenants as (

    select distinct tenant_id from roster

),

agent_days as (

    select
        -- ids
        handled_stints.tenant_id,
        handled_stints.agent_id,

        -- booleans
        case
            when bool_or(rostered_tenants.tenant_id is not null)
                then bool_or(roster.agent_id is not null)
        end as is_on_roster,

        -- dates
        handled_stints.contact_date

    from handled_stints
    left join rostered_tenants
        on handled_stints.tenant_id = rostered_tenants.tenant_id
    left join roster
        on
            handled_stints.tenant_id = roster.tenant_id
            and handled_stints.agent_id = roster.agent_id
            and coalesce(handled_stints.contact_date >= roster.hire_date, true)
            and coalesce(
                handled_stints.contact_date <= roster.termination_date, true
            )
    group by all

)

select * from agent_days
