{{ config(
    materialized='incremental',
    incremental_strategy='window_overwrite',
    meta={'window_column': 'entered_at'},
) }}
{#
    One row per tenant x answered queue stint (any direction): the stints
    agents handled, each dated by the tenant-local date of its contact's first
    queue entry (as int_contacts_rolled_up dates inbound contacts), so QA
    coverage, evaluations and CSAT share the contact's month. A contact
    answered in two queues (transfer) has two stints, one per answering agent.
    Incremental (macros/build_window.sql): a run rebuilds the stints that
    entered on the UTC days its deliveries touched.
#}
with

contacts as (

    select * from {{ ref('stg_telephony__contacts') }}
    where {{ in_build_window('entered_at', before=1, after=1) }}

),

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

contact_starts as (

    select
        *,
        coalesce(
            min(entered_at) filter (where outcome <> 'ivr_contained') over (
                partition by tenant_id, contact_id
            ),
            min(entered_at) over (partition by tenant_id, contact_id)
        ) as contact_first_entered_at
    from contacts

),

answered as (

    select
        -- ids
        contact_starts.tenant_id,
        contact_starts.contact_id,
        contact_starts.queue_id,
        contact_starts.agent_id,

        -- strings
        contact_starts.direction,

        -- dates
        cast({{ to_local(
            'contact_starts.contact_first_entered_at', 'tenants.timezone'
        ) }} as date) as contact_date,

        -- timestamps (UTC)
        contact_starts.entered_at,
        contact_starts.answered_at,
        contact_starts.contact_first_entered_at

    from contact_starts
    inner join tenants
        on contact_starts.tenant_id = tenants.tenant_id
    where contact_starts.outcome = 'answered'

),

final as (

    select
        *,
        cast(date_trunc('month', contact_date) as date) as month_start_date
    from answered

)

select * from final
where {{ in_build_window('entered_at') }}
{{ window_order('entered_at') }}
