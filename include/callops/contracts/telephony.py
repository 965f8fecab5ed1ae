"""The canonical telephony models every telephony adapter loads into.

- ``raw.telephony_contacts``: one row per contact per queue stint (tenant,
  contact id, queue, caller, entered / answered / ended in UTC, wait, talk,
  hold, after-call work, outcome, agent). A figure a format cannot express is
  null, never a guess. Asterisk queue_log is the exception: its calls can span
  files, so its events land in ``raw.queue_log_events`` and dbt assembles the
  stints (``base_asterisk__queue_log_stints``) into the same shape.
- ``raw.agent_state_events``: one row per agent state change (logged in,
  ready, paused with a reason, logged out), per queue or for all queues.
- ``raw.queue_log_events``: one row per Asterisk queue_log line (callops.load.queue_log).

And the telephony CSVs callops documents for ACDs with no native format: the contact CSV
(:data:`CONTACT_CSV`) and the agent-state CSV (:data:`AGENT_STATE_CSV`).
"""

from __future__ import annotations

from callops.contracts.csv import MAX_DURATION_SECONDS, Column, Contract

OUTCOMES = (
    "answered",
    "abandoned",
    "timeout",
    "exit_key",
    "exit_empty",
    "withdrawn",
    "overflow",
    "ivr_contained",
)
DIRECTIONS = ("inbound", "outbound")
AGENT_STATES = ("logged_in", "ready", "paused", "logged_out")

RAW_TABLES = ("raw.telephony_contacts",)

RAW_DDL = """
create table if not exists raw.telephony_contacts (
    file_id varchar not null,
    tenant_id varchar not null,
    delivery_date date not null,
    source_line bigint,
    source_format varchar,
    contact_id varchar not null,
    queue_id varchar,
    direction varchar not null,
    outcome varchar not null,
    segment varchar,                      -- customer segment where the source tells it (e.g. vip)
    is_transferred boolean,               -- the answered stint ended in a transfer; null when the format cannot tell
    agent_id varchar,
    caller_number varchar,                -- personal data: private warehouse only
    caller_id_hash varchar,               -- HMAC pseudonym of the normalised number; null when withheld
    wait_seconds double,
    talk_seconds double,
    hold_seconds double,
    after_call_work_seconds double,
    entered_at timestamp not null,        -- UTC
    answered_at timestamp,                -- UTC
    ended_at timestamp,                   -- UTC
    source_updated_at timestamp,          -- the source's own record version (Amazon Connect LastUpdateTimestamp)
    extra json,                           -- columns the format does not define, as delivered
    loaded_at timestamp not null          -- UTC
);
alter table raw.telephony_contacts add column if not exists source_format varchar;
alter table raw.telephony_contacts add column if not exists source_updated_at timestamp;
alter table raw.telephony_contacts add column if not exists extra json;
alter table raw.telephony_contacts add column if not exists segment varchar;
alter table raw.telephony_contacts add column if not exists is_transferred boolean;
"""

AGENT_STATE_TABLES = ("raw.agent_state_events",)

AGENT_STATE_DDL = """
create table if not exists raw.agent_state_events (
    file_id varchar not null,
    tenant_id varchar not null,
    delivery_date date not null,
    source_line bigint,
    source_format varchar,
    agent_id varchar not null,
    queue_id varchar,                     -- null: the change applies to all the agent's queues
    state varchar not null,               -- logged_in | ready | paused | logged_out
    reason varchar,                       -- pause reason (Lunch, Training, ...)
    event_at timestamp not null,          -- UTC
    loaded_at timestamp not null          -- UTC
);
"""

QUEUE_LOG_EVENTS_TABLE = "raw.queue_log_events"

QUEUE_LOG_DDL = """
create table if not exists raw.queue_log_events (
    file_id varchar not null,
    tenant_id varchar not null,
    delivery_date date not null,
    source_line bigint,
    source_layout varchar,                -- file (pipe-separated lines) | realtime_csv (DB table export)
    callid varchar,                       -- caller channel uniqueid; null for NONE
    queue_id varchar,                     -- queuename; null for NONE (system lines, PAUSEALL, DID)
    agent varchar,                        -- member interface or member name; null for NONE
    event varchar not null,               -- the verb, upper case (ENTERQUEUE, CONNECT, ..., custom verbs)
    data1 varchar,
    data2 varchar,                        -- ENTERQUEUE: the caller number (personal data: private raw layer only)
    data3 varchar,
    data4 varchar,                        -- ENTERQUEUE: the caller name when log_caller_id_name=yes (personal)
    data5 varchar,                        -- the fifth data field and any further ones, joined by |
    data varchar,                         -- every data field as delivered, joined by |
    caller_id_hash varchar,               -- ENTERQUEUE: HMAC pseudonym of the normalised caller number
    wait_seconds double,                  -- queue wait: holdtime (CONNECT, COMPLETE*, *TRANSFER) or waittime (exits)
    talk_seconds double,                  -- calltime of COMPLETECALLER/COMPLETEAGENT/*TRANSFER
    ring_seconds double,                  -- RINGNOANSWER/RINGCANCELED ringtime (logged in ms), CONNECT ringtime
    event_at timestamp not null,          -- UTC
    loaded_at timestamp not null          -- UTC
);
"""

# A stint's wait when the file has none: entry until answered (else ended), in seconds.
DERIVED_WAIT_SQL = "date_diff('millisecond', entered_at, coalesce(answered_at, ended_at)) / 1000.0"

CONTACT_CSV = Contract(
    format="callops_contact_csv",
    feed="telephony",
    table="telephony_contacts",
    description="callops contact CSV",
    columns=(
        Column("contact_id", required=True, not_null=True, description="Contact id in the source system."),
        Column("queue_id", required=True, description="Queue (skill group); empty only for IVR-contained contacts."),
        Column("entered_at", "timestamp", required=True, not_null=True, description="Queue (or IVR) entry."),
        Column("outcome", "enum", required=True, not_null=True, values=OUTCOMES, description="How the stint ended."),
        Column("direction", "enum", values=DIRECTIONS, default="inbound"),
        Column("answered_at", "timestamp"),
        Column("ended_at", "timestamp"),
        Column("wait_seconds", "seconds", minimum=0),
        Column("talk_seconds", "seconds", minimum=0),
        Column("hold_seconds", "seconds", minimum=0),
        Column("after_call_work_seconds", "seconds", minimum=0),
        Column("agent_id"),
        Column("caller_number", "phone"),
        Column("segment", description="Customer segment, e.g. vip."),
        Column("is_transferred", "boolean", description="The answered stint ended in a transfer."),
    ),
    rules=(
        (
            "queue_id is null and outcome <> 'ivr_contained' and direction = 'inbound'",
            "'queue_id is empty (only ivr_contained contacts have no queue)'",
        ),
        ("answered_at < entered_at", "'answered_at is before entered_at'"),
        ("ended_at < entered_at", "'ended_at is before entered_at'"),
        (
            "outcome = 'answered' and answered_at is null and wait_seconds is null",
            "'an answered contact needs answered_at or wait_seconds'",
        ),
        (
            f"wait_seconds is null and {DERIVED_WAIT_SQL} > {MAX_DURATION_SECONDS}",
            "'the wait from entered_at to ' || case when answered_at is null then 'ended_at' else 'answered_at' end"
            " || ' is above 24 hours'",
        ),
    ),
)

AGENT_STATE_CSV = Contract(
    format="callops_agent_state_csv",
    feed="telephony",
    table="agent_state_events",
    description="callops agent-state CSV",
    columns=(
        Column("agent_id", required=True, not_null=True, description="Agent login in the ACD."),
        Column("state", "enum", required=True, not_null=True, values=AGENT_STATES),
        Column("event_at", "timestamp", required=True, not_null=True, description="When the state began."),
        Column("queue_id", description="Queue the change applies to; empty for all the agent's queues."),
        Column("reason", description="Pause reason (Lunch, Training, Meeting, ...)."),
    ),
)
