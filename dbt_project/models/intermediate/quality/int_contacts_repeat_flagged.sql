{{ config(
    materialized='incremental',
    incremental_strategy='window_overwrite',
    unique_key=['tenant_id', 'contact_id'],
    meta={'window_column': 'first_entered_at'},
) }}
{%- set reach = fcr_reach_days(0, 1) -%}
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
    Incremental (macros/build_window.sql): a change on a day re-flags the
    contacts of that day, and those up to the FCR window (+1 day) either side
    of it from the callers it holds (their repeats may have changed), read
    with a window's more on each side. Any other stored contact whose window
    has now elapsed (or no longer has: the history's end moved) gets its
    is_window_elapsed flipped; nothing else of it can have changed.
#}
{%- set windowed = build_window_ranges() is not none %}
with

{% if windowed %}
window_contacts as (

    select * from {{ ref('int_contacts_rolled_up') }}
    where {{ in_build_window('first_entered_at') }}

),

{# the callers of the window's contacts, before the change (a removed
   contact's caller loses a repeat) and after it #}
window_callers as (

    select
        tenant_id,
        caller_id_hash
    from window_contacts
    where caller_id_hash is not null
    union
    select
        tenant_id,
        caller_id_hash
    from {{ this }}
    where
        caller_id_hash is not null
        and {{ in_build_window('first_entered_at') }}

),

contacts as (

    select * from window_contacts
    union all
    select caller_contacts.*
    from {{ ref('int_contacts_rolled_up') }} as caller_contacts
    semi join window_callers
        on
            caller_contacts.tenant_id = window_callers.tenant_id
            and caller_contacts.caller_id_hash = window_callers.caller_id_hash
    where
        {{ in_build_window('first_entered_at', before='2 * ' ~ reach, after='2 * ' ~ reach) }}
        and not {{ in_build_window('first_entered_at') }}

),
{% else %}
contacts as (

    select * from {{ ref('int_contacts_rolled_up') }}

),
{% endif %}

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

tenant_ends as (

    -- the whole history's end, not the window's
    select
        tenant_id,
        max(first_entered_at) as tenant_last_entered_at
    from {{ ref('int_contacts_rolled_up') }}
    group by 1

),

joined as (

    select
        contacts.tenant_id,
        contacts.contact_id,
        contacts.closing_agent_id as agent_id,
        contacts.caller_id_hash,
        coalesce(tenants.fcr_window_days, 7) as fcr_window_days,
        contacts.is_offered,
        contacts.is_answered,
        contacts.contact_date,
        contacts.first_entered_at,
        tenant_ends.tenant_last_entered_at
    from contacts
    inner join tenants
        on contacts.tenant_id = tenants.tenant_id
    inner join tenant_ends
        on contacts.tenant_id = tenant_ends.tenant_id

),

sequenced as (

    select
        *,
        caller_id_hash is not null and is_offered as is_sequenced,
        lag(first_entered_at) over caller_contacts
            as previous_contact_entered_at,
        lead(first_entered_at) over caller_contacts
            as next_contact_entered_at
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
            when
                is_sequenced
                and next_contact_entered_at
                <= first_entered_at + to_days(fcr_window_days)
                then next_contact_entered_at
        end as next_contact_entered_at

    from sequenced

){% if windowed %},

reflagged as (

    select * from flagged
    where
        {{ in_build_window('first_entered_at') }}
        or (
            caller_id_hash is not null
            and {{ in_build_window('first_entered_at', before=reach, after=reach) }}
        )

),

{# a flag can flip on the provisional rows, or back within the reach before
   the window when its change moved the history's end back (further back
   only if every contact of the day before the window was gone too); the
   window's stored rows are all replaced (or gone). Two filters DuckDB
   applies in the scan, skipping the row groups they rule out. #}
flip_candidates as (

    select * from {{ this }}
    where
        not is_window_elapsed
        and not {{ in_build_window('first_entered_at') }}
    union all
    select * from {{ this }}
    where
        is_window_elapsed
        and {{ in_build_window('first_entered_at', before=reach, after=reach) }}
        and not {{ in_build_window('first_entered_at') }}

),

elapsed_flipped as (

    select stored.* replace (
        stored.first_entered_at + to_days(stored.fcr_window_days)
        <= tenant_ends.tenant_last_entered_at as is_window_elapsed
    )
    from flip_candidates as stored
    inner join tenant_ends
        on stored.tenant_id = tenant_ends.tenant_id
    anti join reflagged
        on
            stored.tenant_id = reflagged.tenant_id
            and stored.contact_id = reflagged.contact_id
    where
        stored.is_window_elapsed
        <> (stored.first_entered_at + to_days(stored.fcr_window_days)
            <= tenant_ends.tenant_last_entered_at)

)

select * from reflagged
union all
select * from elapsed_flipped
{% else %}
select * from flagged
{{ window_order('first_entered_at') }}
{% endif %}
