{{ config(
    materialized='incremental',
    incremental_strategy='window_overwrite',
    unique_key=['tenant_id', 'month_start_date'],
    meta={
        'window_column': 'month_start_date',
        'window_grain': 'month',
        'whole_when_changed': ['qa', 'hr'],
    },
) }}
-- depends_on: {{ ref('stg_config__tenants') }} (fcr_reach_days)
{%- set reach = fcr_reach_days(0, 2) -%}
{#- the months a change can reach: its own, and those the FCR reach before it touches -#}
{%- set in_reached_months = in_build_window('month_start_date', before=reach, grain='month') -%}
{#
    One row per tenant x local month x grain: per agent (grain 'agent'), per
    team (grain 'team', agent_id null) and per tenant (grain 'tenant',
    agent_id and team_id null). Every grain is recomputed from the underlying
    evaluations, stints, surveys and contacts (GROUPING SETS), never averaged
    from the rows below it. The month is the local month of the evaluated,
    handled, surveyed or FCR-counted contact (DECISIONLOG "Quality marts").
    The team is the agent's team on the latest roster; a tenant without a
    roster has agent and tenant rows only.
    Incremental (macros/build_window.sql): a telephony change rebuilds the
    months it touched and those whose FCR flags it can change (the FCR reach
    before it); each rebuilt month replaces all its rows (unique_key). A QA
    or HR change rebuilds every month (an evaluation's month, a team of the
    latest roster).
#}
with

all_evaluations as (

    select * from {{ ref('int_qa_evaluations_scored') }}

),

evaluations as (

    select * from all_evaluations
    where {{ in_reached_months }}

),

handled as (

    select * from {{ ref('int_handled_stints_dated') }}
    where {{ in_reached_months }}

),

surveys as (

    select * from {{ ref('int_csat_surveys_scored') }}
    where {{ in_reached_months }}

),

contacts as (

    select * from {{ ref('int_contacts_repeat_flagged') }}
    where
        is_answered
        and {{ in_reached_months }}

),

roster as (

    select * from {{ ref('stg_hr__roster') }}

),

evaluated_contacts as (

    {# whatever the evaluation's month: a contact handled in one month may be
       evaluated in the next #}
    select distinct
        tenant_id,
        contact_id,
        agent_id
    from all_evaluations
    where contact_id is not null

),

handled_contacts as (

    {# one row per contact an agent handled in the month: distinct contacts
       are counted as rows, not with count(distinct) over every stint #}
    select
        handled.tenant_id,
        handled.month_start_date,
        roster.team_id,
        handled.agent_id,
        handled.contact_id,
        count(*) as handled_count,
        bool_or(evaluated_contacts.contact_id is not null) as is_evaluated
    from handled
    left join evaluated_contacts
        on
            handled.tenant_id = evaluated_contacts.tenant_id
            and handled.contact_id = evaluated_contacts.contact_id
            and handled.agent_id = evaluated_contacts.agent_id
    left join roster
        on
            handled.tenant_id = roster.tenant_id
            and handled.agent_id = roster.agent_id
    group by all

),

{# a contact handled by two agents of a team (or of the tenant) counts once
   for the team (the tenant) #}
team_contacts as (

    select
        tenant_id,
        month_start_date,
        team_id,
        count(*) as handled_contact_count,
        count(*) filter (where is_evaluated) as evaluated_contact_count
    from (
        select
            tenant_id,
            month_start_date,
            team_id,
            contact_id,
            bool_or(is_evaluated) as is_evaluated
        from handled_contacts
        where team_id is not null
        group by all
    ) as per_team
    group by all

),

tenant_contacts as (

    select
        tenant_id,
        month_start_date,
        count(*) as handled_contact_count,
        count(*) filter (where is_evaluated) as evaluated_contact_count
    from (
        select
            tenant_id,
            month_start_date,
            contact_id,
            bool_or(is_evaluated) as is_evaluated
        from handled_contacts
        group by all
    ) as per_tenant
    group by all

),

facts as (

    select
        'evaluation' as fact_type,
        tenant_id,
        month_start_date,
        agent_id,
        contact_id,
        qa_score,
        has_fatal_error
    from evaluations

    union all by name

    select
        'survey' as fact_type,
        tenant_id,
        month_start_date,
        agent_id,
        contact_id,
        is_top_two_box,
        normalised_score
    from surveys

    union all by name

    select
        'fcr' as fact_type,
        tenant_id,
        month_start_date,
        agent_id,
        contact_id,
        is_resolved_first_contact
    from contacts

),

teamed as (

    select
        facts.*,
        roster.team_id
    from facts
    left join roster
        on
            facts.tenant_id = roster.tenant_id
            and facts.agent_id = roster.agent_id

    union all by name

    select
        'handled' as fact_type,
        tenant_id,
        month_start_date,
        team_id,
        agent_id,
        contact_id,
        handled_count,
        is_evaluated
    from handled_contacts

),

counted as (

    select
        tenant_id,
        month_start_date,
        team_id,
        agent_id,
        case grouping(team_id, agent_id)
            when 0 then 'agent'
            when 1 then 'team'
            else 'tenant'
        end as grain,
        count(*) filter (where fact_type = 'evaluation') as evaluation_count,
        avg(qa_score) filter (where fact_type = 'evaluation') as qa_score,
        count(*) filter (
            where fact_type = 'evaluation' and has_fatal_error
        ) as fatal_error_count,
        -- a sum of integers is a hugeint in DuckDB; bigint is what BI tools read
        cast(
            coalesce(sum(handled_count) filter (where fact_type = 'handled'), 0)
            as bigint
        ) as handled_count,
        -- exact at agent grain (a handled_contacts row is one agent's
        -- contact); team and tenant grains take team_ / tenant_contacts
        count(*) filter (where fact_type = 'handled') as agent_contact_count,
        count(*) filter (
            where fact_type = 'handled' and is_evaluated
        ) as agent_evaluated_contact_count,
        count(*) filter (where fact_type = 'survey') as survey_count,
        count(*) filter (
            where fact_type = 'survey' and is_top_two_box
        ) as top_two_box_count,
        avg(normalised_score) filter (where fact_type = 'survey')
            as csat_score,
        count(is_resolved_first_contact) filter (
            where fact_type = 'fcr'
        ) as fcr_contact_count,
        count(*) filter (
            where fact_type = 'fcr' and is_resolved_first_contact
        ) as fcr_resolved_count
    from teamed
    group by grouping sets (
        (tenant_id, month_start_date, team_id, agent_id),
        (tenant_id, month_start_date, team_id),
        (tenant_id, month_start_date)
    )

),

distinct_counted as (

    select
        counted.*,
        case counted.grain
            when 'agent' then counted.agent_contact_count
            when 'team' then coalesce(team_contacts.handled_contact_count, 0)
            else coalesce(tenant_contacts.handled_contact_count, 0)
        end as handled_contact_count,
        case counted.grain
            when 'agent' then counted.agent_evaluated_contact_count
            when 'team' then coalesce(team_contacts.evaluated_contact_count, 0)
            else coalesce(tenant_contacts.evaluated_contact_count, 0)
        end as evaluated_contact_count
    from counted
    left join team_contacts
        on
            counted.grain = 'team'
            and counted.tenant_id = team_contacts.tenant_id
            and counted.month_start_date = team_contacts.month_start_date
            and counted.team_id = team_contacts.team_id
    left join tenant_contacts
        on
            counted.grain = 'tenant'
            and counted.tenant_id = tenant_contacts.tenant_id
            and counted.month_start_date = tenant_contacts.month_start_date

),

rated as (

    select
        -- ids
        tenant_id,
        agent_id,
        team_id,

        -- strings
        grain,

        -- numerics
        evaluation_count,
        qa_score,
        fatal_error_count,
        {{ safe_divide('fatal_error_count', 'evaluation_count') }}
            as fatal_error_rate,
        handled_count,
        handled_contact_count,
        evaluated_contact_count,
        {{ safe_divide('evaluated_contact_count', 'handled_contact_count') }}
            as qa_coverage_rate,
        survey_count,
        top_two_box_count,
        {{ safe_divide('top_two_box_count', 'survey_count') }} as csat_rate,
        csat_score,
        fcr_contact_count,
        fcr_resolved_count,
        {{ fcr_rate('fcr_resolved_count', 'fcr_contact_count') }} as fcr_rate,

        -- dates
        month_start_date

    from distinct_counted
    -- facts without an agent count at tenant grain only; agents without a
    -- roster team have no team row
    where
        (grain = 'agent' and agent_id is not null)
        or (grain = 'team' and team_id is not null)
        or grain = 'tenant'

)

select * from rated
