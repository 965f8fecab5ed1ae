"""The callops agent-state CSV: one row per agent state change, for ACDs whose state log is not native.

Loaded by the CSV contract engine into the canonical agent-state model,
``raw.agent_state_events`` (Asterisk queue_log carries these events itself).
"""

from __future__ import annotations

from callops.contracts import telephony
from callops.load.base import FileLoad, LoadContext
from callops.load.csv_contract import ContractAdapter, finish, validate

CONTRACT = telephony.AGENT_STATE_CSV
ADAPTER = ContractAdapter(CONTRACT)

FORMAT = CONTRACT.format
DESCRIPTION = ADAPTER.DESCRIPTION
RAW_TABLES = telephony.AGENT_STATE_TABLES
detect = ADAPTER.detect
near_miss = ADAPTER.near_miss
line_rule = ADAPTER.line_rule


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
