"""The callops agent-state CSV: one row per agent state change, for ACDs whose state log is not native.

Loaded by the CSV contract engine into the canonical agent-state model,
``raw.agent_state_events`` (Asterisk queue_log carries these events itself).
"""

from __future__ import annotations

from callops.load import telephony
from callops.load.base import FileLoad, LoadContext
from callops.load.csv_contract import Column, Contract, finish, validate

CONTRACT = Contract(
    format="callops_agent_state_csv",
    feed="telephony",
    table="agent_state_events",
    description="callops agent-state CSV",
    columns=(
        Column("agent_id", required=True, not_null=True, description="Agent login in the ACD."),
        Column("state", "enum", required=True, not_null=True, values=telephony.AGENT_STATES),
        Column("event_at", "timestamp", required=True, not_null=True, description="When the state began."),
        Column("queue_id", description="Queue the change applies to; empty for all the agent's queues."),
        Column("reason", description="Pause reason (Lunch, Training, Meeting, ...)."),
    ),
)

FORMAT = CONTRACT.format
DESCRIPTION = CONTRACT.DESCRIPTION
RAW_TABLES = telephony.AGENT_STATE_TABLES
RAW_DDL = telephony.AGENT_STATE_DDL
detect = CONTRACT.detect
near_miss = CONTRACT.near_miss
line_rule = CONTRACT.line_rule


def load(ctx: LoadContext) -> FileLoad:
    result = validate(ctx, CONTRACT)
    ctx.con.execute(
        f"""
        insert into raw.agent_state_events by name
        select $file_id as file_id, $tenant_id as tenant_id, $delivery_date::date as delivery_date,
            line as source_line, '{FORMAT}' as source_format,
            agent_id, queue_id, state, reason, event_at, now()::timestamp as loaded_at
        from validated
        where reject_reason is null
        """,
        ctx.params("file_id", "tenant_id", "delivery_date"),
    )
    return finish(ctx, result)
