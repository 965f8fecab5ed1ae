{#
    One row per tenant x queue x staffing interval of every loaded local day:
    the queue's stints counted by the interval of their entry, the agents the
    interval needed (Erlang C / A), had scheduled and had logged in, and what
    the forecast had said. Agent figures are null for a date whose feed is
    missing (no schedules, no agent states), never 0.

    Intraday (DECISIONLOG "Intervals as they fill"): is_interval_complete
    says whether the loaded telephony reaches the interval's end; a stint
    still waiting counts as offered (waiting_count), and the service level
    leaves out those not yet past its threshold (waiting_within_sl_count).
    An interval not complete carries the reforecast of the rest of the day
    (reforecast_*, int_queue_intervals_reforecast); a complete one null.
#}
with

grid as (

    select * from {{ ref('int_queue_intervals_gridded') }}
    where not is_future

),

counts as (

    select * from {{ ref('int_queue_stints_bucketed_to_intervals') }}

),

staffed as (

    select * from {{ ref('int_queue_intervals_staffed') }}

),

forecasts as (

    select * from {{ ref('int_queue_intervals_forecast') }}

),

agent_intervals as (

    select * from {{ ref('int_agent_intervals_measured') }}

),

feed_days as (

    select * from {{ ref('int_staffing_feed_days_flagged') }}

),

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

reach as (

    select * from {{ ref('int_telephony_feeds_measured') }}

),

agents as (

    select
        tenant_id,
        queue_id,
        interval_start_at,
        sum(scheduled_seconds) as scheduled_seconds,
        sum(scheduled_work_seconds) as scheduled_work_seconds,
        sum(paid_seconds) as paid_seconds,
        sum(paid_unavailable_seconds) as paid_unavailable_seconds,
        sum(logged_in_seconds) as logged_in_seconds,
        sum(available_seconds) as available_seconds,
        sum(handle_seconds) filter (where logged_in_seconds > 0) as handle_seconds,
        sum(idle_seconds) filter (where logged_in_seconds > 0) as idle_seconds,
        sum(in_scheduled_state_seconds) as in_scheduled_state_seconds
    from agent_intervals
    group by 1, 2, 3

),

joined as (

    select
        grid.tenant_id,
        grid.queue_id,
        grid.interval_start_at,
        grid.interval_start_local,
        grid.interval_date,
        grid.interval_minutes,
        grid.interval_seconds,
        {{ is_interval_complete(
            'grid.interval_end_at',
            'grid.interval_date',
            'reach.last_event_at',
            'reach.last_delivery_date'
        ) }} as is_interval_complete,
        tenants.service_level_variant,
        tenants.service_level_seconds,
        counts.interval_start_at is not null as has_stints,
        counts.offered_count,
        counts.answered_count,
        counts.abandoned_count,
        counts.waiting_count,
        counts.waiting_within_sl_count,
        counts.short_abandoned_count,
        counts.answered_within_sl_count,
        counts.abandoned_within_sl_count,
        counts.asa_seconds,
        counts.waiting_seconds,
        counts.handle_seconds as stint_handle_seconds,
        counts.handled_count,
        counts.vip_offered_count,
        counts.vip_answered_count,
        counts.vip_waiting_within_sl_count,
        counts.vip_short_abandoned_count,
        counts.vip_answered_within_sl_count,
        counts.vip_abandoned_within_sl_count,
        tenants.vip_service_level_seconds,
        coalesce(feed_days.has_shifts, false) as has_shifts,
        coalesce(feed_days.has_agent_states, false) as has_agent_states,
        coalesce(agents.scheduled_seconds, 0) as scheduled_seconds,
        coalesce(agents.scheduled_work_seconds, 0) as scheduled_work_seconds,
        coalesce(agents.paid_seconds, 0) as paid_seconds,
        coalesce(agents.paid_unavailable_seconds, 0) as paid_unavailable_seconds,
        coalesce(agents.logged_in_seconds, 0) as logged_in_seconds,
        coalesce(agents.available_seconds, 0) as available_seconds,
        coalesce(agents.handle_seconds, 0) as agent_handle_seconds,
        coalesce(agents.idle_seconds, 0) as idle_seconds,
        coalesce(agents.in_scheduled_state_seconds, 0) as in_scheduled_state_seconds,
        staffed.erlang_c_agents,
        staffed.erlang_a_agents,
        staffed.required_agents_with_shrinkage,
        staffed.reforecast_calls as reforecast_offered_count,
        staffed.reforecast_aht_seconds,
        staffed.reforecast_erlang_c_agents,
        staffed.reforecast_erlang_a_agents,
        forecasts.forecast_offered_count,
        forecasts.forecast_aht_seconds
    from grid
    inner join tenants
        on grid.tenant_id = tenants.tenant_id
    left join reach
        on grid.tenant_id = reach.tenant_id
    left join counts
        on
            grid.tenant_id = counts.tenant_id
            and grid.queue_id = counts.queue_id
            and grid.interval_start_at = counts.interval_start_at
    left join agents
        on
            grid.tenant_id = agents.tenant_id
            and grid.queue_id = agents.queue_id
            and grid.interval_start_at = agents.interval_start_at
    left join feed_days
        on
            grid.tenant_id = feed_days.tenant_id
            and grid.interval_date = feed_days.feed_date
    left join staffed
        on
            grid.tenant_id = staffed.tenant_id
            and grid.queue_id = staffed.queue_id
            and grid.interval_start_at = staffed.interval_start_at
    left join forecasts
        on
            grid.tenant_id = forecasts.tenant_id
            and grid.queue_id = forecasts.queue_id
            and grid.interval_start_at = forecasts.interval_start_at

),

counted as (

    {# an interval without stints counts 0 of everything (known, not null) #}
    select
        * replace (
            coalesce(offered_count, 0) as offered_count,
            coalesce(answered_count, 0) as answered_count,
            coalesce(abandoned_count, 0) as abandoned_count,
            coalesce(waiting_count, 0) as waiting_count,
            coalesce(waiting_within_sl_count, 0) as waiting_within_sl_count,
            case when has_stints then short_abandoned_count else 0 end
                as short_abandoned_count,
            case when has_stints then answered_within_sl_count else 0 end
                as answered_within_sl_count,
            case when has_stints then abandoned_within_sl_count else 0 end
                as abandoned_within_sl_count,
            case when has_stints then waiting_seconds else 0 end as waiting_seconds,
            coalesce(vip_offered_count, 0) as vip_offered_count,
            coalesce(vip_answered_count, 0) as vip_answered_count,
            coalesce(vip_waiting_within_sl_count, 0) as vip_waiting_within_sl_count,
            case when has_stints then vip_short_abandoned_count else 0 end
                as vip_short_abandoned_count,
            case when has_stints then vip_answered_within_sl_count else 0 end
                as vip_answered_within_sl_count,
            case when has_stints then vip_abandoned_within_sl_count else 0 end
                as vip_abandoned_within_sl_count
        )
    from joined

),

final as (

    select
        -- ids
        tenant_id,
        queue_id,

        -- timestamps
        interval_start_local,
        interval_start_at,

        -- dates
        interval_date,

        -- numerics
        interval_minutes,
        offered_count,
        answered_count,
        abandoned_count,
        short_abandoned_count,
        answered_within_sl_count,
        abandoned_within_sl_count,
        {# a stint still waiting within the threshold may yet be answered within it #}
        {{ service_level_rate(
            'service_level_variant',
            'answered_within_sl_count',
            'abandoned_within_sl_count',
            'short_abandoned_count',
            'answered_count',
            '(offered_count - waiting_within_sl_count)'
        ) }} as service_level_rate,
        {{ answer_rate('answered_count', 'offered_count') }} as answer_rate,
        {{ abandon_rate('abandoned_count', 'short_abandoned_count', 'offered_count') }}
            as abandon_rate,
        asa_seconds,
        {{ safe_divide('stint_handle_seconds', 'handled_count') }} as aht_seconds,
        {{ observed_patience_seconds('waiting_seconds', 'abandoned_count') }}
            as observed_patience_seconds,
        erlang_c_agents,
        erlang_a_agents,
        required_agents_with_shrinkage,
        case
            when has_shifts then {{ safe_divide('scheduled_work_seconds', 'interval_seconds') }}
        end as scheduled_agents,
        case
            when has_agent_states then {{ safe_divide('logged_in_seconds', 'interval_seconds') }}
        end as logged_in_agents,
        case
            when has_agent_states then {{ safe_divide('available_seconds', 'interval_seconds') }}
        end as available_agents,
        case
            when has_agent_states
                then {{ occupancy_rate('agent_handle_seconds', 'idle_seconds') }}
        end as occupancy_rate,
        case
            when has_shifts
                then {{ shrinkage_rate('paid_unavailable_seconds', 'paid_seconds') }}
        end as shrinkage_rate,
        case
            when has_shifts and has_agent_states
                then {{ adherence_rate('in_scheduled_state_seconds', 'scheduled_seconds') }}
        end as adherence_rate,
        forecast_offered_count,
        forecast_aht_seconds,
        service_level_seconds,
        waiting_count,
        waiting_within_sl_count,
        reforecast_offered_count,
        reforecast_aht_seconds,
        reforecast_erlang_c_agents,
        reforecast_erlang_a_agents,
        vip_offered_count,
        vip_answered_count,
        vip_answered_within_sl_count,
        vip_short_abandoned_count,
        vip_abandoned_within_sl_count,
        vip_waiting_within_sl_count,
        {# as the day mart's, a VIP caller still waiting within its T undecided #}
        {{ service_level_rate(
            'service_level_variant',
            'vip_answered_within_sl_count',
            'vip_abandoned_within_sl_count',
            'vip_short_abandoned_count',
            'vip_answered_count',
            '(vip_offered_count - vip_waiting_within_sl_count)'
        ) }} as vip_service_level_rate,
        vip_service_level_seconds,

        -- booleans
        is_interval_complete,

        -- strings
        service_level_variant

    from counted

)

select * from final
