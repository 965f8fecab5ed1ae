{#
    One row per tenant x CSAT survey response: top-2-box (the score lies in
    the top two points of its own scale: 4-5 of 1-5, 9-10 of 0-10 or 1-10)
    and the score normalised to 0-1 by its scale,
    (score - scale_min) / (scale_max - scale_min). The agent is the survey's
    own agent_id, else the last agent who answered the surveyed contact; the
    month is the local month of the surveyed contact's first queue entry when
    the contact is in the telephony feed, else of answered_at.
#}
with

surveys as (

    select * from {{ ref('stg_qa__csat_surveys') }}

),

handled as (

    {# only the surveyed contacts' stints: a join filter, not a pass over
       every handled stint of the history #}
    select handled_stints.*
    from {{ ref('int_handled_stints_dated') }} as handled_stints
    semi join surveys
        on
            handled_stints.tenant_id = surveys.tenant_id
            and handled_stints.contact_id = surveys.contact_id

),

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

handled_contacts as (

    select
        tenant_id,
        contact_id,
        min(contact_date) as contact_date,
        arg_max(agent_id, entered_at) filter (
            where agent_id is not null
        ) as agent_id
    from handled
    group by 1, 2

),

scored as (

    select
        -- ids
        surveys.tenant_id,
        surveys.survey_id,
        surveys.contact_id,
        coalesce(surveys.agent_id, handled_contacts.agent_id) as agent_id,

        -- numerics
        surveys.score,
        surveys.scale_min,
        surveys.scale_max,
        {{ safe_divide(
            'surveys.score - surveys.scale_min',
            'surveys.scale_max - surveys.scale_min'
        ) }} as normalised_score,

        -- booleans
        surveys.score >= surveys.scale_max - 1 as is_top_two_box,

        -- dates
        handled_contacts.contact_date,
        cast(date_trunc('month', coalesce(
            handled_contacts.contact_date,
            cast({{ to_local('surveys.answered_at', 'tenants.timezone') }} as date)
        )) as date) as month_start_date,

        -- timestamps (UTC)
        surveys.answered_at

    from surveys
    inner join tenants
        on surveys.tenant_id = tenants.tenant_id
    left join handled_contacts
        on
            surveys.tenant_id = handled_contacts.tenant_id
            and surveys.contact_id = handled_contacts.contact_id

)

select * from scored
