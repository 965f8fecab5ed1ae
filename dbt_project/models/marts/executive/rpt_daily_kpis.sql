{{ config(
    materialized='incremental',
    incremental_strategy='window_overwrite',
    unique_key=['tenant_id', 'kpi_date'],
    on_schema_change='fail',
    meta={'window_column': 'kpi_date', 'whole_when_changed': ['qa', 'hr']},
) }}
-- depends_on: {{ ref('stg_config__tenants') }} (fcr_reach_days)
{#- on_schema_change fail: a contracted mart; a changed project builds whole
    (callops.incremental) -#}
{#- the days a change can reach: its own, and those the FCR reach before it (their FCR flags) -#}
{%- set reach = fcr_reach_days(0, 2) -%}
{#- and those after it whose forecast it changes (the forecast WAPE) -#}
{%- set forecast_reach = forecast_reach_days() -%}
{#
    One row per tenant per local date: the day's contact-centre KPIs, counted
    per contact (docs/domain.md). Formulas live in macros/kpis.sql, each
    rate computed from additive components the row carries (sums and counts),
    so a period adds those up and recomputes the rate with the same macro
    (rpt_kpis_by_period), never averaging daily rates. A figure that
    needs the queue wait is null for a day with contacts whose format cannot
    express it (Asterisk CDR), never a guess. A partial day (macro
    is_day_complete: the loaded telephony does not reach its last interval
    and no later delivery day is loaded) has no target attainment and no
    forecast accuracy: it is not over in the data.
    Incremental (macros/build_window.sql): a telephony change rebuilds the
    days it touched, those whose FCR flags it can change (the FCR reach
    before it) and those whose forecast it changes (the forecast reach
    after it), each replacing its row (unique_key); a QA or HR change
    rebuilds every day (an evaluation's day, the roster's agents). A day a
    later telephony delivery completes is in that delivery's window however
    far back it lies: a telephony load marks the days the marts hold as
    partial as changed (callops.pipeline).
#}
with

contacts as (

    select * from {{ ref('int_contacts_rolled_up') }}
    where {{ in_build_window('contact_date', before=reach, after=forecast_reach) }}

),

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

qa_criteria as (

    select * from {{ ref('int_qa_criteria_scored') }}

),

qa_evaluations as (

    select * from {{ ref('int_qa_evaluations_scored') }}

),

csat_surveys as (

    select * from {{ ref('int_csat_surveys_scored') }}

),

repeat_flagged as (

    select * from {{ ref('int_contacts_repeat_flagged') }}
    where {{ in_build_window('contact_date', before=reach, after=forecast_reach) }}

),

agent_intervals as (

    select * from {{ ref('int_agent_intervals_measured') }}
    -- UTC intervals of the local days (a day is at most 14 h off UTC)
    where {{ in_build_window(
        'interval_start_at', before=reach ~ ' + 1', after=forecast_reach ~ ' + 1'
    ) }}

),

feed_days as (

    select * from {{ ref('int_staffing_feed_days_flagged') }}

),

agent_days as (

    select * from {{ ref('int_agent_days_answered') }}
    where {{ in_build_window('contact_date', before=reach, after=forecast_reach) }}

),

roster as (

    select * from {{ ref('stg_hr__roster') }}

),

forecast_accuracy as (

    select * from {{ ref('fct_forecast_accuracy_daily') }}

),

coverage as (

    select * from {{ ref('int_telephony_feeds_measured') }}

),

occupancy_daily as (

    -- an agent taking several queues appears once per queue with the same
    -- agent-level handle and idle time: count each agent-interval once; no
    -- agent-state feed that day, no occupancy
    select
        per_agent.tenant_id,
        per_agent.kpi_date,
        cast(sum(per_agent.handle_seconds) as double)
            as occupancy_handle_seconds_sum,
        cast(sum(per_agent.idle_seconds) as double)
            as occupancy_idle_seconds_sum
    from (
        select
            agent_intervals.tenant_id,
            agent_intervals.agent_id,
            agent_intervals.interval_start_at,
            cast(
                {{ to_local('agent_intervals.interval_start_at', 'tenants.timezone') }}
                as date
            ) as kpi_date,
            max(agent_intervals.handle_seconds) as handle_seconds,
            max(agent_intervals.idle_seconds) as idle_seconds
        from agent_intervals
        inner join tenants
            on agent_intervals.tenant_id = tenants.tenant_id
        group by 1, 2, 3, 4
    ) as per_agent
    inner join feed_days
        on
            per_agent.tenant_id = feed_days.tenant_id
            and per_agent.kpi_date = feed_days.feed_date
            and feed_days.has_agent_states
    group by 1, 2

),

forecast_daily as (

    -- volume WAPE over every queue's intervals of the day
    select
        tenant_id,
        forecast_date as kpi_date,
        {{ wape('sum(volume_absolute_error)', 'sum(actual_offered_count)') }}
            as forecast_wape
    from forecast_accuracy
    group by 1, 2

),

evaluation_dates as (

    -- the date of the contact an evaluation evaluated
    select
        tenant_id,
        evaluation_id,
        min(contact_date) as contact_date
    from qa_criteria
    group by 1, 2

),

qa_daily as (

    -- an evaluation counts on the date of the contact it evaluated (its own
    -- date when the contact is not in the telephony feed)
    select
        qa_evaluations.tenant_id,
        coalesce(
            evaluation_dates.contact_date, qa_evaluations.evaluated_date
        ) as kpi_date,
        count(qa_evaluations.qa_score) as qa_evaluation_count,
        sum(qa_evaluations.qa_score) as qa_score_sum
    from qa_evaluations
    left join evaluation_dates
        on
            qa_evaluations.tenant_id = evaluation_dates.tenant_id
            and qa_evaluations.evaluation_id = evaluation_dates.evaluation_id
    group by 1, 2

),

csat_daily as (

    select
        csat_surveys.tenant_id,
        coalesce(
            csat_surveys.contact_date,
            cast({{ to_local('csat_surveys.answered_at', 'tenants.timezone') }} as date)
        ) as kpi_date,
        count(csat_surveys.is_top_two_box) as csat_response_count,
        count(*) filter (where csat_surveys.is_top_two_box)
            as csat_top_box_count
    from csat_surveys
    inner join tenants
        on csat_surveys.tenant_id = tenants.tenant_id
    group by 1, 2

),

fcr_daily as (

    select
        tenant_id,
        contact_date as kpi_date,
        count(is_resolved_first_contact) as fcr_contact_count,
        count(*) filter (where is_resolved_first_contact) as fcr_resolved_count
    from repeat_flagged
    group by 1, 2

),

agents_daily as (

    -- agents who answered a stint of the day's contacts, and those of them
    -- not on the tenant's roster that day (hired later, left before, or
    -- unknown); null for a tenant that sends no roster
    select
        tenant_id,
        contact_date as kpi_date,
        count(*) as answering_agent_count,
        {{ count_if_known('not is_on_roster') }} as unrostered_agent_count
    from agent_days
    group by 1, 2

),

counted as (

    select
        tenant_id,
        contact_date as kpi_date,
        any_value(service_level_variant) as service_level_variant,
        any_value(service_level_seconds) as service_level_seconds,
        count(*) filter (where is_offered) as offered_count,
        count(*) filter (where is_answered) as answered_count,
        count(*) filter (where is_abandoned) as abandoned_count,
        {{ count_if_known('is_short_abandoned') }} as short_abandoned_count,
        {{ count_if_known('is_answered_within_sl') }}
            as answered_within_sl_count,
        {{ count_if_known('is_abandoned_within_sl') }}
            as abandoned_within_sl_count,
        case
            when bool_or(is_ivr_visible)
                then count(*) filter (where is_ivr_contained)
        end as ivr_contained_count,
        cast({{ sum_if_known('wait_seconds', 'is_answered') }} as double)
            as answered_wait_seconds_sum,
        cast(
            coalesce(sum(handle_seconds) filter (where is_answered), 0)
            as double
        ) as handle_seconds_sum,
        count(handle_seconds) filter (where is_answered) as handled_count,
        {{ count_if_known('wait_seconds <= 10', 'is_answered') }}
            as answered_within_10s_count,
        {{ count_if_known('wait_seconds <= 20', 'is_answered') }}
            as answered_within_20s_count,
        {{ count_if_known('wait_seconds <= 30', 'is_answered') }}
            as answered_within_30s_count,
        {{ count_if_known('wait_seconds <= 5', 'is_abandoned') }}
            as abandoned_within_5s_count,
        count(*) filter (where is_offered and is_vip) as vip_offered_count,
        count(*) filter (where is_answered and is_vip) as vip_answered_count,
        {{ count_if_known('is_short_abandoned', 'is_vip') }}
            as vip_short_abandoned_count,
        {{ count_if_known('is_answered_within_vip_sl', 'is_vip') }}
            as vip_answered_within_sl_count,
        {{ count_if_known('is_abandoned_within_vip_sl', 'is_vip') }}
            as vip_abandoned_within_sl_count
    from contacts
    group by 1, 2

),

rated as (

    select
        -- ids
        counted.tenant_id,

        -- strings
        counted.service_level_variant,

        -- numerics
        counted.offered_count,
        counted.answered_count,
        counted.abandoned_count,
        counted.short_abandoned_count,
        counted.answered_within_sl_count,
        counted.abandoned_within_sl_count,
        counted.ivr_contained_count,
        {{ answer_rate('counted.answered_count', 'counted.offered_count') }}
            as answer_rate,
        {{ service_level_rate(
            'counted.service_level_variant',
            'counted.answered_within_sl_count',
            'counted.abandoned_within_sl_count',
            'counted.short_abandoned_count',
            'counted.answered_count',
            'counted.offered_count'
        ) }} as service_level_rate,
        {{ abandon_rate(
            'counted.abandoned_count',
            'counted.short_abandoned_count',
            'counted.offered_count'
        ) }} as abandon_rate,
        {{ asa_seconds(
            'counted.answered_wait_seconds_sum', 'counted.answered_count'
        ) }} as asa_seconds,
        {{ aht_seconds('counted.handle_seconds_sum', 'counted.handled_count') }}
            as aht_seconds,
        counted.service_level_seconds,
        counted.vip_offered_count,
        counted.vip_answered_count,
        counted.vip_answered_within_sl_count,
        {{ service_level_rate(
            'counted.service_level_variant',
            'counted.vip_answered_within_sl_count',
            'counted.vip_abandoned_within_sl_count',
            'counted.vip_short_abandoned_count',
            'counted.vip_answered_count',
            'counted.vip_offered_count'
        ) }} as vip_service_level_rate,
        tenants.vip_service_level_seconds,
        tenants.service_level_target,
        tenants.answer_rate_target,
        tenants.abandon_rate_target,
        tenants.vip_service_level_target,
        {{ csat_rate(
            'coalesce(csat_daily.csat_top_box_count, 0)',
            'coalesce(csat_daily.csat_response_count, 0)'
        ) }} as csat_rate,
        {{ qa_score(
            'coalesce(qa_daily.qa_score_sum, 0)',
            'coalesce(qa_daily.qa_evaluation_count, 0)'
        ) }} as qa_score,
        {{ fcr_rate(
            'coalesce(fcr_daily.fcr_resolved_count, 0)',
            'coalesce(fcr_daily.fcr_contact_count, 0)'
        ) }} as fcr_rate,
        {{ occupancy_rate(
            'occupancy_daily.occupancy_handle_seconds_sum',
            'occupancy_daily.occupancy_idle_seconds_sum'
        ) }} as occupancy_rate,
        forecast_daily.forecast_wape,
        tenants.csat_target,
        tenants.qa_score_target,
        coalesce(agents_daily.answering_agent_count, 0)
            as answering_agent_count,
        case
            when agents_daily.tenant_id is not null
                then agents_daily.unrostered_agent_count
            when exists (
                select 1 from roster
                where roster.tenant_id = counted.tenant_id
            ) then 0
        end as unrostered_agent_count,
        counted.answered_wait_seconds_sum,
        counted.handle_seconds_sum,
        counted.handled_count,
        coalesce(csat_daily.csat_response_count, 0) as csat_response_count,
        coalesce(csat_daily.csat_top_box_count, 0) as csat_top_box_count,
        coalesce(qa_daily.qa_evaluation_count, 0) as qa_evaluation_count,
        cast(coalesce(qa_daily.qa_score_sum, 0) as double) as qa_score_sum,
        coalesce(fcr_daily.fcr_contact_count, 0) as fcr_contact_count,
        coalesce(fcr_daily.fcr_resolved_count, 0) as fcr_resolved_count,
        counted.answered_within_10s_count,
        counted.answered_within_20s_count,
        counted.answered_within_30s_count,
        counted.abandoned_within_5s_count,
        {{ common_service_level_rate(
            'counted.answered_within_20s_count',
            'counted.abandoned_within_5s_count',
            'counted.offered_count'
        ) }} as common_service_level_rate,
        occupancy_daily.occupancy_handle_seconds_sum,
        occupancy_daily.occupancy_idle_seconds_sum,
        counted.vip_short_abandoned_count,
        counted.vip_abandoned_within_sl_count,

        -- booleans
        {{ is_day_complete(
            'counted.kpi_date', 'tenants.timezone', 'tenants.interval_minutes',
            'coverage.last_event_at', 'coverage.last_delivery_date'
        ) }} as is_day_complete,

        -- dates
        counted.kpi_date

    from counted
    inner join tenants
        on counted.tenant_id = tenants.tenant_id
    left join csat_daily
        on
            counted.tenant_id = csat_daily.tenant_id
            and counted.kpi_date = csat_daily.kpi_date
    left join qa_daily
        on
            counted.tenant_id = qa_daily.tenant_id
            and counted.kpi_date = qa_daily.kpi_date
    left join fcr_daily
        on
            counted.tenant_id = fcr_daily.tenant_id
            and counted.kpi_date = fcr_daily.kpi_date
    left join occupancy_daily
        on
            counted.tenant_id = occupancy_daily.tenant_id
            and counted.kpi_date = occupancy_daily.kpi_date
    left join forecast_daily
        on
            counted.tenant_id = forecast_daily.tenant_id
            and counted.kpi_date = forecast_daily.kpi_date
    left join agents_daily
        on
            counted.tenant_id = agents_daily.tenant_id
            and counted.kpi_date = agents_daily.kpi_date
    left join coverage
        on counted.tenant_id = coverage.tenant_id

),

attained as (

    -- a partial day has not met or missed a target yet, and its forecast
    -- error compares a forecast of the whole day with part of it: null
    select
        * replace (
            case when is_day_complete then forecast_wape end as forecast_wape
        ),
        {{ targets_met('is_day_complete') }}
    from rated

),

final as (

    select
        tenant_id,
        kpi_date,
        offered_count,
        answered_count,
        abandoned_count,
        short_abandoned_count,
        answered_within_sl_count,
        answer_rate,
        service_level_rate,
        abandon_rate,
        asa_seconds,
        aht_seconds,
        abandoned_within_sl_count,
        ivr_contained_count,
        service_level_seconds,
        service_level_variant,
        vip_offered_count,
        vip_answered_count,
        vip_answered_within_sl_count,
        vip_service_level_rate,
        vip_service_level_seconds,
        service_level_target,
        answer_rate_target,
        abandon_rate_target,
        vip_service_level_target,
        is_service_level_target_met,
        is_answer_rate_target_met,
        is_abandon_rate_target_met,
        is_vip_service_level_target_met,
        csat_rate,
        qa_score,
        fcr_rate,
        csat_target,
        qa_score_target,
        is_csat_target_met,
        is_qa_score_target_met,
        occupancy_rate,
        forecast_wape,
        answering_agent_count,
        unrostered_agent_count,
        is_day_complete,
        -- additive day components: a period's figures are recomputed from
        -- their sums (rpt_kpis_by_period), every rate above from its own
        answered_wait_seconds_sum,
        handle_seconds_sum,
        handled_count,
        csat_response_count,
        csat_top_box_count,
        qa_evaluation_count,
        qa_score_sum,
        fcr_contact_count,
        fcr_resolved_count,
        answered_within_10s_count,
        answered_within_20s_count,
        answered_within_30s_count,
        abandoned_within_5s_count,
        common_service_level_rate,
        occupancy_handle_seconds_sum,
        occupancy_idle_seconds_sum,
        vip_short_abandoned_count,
        vip_abandoned_within_sl_count
    from attained

)

select * from final
where {{ in_build_window('kpi_date', before=reach, after=forecast_reach) }}
