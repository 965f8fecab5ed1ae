{{ config(schema='intermediate') }}
{#
    One row per service-alert episode x step of the dispatch ladder (0: the
    queue as it is, 1-6: the ladder), with what the step brings and the
    Erlang inputs after it and the steps before; the Python model
    int_service_alert_steps_predicted adds the predicted service level
    (DECISIONLOG "The dispatch ladder").
    - The ladder is for the interval after the episode's first breaching
      interval (next_interval_start_at): its reforecast offered stints and AHT
      when it is not complete, else what was offered and handled, or the
      forecast for a future day (int_queue_intervals_staffed), and never
      fewer calls than the breaching interval has had so far; the queue's
      observed patience; the tenant's target.
    - Agents in the breaching interval (int_agent_intervals_measured): an
      agent who handled contacts in it belongs to the queue they handled most
      seconds of (ties: the first queue id). Step 0's agents are those of the
      episode's queue.
    - Each agent counts once, in the first step that can take them, and
      never when they handled contacts of the episode's queue:
      1 same_site_agents: rostered with the queue among their skills, at a
        site of the queue's agents (step 0), and logged in in
        the breaching interval without handling contacts, or scheduled in a
        meeting, coaching or training overlapping the next interval;
      3 outbound_agents: rostered with the skill, handled an outbound contact
        that local day and no inbound one in the breaching interval;
      5 cross_site_agents: rostered with the skill, at another site, logged
        in in the breaching interval without handling contacts;
      6 cross_skill_agents: agents of another queue, as many as that queue
        has above the agents its own target needs in the next interval
        (reforecast Erlang A where it has a patience, else Erlang C); none
        where that need is unknown.
    - 2 ivr_front_service: the tenant's IVR-contained share of its calls
      over the same weekday of the 4 weeks before (days whose format records
      the IVR) takes that share of the calls off the queue; agents: the
      handle time it saves, as agent-equivalents.
    - 4 pause_cross_selling: the pitch seconds of in-call offers made on the
      queue's answered inbound stints per such stint, over the 28 local days
      ending on the episode's day, come off the AHT; agents: the handle time
      saved, as agent-equivalents.
    - A step whose feed is missing brings 0 and says so in note.
    Lives beside the marts it reads (path models/marts: the build's marts
    layer, after them) in the private schema intermediate: never published.
#}
with

episodes as (

    select * from {{ ref('int_service_episodes') }}

),

staffed as (

    select * from {{ ref('int_queue_intervals_staffed') }}

),

agent_intervals as (

    select * from {{ ref('int_agent_intervals_measured') }}

),

roster as (

    select * from {{ ref('stg_hr__roster') }}

),

shifts as (

    select * from {{ ref('stg_hr__shifts') }}

),

handled_stints as (

    select * from {{ ref('int_handled_stints_dated') }}

),

offers as (

    select * from {{ ref('stg_marketing__offers') }}

),

daily_kpis as (

    select * from {{ ref('rpt_daily_kpis') }}

),

feed_days as (

    select * from {{ ref('int_staffing_feed_days_flagged') }}

),

steps as (

    {# step 0: the queue as it is (no action) #}
    select
        range as step,
        [
            'same_site_agents',
            'ivr_front_service',
            'outbound_agents',
            'pause_cross_selling',
            'cross_site_agents',
            'cross_skill_agents'
        ][range] as action  -- noqa: RF04
    from range(0, 7)

),

-- the interval after the first breaching one, and what it is computed from
ladder_intervals as (

    select
        episodes.tenant_id,
        episodes.queue_id,
        episodes.interval_start_at,
        episodes.interval_start_local,
        episodes.episode_date,
        breaching.interval_seconds,
        next_interval.interval_start_at as next_interval_start_at,
        {# at least what the breaching interval has had so far: a surge in an
           interval still filling is in no complete interval the reforecast
           reads yet #}
        greatest(
            coalesce(next_interval.reforecast_calls, next_interval.staffing_calls),
            breaching.staffing_calls
        ) as calls,
        coalesce(
            next_interval.reforecast_aht_seconds, next_interval.staffing_aht_seconds
        ) as aht_seconds,
        next_interval.staffing_patience_seconds as patience_seconds,
        next_interval.service_level_target,
        next_interval.service_level_seconds
    from episodes
    inner join staffed as breaching
        on
            episodes.tenant_id = breaching.tenant_id
            and episodes.queue_id = breaching.queue_id
            and episodes.interval_start_at = breaching.interval_start_at
    left join staffed as next_interval
        on
            episodes.tenant_id = next_interval.tenant_id
            and episodes.queue_id = next_interval.queue_id
            and next_interval.interval_start_at
            = episodes.interval_start_at + to_seconds(breaching.interval_seconds)

),

breaching_intervals as (

    select distinct
        tenant_id,
        interval_start_at
    from episodes

),

-- every agent of the tenant in a breaching interval: logged in, and where
-- they handled contacts, the queue they handled most of (ties: first id)
agents_in_breaching as (

    select
        tenant_id,
        agent_id,
        interval_start_at,
        bool_or(logged_in_seconds > 0) as is_logged_in,
        bool_or(handle_seconds > 0) as is_handling,
        min(queue_id) filter (where queue_rank = 1 and handle_seconds > 0)
            as home_queue_id
    from (
        select
            agent_intervals.*,
            row_number() over (
                partition by
                    agent_intervals.tenant_id,
                    agent_intervals.agent_id,
                    agent_intervals.interval_start_at
                order by agent_intervals.handle_seconds desc, agent_intervals.queue_id asc
            ) as queue_rank
        from agent_intervals
        inner join breaching_intervals
            on
                agent_intervals.tenant_id = breaching_intervals.tenant_id
                and agent_intervals.interval_start_at = breaching_intervals.interval_start_at
    ) as ranked
    group by 1, 2, 3

),

queue_agents as (

    select
        tenant_id,
        home_queue_id as queue_id,
        interval_start_at,
        count(*) as agent_count
    from agents_in_breaching
    where is_handling
    group by 1, 2, 3

),

-- the queue's sites: those of its agents in the breaching interval
queue_sites as (

    select distinct
        ladder_intervals.tenant_id,
        ladder_intervals.queue_id,
        ladder_intervals.interval_start_at,
        roster.site
    from ladder_intervals
    inner join agents_in_breaching
        on
            ladder_intervals.tenant_id = agents_in_breaching.tenant_id
            and ladder_intervals.queue_id = agents_in_breaching.home_queue_id
            and ladder_intervals.interval_start_at = agents_in_breaching.interval_start_at
    inner join roster
        on
            agents_in_breaching.tenant_id = roster.tenant_id
            and agents_in_breaching.agent_id = roster.agent_id
    where roster.site is not null

),

queue_site_counts as (

    select
        tenant_id,
        queue_id,
        interval_start_at,
        count(*) as site_count
    from queue_sites
    group by 1, 2, 3

),

-- rostered agents who can take the episode's queue that day
skilled as (

    select
        ladder_intervals.tenant_id,
        ladder_intervals.queue_id,
        ladder_intervals.interval_start_at,
        ladder_intervals.next_interval_start_at,
        ladder_intervals.episode_date,
        roster.agent_id,
        roster.site,
        queue_sites.site is not null as is_same_site
    from ladder_intervals
    inner join roster
        on
            ladder_intervals.tenant_id = roster.tenant_id
            and list_contains(roster.skills, ladder_intervals.queue_id)
            and coalesce(ladder_intervals.episode_date >= roster.hire_date, true)
            and coalesce(ladder_intervals.episode_date <= roster.termination_date, true)
    left join queue_sites
        on
            ladder_intervals.tenant_id = queue_sites.tenant_id
            and ladder_intervals.queue_id = queue_sites.queue_id
            and ladder_intervals.interval_start_at = queue_sites.interval_start_at
            and roster.site = queue_sites.site

),

moveable_activities as (

    select distinct
        skilled.tenant_id,
        skilled.queue_id,
        skilled.interval_start_at,
        skilled.agent_id
    from skilled
    inner join ladder_intervals
        on
            skilled.tenant_id = ladder_intervals.tenant_id
            and skilled.queue_id = ladder_intervals.queue_id
            and skilled.interval_start_at = ladder_intervals.interval_start_at
    inner join shifts
        on
            skilled.tenant_id = shifts.tenant_id
            and skilled.agent_id = shifts.agent_id
            and shifts.activity in ('meeting', 'coaching', 'training')
            and ladder_intervals.next_interval_start_at
            + to_seconds(ladder_intervals.interval_seconds)
            > shifts.starts_at
            and ladder_intervals.next_interval_start_at < shifts.ends_at

),

episode_days as (

    select distinct
        tenant_id,
        episode_date
    from episodes

),

outbound_days as (

    select distinct
        handled_stints.tenant_id,
        handled_stints.agent_id,
        handled_stints.contact_date
    from handled_stints
    semi join episode_days
        on
            handled_stints.tenant_id = episode_days.tenant_id
            and handled_stints.contact_date = episode_days.episode_date
    where handled_stints.direction = 'outbound' and handled_stints.agent_id is not null

),

-- steps 1, 3 and 5: the agents each step could take
candidates as (

    select
        skilled.tenant_id,
        skilled.queue_id,
        skilled.interval_start_at,
        skilled.agent_id,
        case
            when
                skilled.is_same_site
                and (
                    coalesce(breaching.is_logged_in, false)
                    or moveable_activities.agent_id is not null
                )
                then 1
            when outbound_days.agent_id is not null then 3
            when
                skilled.site is not null
                and not skilled.is_same_site
                and coalesce(breaching.is_logged_in, false)
                then 5
        end as step
    from skilled
    left join agents_in_breaching as breaching
        on
            skilled.tenant_id = breaching.tenant_id
            and skilled.agent_id = breaching.agent_id
            and skilled.interval_start_at = breaching.interval_start_at
    left join moveable_activities
        on
            skilled.tenant_id = moveable_activities.tenant_id
            and skilled.queue_id = moveable_activities.queue_id
            and skilled.interval_start_at = moveable_activities.interval_start_at
            and skilled.agent_id = moveable_activities.agent_id
    left join outbound_days
        on
            skilled.tenant_id = outbound_days.tenant_id
            and skilled.agent_id = outbound_days.agent_id
            and skilled.episode_date = outbound_days.contact_date
    where not coalesce(breaching.is_handling, false)

),

candidate_counts as (

    select
        tenant_id,
        queue_id,
        interval_start_at,
        step,
        count(*) as agent_count
    from candidates
    where step is not null
    group by 1, 2, 3, 4

),

-- step 6: what each other queue can give up in the next interval
other_queue_spare as (

    select
        ladder_intervals.tenant_id,
        ladder_intervals.queue_id,
        ladder_intervals.interval_start_at,
        sum(
            greatest(
                queue_agents.agent_count
                - case
                    when other_next.staffing_patience_seconds > 0
                        then coalesce(
                            other_next.reforecast_erlang_a_agents,
                            other_next.erlang_a_agents
                        )
                    else coalesce(
                        other_next.reforecast_erlang_c_agents,
                        other_next.erlang_c_agents
                    )
                end,
                0
            )
        ) as agent_count
    from ladder_intervals
    inner join queue_agents
        on
            ladder_intervals.tenant_id = queue_agents.tenant_id
            and ladder_intervals.interval_start_at = queue_agents.interval_start_at
            and ladder_intervals.queue_id <> queue_agents.queue_id
    inner join staffed as other_next
        on
            queue_agents.tenant_id = other_next.tenant_id
            and queue_agents.queue_id = other_next.queue_id
            and ladder_intervals.next_interval_start_at = other_next.interval_start_at
    group by 1, 2, 3

),

-- step 2: the tenant's IVR-contained share over the same weekday of the
-- 4 weeks before
ivr_shares as (

    select
        ladder_intervals.tenant_id,
        ladder_intervals.queue_id,
        ladder_intervals.interval_start_at,
        count(daily_kpis.ivr_contained_count) as ivr_day_count,
        {{ safe_divide(
            'sum(daily_kpis.ivr_contained_count)',
            'sum(daily_kpis.ivr_contained_count + daily_kpis.offered_count)'
        ) }} as contained_rate
    from ladder_intervals
    left join daily_kpis
        on
            ladder_intervals.tenant_id = daily_kpis.tenant_id
            and daily_kpis.kpi_date in (
                ladder_intervals.episode_date - 7,
                ladder_intervals.episode_date - 14,
                ladder_intervals.episode_date - 21,
                ladder_intervals.episode_date - 28
            )
    group by 1, 2, 3

),

-- step 4: pitch seconds per answered inbound stint of the queue, 28 days;
-- per day first (only the episodes' queues), then the days of each episode
episode_queues as (

    select distinct
        tenant_id,
        queue_id
    from episodes

),

tenant_offers as (

    select distinct tenant_id from offers

),

-- (only tenants that deliver offers: the others' step says so, unread)
queue_stint_days as (

    select
        handled_stints.tenant_id,
        handled_stints.queue_id,
        handled_stints.contact_date,
        count(*) as stint_count,
        count(offers.offer_id) as pitch_count,
        count(offers.offer_id) filter (where offers.pitch_seconds is null)
            as unknown_pitch_count,
        coalesce(sum(offers.pitch_seconds), 0) as pitch_seconds
    from handled_stints
    inner join episode_queues
        on
            handled_stints.tenant_id = episode_queues.tenant_id
            and handled_stints.queue_id = episode_queues.queue_id
    semi join tenant_offers
        on handled_stints.tenant_id = tenant_offers.tenant_id
    left join offers
        on
            handled_stints.tenant_id = offers.tenant_id
            and handled_stints.contact_id = offers.contact_id
            and offers.is_pitched
    where handled_stints.direction = 'inbound'
    group by 1, 2, 3

),

queue_pitches as (

    select
        ladder_intervals.tenant_id,
        ladder_intervals.queue_id,
        ladder_intervals.interval_start_at,
        sum(queue_stint_days.stint_count) as stint_count,
        sum(queue_stint_days.pitch_count) as pitch_count,
        sum(queue_stint_days.unknown_pitch_count) as unknown_pitch_count,
        sum(queue_stint_days.pitch_seconds) as pitch_seconds
    from ladder_intervals
    inner join queue_stint_days
        on
            ladder_intervals.tenant_id = queue_stint_days.tenant_id
            and ladder_intervals.queue_id = queue_stint_days.queue_id
            and queue_stint_days.contact_date
            between ladder_intervals.episode_date - 27 and ladder_intervals.episode_date
    group by 1, 2, 3

),

tenant_feeds as (

    select
        tenant_id,
        bool_or(has_agent_states) as has_agent_states,
        bool_or(has_shifts) as has_shifts
    from feed_days
    group by 1

),

tenant_rosters as (

    select
        tenant_id,
        count(distinct site) as site_count
    from roster
    group by 1

),

tenant_ivr as (

    select
        tenant_id,
        count(ivr_contained_count) > 0 as is_ivr_recorded
    from daily_kpis
    group by 1

),

tenant_outbound as (

    select distinct
        tenant_id,
        contact_date
    from outbound_days

),

-- what each step brings, in its own unit
brought as (

    select
        ladder_intervals.*,
        steps.step,
        steps.action,
        coalesce(queue_agents.agent_count, 0) as queue_agent_count,
        case
            when steps.step = 2 and ivr_shares.ivr_day_count > 0
                then coalesce(ivr_shares.contained_rate, 0)
            else 0
        end as contained_rate,
        case
            when
                steps.step = 4
                and queue_pitches.unknown_pitch_count = 0
                and queue_pitches.stint_count > 0
                then queue_pitches.pitch_seconds / queue_pitches.stint_count
            else 0
        end as pitch_seconds_per_stint,
        case
            when steps.step in (1, 3, 5) then coalesce(candidate_counts.agent_count, 0)
            when steps.step = 6 then coalesce(other_queue_spare.agent_count, 0)
            else 0
        end as added_agents,
        case steps.step
            when 1
                then case
                    when tenant_rosters.tenant_id is null
                        then 'no roster delivered'
                    when queue_site_counts.site_count is null
                        then 'no roster site known for the agents on the queue'
                    when
                        not coalesce(tenant_feeds.has_agent_states, false)
                        and not coalesce(tenant_feeds.has_shifts, false)
                        then 'no agent states or schedules delivered'
                    when not coalesce(tenant_feeds.has_agent_states, false)
                        then
                            'no agent states delivered: '
                            || 'agents in a meeting, coaching or training only'
                    when not coalesce(tenant_feeds.has_shifts, false)
                        then 'no schedules delivered: agents logged in and not handling only'
                end
            when 2
                then case
                    when not coalesce(tenant_ivr.is_ivr_recorded, false)
                        then
                            'the telephony format records no IVR '
                            || '(an Asterisk queue_log shows queued calls only)'
                    when ivr_shares.ivr_day_count = 0
                        then 'no same weekday with the IVR recorded in the 4 weeks before'
                end
            when 3
                then case
                    when tenant_rosters.tenant_id is null
                        then 'no roster delivered'
                    when tenant_outbound.tenant_id is null
                        then 'no outbound contacts that day'
                end
            when 4
                then case
                    when tenant_offers.tenant_id is null
                        then 'no in-call offers delivered'
                    when queue_pitches.unknown_pitch_count > 0
                        then 'pitch seconds not delivered for some offers on the queue'
                    when coalesce(queue_pitches.pitch_count, 0) = 0
                        then 'no offers pitched on the queue in the 28 days'
                end
            when 5
                then case
                    when tenant_rosters.tenant_id is null
                        then 'no roster delivered'
                    when not coalesce(tenant_feeds.has_agent_states, false)
                        then 'no agent states delivered'
                    when tenant_rosters.site_count <= 1
                        then 'the roster names one site'
                end
            when 6
                then case
                    when ladder_intervals.calls is null
                        then 'no calls known for the next interval'
                end
        end as note
    from ladder_intervals
    cross join steps
    left join queue_agents
        on
            ladder_intervals.tenant_id = queue_agents.tenant_id
            and ladder_intervals.queue_id = queue_agents.queue_id
            and ladder_intervals.interval_start_at = queue_agents.interval_start_at
    left join candidate_counts
        on
            ladder_intervals.tenant_id = candidate_counts.tenant_id
            and ladder_intervals.queue_id = candidate_counts.queue_id
            and ladder_intervals.interval_start_at = candidate_counts.interval_start_at
            and steps.step = candidate_counts.step
    left join other_queue_spare
        on
            ladder_intervals.tenant_id = other_queue_spare.tenant_id
            and ladder_intervals.queue_id = other_queue_spare.queue_id
            and ladder_intervals.interval_start_at = other_queue_spare.interval_start_at
    left join ivr_shares
        on
            ladder_intervals.tenant_id = ivr_shares.tenant_id
            and ladder_intervals.queue_id = ivr_shares.queue_id
            and ladder_intervals.interval_start_at = ivr_shares.interval_start_at
    left join queue_pitches
        on
            ladder_intervals.tenant_id = queue_pitches.tenant_id
            and ladder_intervals.queue_id = queue_pitches.queue_id
            and ladder_intervals.interval_start_at = queue_pitches.interval_start_at
    left join queue_site_counts
        on
            ladder_intervals.tenant_id = queue_site_counts.tenant_id
            and ladder_intervals.queue_id = queue_site_counts.queue_id
            and ladder_intervals.interval_start_at = queue_site_counts.interval_start_at
    left join tenant_feeds
        on ladder_intervals.tenant_id = tenant_feeds.tenant_id
    left join tenant_rosters
        on ladder_intervals.tenant_id = tenant_rosters.tenant_id
    left join tenant_ivr
        on ladder_intervals.tenant_id = tenant_ivr.tenant_id
    left join tenant_offers
        on ladder_intervals.tenant_id = tenant_offers.tenant_id
    left join tenant_outbound
        on
            ladder_intervals.tenant_id = tenant_outbound.tenant_id
            and ladder_intervals.episode_date = tenant_outbound.contact_date

),

-- the Erlang inputs after each step and the steps before (step 0: as it is)
cumulated as (

    select
        *,
        queue_agent_count + sum(added_agents) over ladder as ladder_agents,
        calls * (1 - max(contained_rate) over ladder) as ladder_calls,
        greatest(aht_seconds - max(pitch_seconds_per_stint) over ladder, 0)
            as ladder_aht_seconds
    from brought
    window ladder as (
        partition by tenant_id, queue_id, interval_start_at
        order by step
        rows between unbounded preceding and current row
    )

),

final as (

    select
        -- ids
        tenant_id,
        queue_id,

        -- strings
        action,
        case
            when step in (2, 4) and (calls is null or aht_seconds is null)
                then
                    coalesce(note || '; ', '')
                    || 'no calls or AHT known for the next interval'
            else note
        end as note,

        -- numerics
        step,
        case
            when step in (1, 3, 5, 6) then cast(added_agents as double)
            {# handle time saved; unknown (no calls or AHT) counts 0, with the note #}
            when step = 2
                then coalesce(calls * contained_rate * aht_seconds / interval_seconds, 0)
            when step = 4
                then coalesce(
                    calls * (1 - max(contained_rate) over ladder_before)
                    * pitch_seconds_per_stint / interval_seconds,
                    0
                )
            else cast(queue_agent_count as double)
        end as agents,
        cast(ladder_agents as double) as ladder_agents,
        cast(ladder_calls as double) as ladder_calls,
        cast(ladder_aht_seconds as double) as ladder_aht_seconds,
        cast(calls as double) as calls,
        cast(aht_seconds as double) as aht_seconds,
        interval_seconds,
        patience_seconds,
        service_level_target,
        service_level_seconds,

        -- dates
        episode_date,

        -- timestamps
        interval_start_local,
        interval_start_at,
        next_interval_start_at

    from cumulated
    window ladder_before as (
        partition by tenant_id, queue_id, interval_start_at
        order by step
        rows between unbounded preceding and 1 preceding
    )

)

select * from final
