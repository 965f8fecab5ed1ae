"""The canonical telephony models every telephony adapter loads into.

- ``raw.telephony_contacts``: one row per contact per queue stint (tenant,
  contact id, queue, caller, entered / answered / ended in UTC, wait, talk,
  hold, after-call work, outcome, agent). A figure a format cannot express is
  null, never a guess. Asterisk queue_log is the exception: its calls can span
  files, so its events land in ``raw.queue_log_events`` and dbt assembles the
  stints (``base_asterisk__queue_log_stints``) into the same shape.
- ``raw.agent_state_events``: one row per agent state change (logged in,
  ready, paused with a reason, logged out), per queue or for all queues.
"""

from __future__ import annotations

from callops import pseudonym

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

# `callops rekey`: a tenant's pseudonyms recomputed (with its pads) from the clear numbers kept beside
# them, as every telephony adapter computes them when it loads.
REPSEUDONYMISE_SQL = (
    "update raw.telephony_contacts "
    f"set caller_id_hash = {pseudonym.hmac_sql(pseudonym.phone_sql('caller_number'))} "
    "where tenant_id = $tenant_id"
)

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
