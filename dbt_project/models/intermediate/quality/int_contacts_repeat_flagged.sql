{#
    One row per tenant x inbound contact (as int_contacts_rolled_up counts
    them), flagged for first-contact resolution (FCR) by the repeat-contact
    window (DECISIONLOG "Quality marts"):
    - a repeat is a later inbound contact that reached a queue (answered or
      not) from the same caller_id_hash, entering at most the tenant's
      fcr_window_days x 24 h after this contact entered (inclusive: a repeat
      exactly N days later counts);
    - is_resolved_first_contact is known only for answered contacts from a
      known caller: true when no repeat followed within the window. Withheld
      or anonymous callers (null caller_id_hash) and unanswered contacts give
      null, so count(is_resolved_first_contact) is the FCR denominator;
    - the contact's agent is the agent of its last answered stint (the one
      who closed it).
    Tenant-day FCR: group by tenant_id, contact_date and use
    fcr_rate(count(*) filter (where is_resolved_first_contact),
    count(is_resolved_first_contact)) from macros/kpis.sql.
#}
with

contacts as (

    select * from {{ ref('int_contacts_rolled_up') }}

),

stints as (

    select * from {{ ref('stg_telephony__contacts') }}
    where direction = 'inbound'

),

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

contact_callers as (

    select
        tenant_id,
        contact_id,
        max(caller_id_hash) as caller_id_hash,
        arg_max(agent_id, entered_at) filter (
            where outcome = 'answered' and agent_id is not null
        ) as agent_id
    from stints
    group by 1, 2

),

joined as (

    select
        contacts.tenant_id,
        contacts.contact_id,
        contact_callers.agent_id,
        contact_callers.caller_id_hash,
        coalesce(tenants.fcr_window_days, 7) as fcr_window_days,
        contacts.is_offered,
        contacts.is_answered,
        contacts.contact_date,
        contacts.first_entered_at
    from contacts
    inner join tenants
        on contacts.tenant_id = tenants.tenant_id
    left join contact_callers
        on
            contacts.tenant_id = contact_callers.tenant_id
            and contacts.contact_id = contact_callers.contact_id

),

sequenced as (

    select
        *,
        caller_id_hash is not null and is_offered as is_sequenced,
        lag(first_entered_at) over caller_contacts
            as previous_contact_entered_at,
        lead(first_entered_at) over caller_contacts
            as next_contact_entered_at,
        max(first_entered_at) over (partition by tenant_id)
            as tenant_last_entered_at
    from joined
    window caller_contacts as (
        partition by tenant_id, caller_id_hash, is_offered
        order by first_entered_at, contact_id
    )

),

flagged as (

    select
        -- ids
        tenant_id,
        contact_id,
        agent_id,
        caller_id_hash,

        -- numerics
        fcr_window_days,

        -- booleans
        is_offered,
        is_answered,
        caller_id_hash is not null as has_known_caller,
        case
            when is_sequenced
                then coalesce(
                    previous_contact_entered_at
                    >= first_entered_at - to_days(fcr_window_days),
                    false
                )
        end as is_repeat_within_window,
        case
            when is_sequenced
                then coalesce(
                    next_contact_entered_at
                    <= first_entered_at + to_days(fcr_window_days),
                    false
                )
        end as has_repeat_within_window,
        case
            when is_sequenced and is_answered
                then not coalesce(
                    next_contact_entered_at
                    <= first_entered_at + to_days(fcr_window_days),
                    false
                )
        end as is_resolved_first_contact,
        first_entered_at + to_days(fcr_window_days)
        <= tenant_last_entered_at as is_window_elapsed,

        -- dates
        contact_date,
        cast(date_trunc('month', contact_date) as date) as month_start_date,

        -- timestamps (UTC)
        first_entered_at,
        case
            when is_sequenced then next_contact_entered_at
        end as next_contact_entered_at

    from sequenced

)

select * from flagged
