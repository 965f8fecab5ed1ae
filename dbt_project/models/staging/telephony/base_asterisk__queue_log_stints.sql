{{ config(
    materialized='incremental',
    incremental_strategy='window_overwrite',
    meta={'window_column': 'entered_at'},
) }}
{#
    Base model (a staging input that needs assembly before the union in
    stg_telephony__contacts). One row per tenant per Asterisk queue_log stint that has ended: a caller's
    visit to one queue (callid x queue; a caller who re-enters the same queue
    starts a new visit at each ENTERQUEUE), assembled from the de-duplicated
    events of every delivered file, in exactly the canonical contact columns
    (raw.telephony_contacts) so stg_telephony__contacts can union it.

    Outcome rules (DECISIONLOG.md, 2026-11-25):
    - CONNECT (or a COMPLETE*/transfer without its CONNECT) -> answered:
      answered_at = CONNECT time, wait = CONNECT holdtime, agent = CONNECT's
      agent; talk = calltime and ended_at = time of the COMPLETECALLER /
      COMPLETEAGENT / BLINDTRANSFER / ATTENDEDTRANSFER / TRANSFER that ends
      it; is_transferred for the transfer verbs. CONNECT without an end: talk,
      ended_at and is_transferred null.
    - ABANDON -> abandoned, EXITWITHTIMEOUT -> timeout, EXITWITHKEY ->
      exit_key, EXITEMPTY -> exit_empty, WITHDRAW -> withdrawn, with
      wait = the logged waittime.
    - AGENTDUMP (the member hung up during the announcement) ends the stint
      only when nothing follows it (the caller otherwise keeps waiting): then
      abandoned, as app_queue itself counts it (record_abandoned).
      SYSCOMPAT (the call was dropped, channels incompatible) -> exit_empty:
      the queue could not serve the caller. Both carry no waittime: wait =
      their time - ENTERQUEUE time.
    - No terminal event (ENTERQUEUE and rings only): still in the queue or
      the log is truncated. Left out; it appears once a later file brings
      its end.
    - A missing ENTERQUEUE: entered_at = answer (or exit) time - wait.
    The queue_log cannot express hold or after-call work: both null.

    Incremental (macros/build_window.sql): a run rebuilds the stints that
    entered on the UTC days its deliveries touched, from the events of those
    days and one day either side (a call's events span at most a midnight).
#}
with

queue_log_events as not materialized (

    select * from {{ ref('stg_asterisk__queue_log_events') }}
    where {{ in_build_window('event_at', before=1, after=1) }}

),

call_events as not materialized (

    select
        tenant_id,
        callid,
        queue_id,
        agent_id,
        event,
        event_at,
        caller_id_hash,
        wait_seconds,
        talk_seconds,
        file_id,
        delivery_date,
        source_line,
        loaded_at
    from queue_log_events
    where
        callid is not null
        and queue_id is not null
        and event in (
            'ENTERQUEUE', 'RINGNOANSWER', 'RINGCANCELED', 'CONNECT',
            'COMPLETECALLER', 'COMPLETEAGENT', 'BLINDTRANSFER',
            'ATTENDEDTRANSFER', 'TRANSFER', 'ABANDON', 'EXITWITHTIMEOUT',
            'EXITWITHKEY', 'EXITEMPTY', 'WITHDRAW', 'AGENTDUMP', 'SYSCOMPAT'
        )

),

dialled_numbers as (

    {# FreePBX writes the dialled number as a custom DID line, queue NONE #}
    select
        tenant_id,
        callid,
        arg_min(data1, event_at) as dialled_number
    from queue_log_events
    where event = 'DID' and callid is not null
    group by 1, 2

),

{#
    A visit runs from one ENTERQUEUE to the next of the same callid x queue
    (events before the first ENTERQUEUE form visit 0). Almost every callid x
    queue is one visit: its events are grouped directly. Only the few that
    re-entered the queue, or have events before their ENTERQUEUE, are split
    into visits by a running count of ENTERQUEUEs (a window over their events
    alone: sorting every event of a backfill would cost more than the rest of
    the model).
#}
call_queues as (

    select
        tenant_id,
        callid,
        queue_id,
        count(*) filter (where event = 'ENTERQUEUE') as enqueue_count,
        min(event_at) filter (where event = 'ENTERQUEUE') as first_enqueued_at,
        min(event_at) as first_event_at
    from call_events
    group by 1, 2, 3

),

revisited_call_queues as (

    select
        tenant_id,
        callid,
        queue_id
    from call_queues
    where
        enqueue_count > 1
        or (enqueue_count = 1 and first_event_at < first_enqueued_at)

),

visit_events as (

    select
        call_events.*,
        cast(null as bigint) as visit_number
    from call_events
    anti join revisited_call_queues using (tenant_id, callid, queue_id)

    union all by name

    select
        call_events.*,
        sum(case when call_events.event = 'ENTERQUEUE' then 1 else 0 end) over (
            partition by tenant_id, callid, queue_id
            order by
                call_events.event_at,
                case when call_events.event = 'ENTERQUEUE' then 0 else 1 end
            rows between unbounded preceding and current row
        ) as visit_number
    from call_events
    semi join revisited_call_queues using (tenant_id, callid, queue_id)

),

flagged_events as (

    select
        *,
        event in (
            'COMPLETECALLER', 'COMPLETEAGENT', 'BLINDTRANSFER',
            'ATTENDEDTRANSFER', 'TRANSFER'
        ) as is_answered_end,
        event in (
            'ABANDON', 'EXITWITHTIMEOUT', 'EXITWITHKEY', 'EXITEMPTY',
            'WITHDRAW', 'SYSCOMPAT'
        ) as is_exit
    from visit_events

),

grouped_visits as (

    select
        tenant_id,
        callid,
        queue_id,
        visit_number,

        min(event_at) filter (where event = 'ENTERQUEUE') as enqueued_at,
        arg_min_null(caller_id_hash, event_at) filter (
            where event = 'ENTERQUEUE'
        ) as caller_id_hash,

        min(event_at) filter (where event = 'CONNECT') as connected_at,
        arg_min_null(agent_id, event_at) filter (
            where event = 'CONNECT'
        ) as connected_agent_id,
        arg_min_null(wait_seconds, event_at) filter (
            where event = 'CONNECT'
        ) as connected_wait_seconds,

        min(event_at) filter (where is_answered_end) as completed_at,
        arg_min_null(event, event_at) filter (
            where is_answered_end
        ) as completed_event,
        arg_min_null(agent_id, event_at) filter (
            where is_answered_end
        ) as completed_agent_id,
        arg_min_null(wait_seconds, event_at) filter (
            where is_answered_end
        ) as completed_wait_seconds,
        arg_min_null(talk_seconds, event_at) filter (
            where is_answered_end
        ) as talk_seconds,

        max(event_at) filter (where is_exit) as left_at,
        arg_max_null(event, event_at) filter (where is_exit) as left_event,
        arg_max_null(wait_seconds, event_at) filter (
            where is_exit
        ) as left_wait_seconds,
        max(event_at) filter (where event = 'AGENTDUMP') as dumped_at,
        max(event_at) as last_event_at,

        count(*) filter (where event = 'RINGNOANSWER') as ring_no_answer_count,

        arg_max_null(file_id, event_at) as file_id,
        arg_max_null(delivery_date, event_at) as delivery_date,
        arg_max_null(source_line, event_at) as source_line,
        max(loaded_at) as loaded_at
    from flagged_events
    group by 1, 2, 3, 4

),

visits as (

    {#
        AGENTDUMP (the member hung up during the announcement) ends the visit
        only when nothing follows it; it carries no waittime.
    #}
    select
        * exclude (
            visit_number, left_at, left_event, left_wait_seconds, dumped_at,
            last_event_at
        ),
        coalesce(
            visit_number, case when enqueued_at is null then 0 else 1 end
        ) as visit_number,
        case when is_dumped then dumped_at else left_at end as exited_at,
        case when is_dumped then 'AGENTDUMP' else left_event end as exit_event,
        case when not is_dumped then left_wait_seconds end
            as exit_wait_seconds
    from (
        select
            *,
            coalesce(
                dumped_at = last_event_at
                and (left_at is null or dumped_at > left_at),
                false
            ) as is_dumped
        from grouped_visits
    ) as dump_flagged_visits

),

outcomes as (

    select
        *,
        case
            when connected_at is not null or completed_at is not null
                then 'answered'
            when exit_event = 'ABANDON' then 'abandoned'
            when exit_event = 'EXITWITHTIMEOUT' then 'timeout'
            when exit_event = 'EXITWITHKEY' then 'exit_key'
            when exit_event = 'EXITEMPTY' then 'exit_empty'
            when exit_event = 'WITHDRAW' then 'withdrawn'
            when exit_event = 'AGENTDUMP' then 'abandoned'
            when exit_event = 'SYSCOMPAT' then 'exit_empty'
        end as outcome
    from visits

),

timed as (

    select
        *,
        case
            when outcome = 'answered'
                then coalesce(
                    connected_at,
                    completed_at - to_microseconds(
                        cast(round(talk_seconds * 1000000) as bigint)
                    )
                )
        end as answered_at,
        case
            when outcome = 'answered'
                then coalesce(connected_wait_seconds, completed_wait_seconds)
            else coalesce(
                exit_wait_seconds,
                date_diff('millisecond', enqueued_at, exited_at) / 1000.0
            )
        end as stint_wait_seconds
    from outcomes
    where outcome is not null

),

assembled as (

    select
        -- lineage: the file that delivered the stint's last event
        timed.file_id,
        timed.tenant_id,
        timed.delivery_date,
        timed.source_line,

        -- ids
        timed.callid as contact_id,
        timed.queue_id,
        case
            when timed.outcome = 'answered'
                then coalesce(
                    timed.connected_agent_id, timed.completed_agent_id
                )
        end as agent_id,
        timed.caller_id_hash,

        -- strings
        'asterisk_queue_log' as source_format,
        'inbound' as direction,
        timed.outcome,
        cast(null as varchar) as segment,
        cast(null as varchar) as caller_number,

        -- numerics (queue_log has no hold or after-call work)
        timed.stint_wait_seconds as wait_seconds,
        case
            when timed.outcome = 'answered' then timed.talk_seconds
        end as talk_seconds,
        cast(null as double) as hold_seconds,
        cast(null as double) as after_call_work_seconds,

        -- booleans
        case
            when timed.completed_event in (
                'BLINDTRANSFER', 'ATTENDEDTRANSFER', 'TRANSFER'
            ) then true
            when timed.completed_event is not null then false
            when timed.outcome <> 'answered' then false
        end as is_transferred,

        -- timestamps (UTC)
        coalesce(
            timed.enqueued_at,
            coalesce(timed.answered_at, timed.exited_at) - to_microseconds(
                cast(round(timed.stint_wait_seconds * 1000000) as bigint)
            ),
            timed.exited_at
        ) as entered_at,
        timed.answered_at,
        case
            when timed.outcome = 'answered' then timed.completed_at
            else timed.exited_at
        end as ended_at,
        cast(null as timestamp) as source_updated_at,
        timed.loaded_at,

        -- json
        json_object(
            'did', dialled_numbers.dialled_number,
            'terminal_event', coalesce(
                timed.completed_event,
                timed.exit_event,
                case when timed.connected_at is not null then 'CONNECT' end
            ),
            'ring_no_answer_count', timed.ring_no_answer_count,
            'is_entered_at_reconstructed', timed.enqueued_at is null,
            'visit_number', timed.visit_number
        ) as extra

    from timed
    left join dialled_numbers
        on
            timed.tenant_id = dialled_numbers.tenant_id
            and timed.callid = dialled_numbers.callid

)

select * from assembled
where {{ in_build_window('entered_at') }}
{{ window_order('entered_at') }}
