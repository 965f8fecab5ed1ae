{{ config(
    materialized='incremental',
    incremental_strategy='window_overwrite',
    unique_key=['tenant_id', 'agent_id', 'queue_id', 'interval_start_at'],
    meta={'window_column': 'interval_start_at', 'whole_when_changed': ['hr']},
) }}
{#
    One row per tenant x agent x queue x staffing interval in which the agent
    was scheduled, logged in or handling a contact: the seconds of the
    interval that each figure needs (scheduled work, paid and unavailable
    time, logged-in and available time, handle time, time in the scheduled
    state).

    - An agent counts for every queue they can take: the queues of their
      roster skills, scheduled work, per-queue state changes and answered
      stints. A schedule (which names at most one queue) and an all-queues
      state timeline apply to each of them.
    - Scheduled activities come from stg_hr__shifts; an activity whose
      is_paid is not delivered is paid unless it is lunch. Paid time is
      available for contacts only when it is scheduled work the agent
      attended: an absent, sick, on-leave or day-off agent (stg_hr__attendance)
      misses the day's work; a late or early-leaving agent misses the work
      outside clock-in/clock-out. No attendance row: the work counts as
      attended.
    - States come from int_agent_state_intervals_timed: logged in = any
      state but logged_out; available = logged_in or ready (not paused). A state
      interval that is still open (no next change yet) counts nowhere.
    - Handle time is talk + hold + after-call work of the agent's answered
      stints, from the answer on (entry + wait when the answer time is not
      delivered), spread over the intervals it spans
      (int_handled_stints_spread_to_intervals, incremental).
    - In the scheduled state: scheduled work while available, or any other
      scheduled activity while not available (paused or logged out).
    Incremental (macros/build_window.sql): a run recomputes the intervals of
    the UTC days its deliveries touched, and every interval of an agent seen
    on a queue for the first time in them (the agent now counts for that
    queue in all their intervals). An HR change (roster skills, schedules,
    attendance) rebuilds the whole model.
#}
with

tenants as (

    select * from {{ ref('stg_config__tenants') }}

),

{% set rebuilt = build_window_ranges() is not none %}
agent_queue_days as (

    select * from {{ ref('int_agent_queue_days_worked') }}

),

agent_queues as (

    select distinct
        tenant_id,
        agent_id,
        queue_id
    from (
        select
            tenant_id,
            agent_id,
            unnest(skills) as queue_id
        from {{ ref('stg_hr__roster') }}
        union all
        select
            tenant_id,
            agent_id,
            queue_id
        from {{ ref('stg_hr__shifts') }}
        where activity = 'work'
        union all
        select
            tenant_id,
            agent_id,
            queue_id
        from agent_queue_days
    ) as mapped
    where queue_id is not null

),

{% if rebuilt %}
{# agents seen on a queue for the first time in the window: all their intervals
   (ST03: sqlfluff renders this block apart from the final one that reads it) #}
new_queue_agents as (  -- noqa: ST03

    select distinct
        tenant_id,
        agent_id
    from (
        select
            tenant_id,
            agent_id,
            queue_id,
            min(day_start_at) as first_seen_at
        from agent_queue_days
        group by 1, 2, 3
    ) as pairs
    where {{ in_build_window('first_seen_at') }}

),
{% endif %}

shifts as (

    {{ window_rows_and_rebuilt_keys(
        ref('stg_hr__shifts'),
        overlaps_build_window('starts_at', 'ends_at'),
        'new_queue_agents', ['tenant_id', 'agent_id'],
    ) }}

),

attendance as (

    select * from {{ ref('stg_hr__attendance') }}

),

states as (

    select *
    from ({{ window_rows_and_rebuilt_keys(
        ref('int_agent_state_intervals_timed'),
        overlaps_build_window('state_started_at', 'state_ended_at'),
        'new_queue_agents', ['tenant_id', 'agent_id'],
    ) }}) as agent_states
    where state_ended_at is not null

),

activities as (

    select
        shifts.tenant_id,
        shifts.agent_id,
        shifts.activity,
        shifts.starts_at,
        shifts.ends_at,
        tenants.interval_minutes,
        coalesce(shifts.is_paid, shifts.activity <> 'lunch') as is_paid,
        coalesce(
            attendance.attendance_status in ('absent', 'sick', 'leave', 'day_off'),
            false
        ) as is_absent,
        attendance.clock_in_at,
        attendance.clock_out_at
    from shifts
    inner join tenants
        on shifts.tenant_id = tenants.tenant_id
    left join attendance
        on
            shifts.tenant_id = attendance.tenant_id
            and shifts.agent_id = attendance.agent_id
            and shifts.shift_date = attendance.work_date

),

activity_buckets as (

    select
        *,
        {{ interval_starts_spanned('starts_at', 'ends_at', 'interval_minutes') }}
            as interval_start_at
    from activities

),

activity_pieces as (

    select
        *,
        greatest(starts_at, interval_start_at) as piece_start_at,
        least(
            ends_at,
            interval_start_at + to_minutes(cast(interval_minutes as bigint))
        ) as piece_end_at
    from activity_buckets

),

activity_seconds as (

    select
        *,
        date_diff('millisecond', piece_start_at, piece_end_at) / 1000.0
            as piece_seconds,
        case
            when activity <> 'work' or is_absent then 0.0
            else greatest(
                0.0,
                date_diff(
                    'millisecond',
                    greatest(piece_start_at, coalesce(clock_in_at, piece_start_at)),
                    least(piece_end_at, coalesce(clock_out_at, piece_end_at))
                ) / 1000.0
            )
        end as attended_work_seconds
    from activity_pieces

),

activity_queue_pieces as (

    select
        activity_seconds.*,
        agent_queues.queue_id
    from activity_seconds
    inner join agent_queues
        on
            activity_seconds.tenant_id = agent_queues.tenant_id
            and activity_seconds.agent_id = agent_queues.agent_id

),

state_queues as (

    select * from states
    where queue_id is not null

    union all

    select states.* replace (agent_queues.queue_id as queue_id)
    from states
    inner join agent_queues
        on
            states.tenant_id = agent_queues.tenant_id
            and states.agent_id = agent_queues.agent_id
    where states.queue_id is null

),

state_buckets as (

    select
        state_queues.tenant_id,
        state_queues.agent_id,
        state_queues.queue_id,
        state_queues.state in ('logged_in', 'ready') as is_available,
        state_queues.state_started_at,
        state_queues.state_ended_at,
        tenants.interval_minutes,
        {{ interval_starts_spanned(
            'state_queues.state_started_at',
            'state_queues.state_ended_at',
            'tenants.interval_minutes'
        ) }} as interval_start_at
    from state_queues
    inner join tenants
        on state_queues.tenant_id = tenants.tenant_id
    where state_queues.state <> 'logged_out'

),

state_pieces as (

    select
        *,
        greatest(state_started_at, interval_start_at) as piece_start_at,
        least(
            state_ended_at,
            interval_start_at + to_minutes(cast(interval_minutes as bigint))
        ) as piece_end_at
    from state_buckets

),

busy_by_agent as (

    {{ window_rows_and_rebuilt_keys(
        ref('int_handled_stints_spread_to_intervals'),
        in_build_window('interval_start_at'),
        'new_queue_agents', ['tenant_id', 'agent_id'],
    ) }}

),

busy_by_queue as (

    select
        busy_by_agent.*,
        agent_queues.queue_id
    from busy_by_agent
    inner join agent_queues
        on
            busy_by_agent.tenant_id = agent_queues.tenant_id
            and busy_by_agent.agent_id = agent_queues.agent_id

),

schedule_by_queue as (

    select
        tenant_id,
        agent_id,
        queue_id,
        interval_start_at,
        sum(piece_seconds) as scheduled_seconds,
        coalesce(sum(piece_seconds) filter (where activity = 'work'), 0)
            as scheduled_work_seconds,
        coalesce(sum(piece_seconds) filter (where is_paid), 0) as paid_seconds,
        coalesce(sum(attended_work_seconds) filter (where is_paid), 0)
            as paid_available_seconds
    from activity_queue_pieces
    group by 1, 2, 3, 4

),

states_by_queue as (

    select
        tenant_id,
        agent_id,
        queue_id,
        interval_start_at,
        sum(date_diff('millisecond', piece_start_at, piece_end_at) / 1000.0)
            as logged_in_seconds,
        coalesce(
            sum(date_diff('millisecond', piece_start_at, piece_end_at) / 1000.0)
            filter (where is_available),
            0
        ) as available_seconds
    from state_pieces
    group by 1, 2, 3, 4

),

in_state as (

    select
        activity_queue_pieces.tenant_id,
        activity_queue_pieces.agent_id,
        activity_queue_pieces.queue_id,
        activity_queue_pieces.interval_start_at,
        coalesce(sum(
            date_diff(
                'millisecond',
                greatest(activity_queue_pieces.piece_start_at, state_pieces.piece_start_at),
                least(activity_queue_pieces.piece_end_at, state_pieces.piece_end_at)
            ) / 1000.0
        ) filter (where activity_queue_pieces.activity = 'work'), 0)
            as work_available_seconds,
        coalesce(sum(
            date_diff(
                'millisecond',
                greatest(activity_queue_pieces.piece_start_at, state_pieces.piece_start_at),
                least(activity_queue_pieces.piece_end_at, state_pieces.piece_end_at)
            ) / 1000.0
        ) filter (where activity_queue_pieces.activity <> 'work'), 0)
            as other_available_seconds
    from activity_queue_pieces
    inner join state_pieces
        on
            activity_queue_pieces.tenant_id = state_pieces.tenant_id
            and activity_queue_pieces.agent_id = state_pieces.agent_id
            and activity_queue_pieces.queue_id = state_pieces.queue_id
            and activity_queue_pieces.interval_start_at = state_pieces.interval_start_at
            and state_pieces.is_available
            and activity_queue_pieces.piece_end_at > state_pieces.piece_start_at
            and activity_queue_pieces.piece_start_at < state_pieces.piece_end_at
    group by 1, 2, 3, 4

),

agent_interval_keys as (

    select
        tenant_id,
        agent_id,
        queue_id,
        interval_start_at
    from schedule_by_queue
    union
    select
        tenant_id,
        agent_id,
        queue_id,
        interval_start_at
    from states_by_queue
    union
    select
        tenant_id,
        agent_id,
        queue_id,
        interval_start_at
    from busy_by_queue

),

final as (

    select
        -- ids
        agent_interval_keys.tenant_id,
        agent_interval_keys.agent_id,
        agent_interval_keys.queue_id,

        -- numerics
        coalesce(schedule_by_queue.scheduled_seconds, 0) as scheduled_seconds,
        coalesce(schedule_by_queue.scheduled_work_seconds, 0) as scheduled_work_seconds,
        coalesce(schedule_by_queue.paid_seconds, 0) as paid_seconds,
        coalesce(schedule_by_queue.paid_seconds, 0)
        - coalesce(schedule_by_queue.paid_available_seconds, 0) as paid_unavailable_seconds,
        coalesce(states_by_queue.logged_in_seconds, 0) as logged_in_seconds,
        coalesce(states_by_queue.available_seconds, 0) as available_seconds,
        coalesce(busy_by_queue.busy_seconds, 0) as handle_seconds,
        greatest(
            coalesce(states_by_queue.available_seconds, 0)
            - coalesce(busy_by_queue.busy_seconds, 0),
            0
        ) as idle_seconds,
        coalesce(in_state.work_available_seconds, 0)
        + coalesce(schedule_by_queue.scheduled_seconds, 0)
        - coalesce(schedule_by_queue.scheduled_work_seconds, 0)
        - coalesce(in_state.other_available_seconds, 0) as in_scheduled_state_seconds,

        -- timestamps
        agent_interval_keys.interval_start_at

    from agent_interval_keys
    left join schedule_by_queue
        using (tenant_id, agent_id, queue_id, interval_start_at)
    left join states_by_queue
        using (tenant_id, agent_id, queue_id, interval_start_at)
    left join busy_by_queue
        using (tenant_id, agent_id, queue_id, interval_start_at)
    left join in_state
        using (tenant_id, agent_id, queue_id, interval_start_at)

)

select * from final
{%- if rebuilt %}
where
    {{ in_build_window('interval_start_at') }}
    or exists (
        select 1 from new_queue_agents
        where
            new_queue_agents.tenant_id = final.tenant_id
            and new_queue_agents.agent_id = final.agent_id
    )
{%- endif %}
