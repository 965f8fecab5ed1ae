"""The callops contact CSV: one row per contact per queue stint (docs/formats.md "The contact CSV").

For any ACD export that is none of the native formats callops reads. Loaded by
the CSV contract engine (:mod:`callops.load.csv_contract`) into the canonical
contact model, ``raw.telephony_contacts``.
"""

from __future__ import annotations

from callops import pseudonym
from callops.contracts import telephony
from callops.load.base import FileLoad, LoadContext
from callops.load.csv_contract import ContractAdapter, finish, validate

OUTCOMES = telephony.OUTCOMES
DIRECTIONS = telephony.DIRECTIONS

CONTRACT = telephony.CONTACT_CSV
ADAPTER = ContractAdapter(CONTRACT)
DERIVED_WAIT_SQL = telephony.DERIVED_WAIT_SQL

FORMAT = CONTRACT.format
DESCRIPTION = ADAPTER.DESCRIPTION
REQUIRED_COLUMNS = CONTRACT.required_columns
COLUMNS = CONTRACT.names
RAW_TABLES = telephony.RAW_TABLES
detect = ADAPTER.detect
near_miss = ADAPTER.near_miss
line_rule = ADAPTER.line_rule


def load(ctx: LoadContext) -> FileLoad:
    """Load one contact CSV into raw.telephony_contacts / raw.rejects (caller owns the transaction)."""
    result = validate(ctx, CONTRACT)
    ctx.con.execute(
        f"""
        insert into raw.telephony_contacts by name
        select
            $file_id as file_id, $tenant_id as tenant_id, $delivery_date::date as delivery_date,
            line as source_line, '{FORMAT}' as source_format,
            contact_id, queue_id, direction, outcome, lower(segment) as segment, is_transferred,
            agent_id, caller_number,
            {pseudonym.hmac_sql(pseudonym.phone_sql('caller_number'))} as caller_id_hash,
            -- a missing wait is derived from the stint's own timestamps
            coalesce(wait_seconds, {DERIVED_WAIT_SQL}) as wait_seconds,
            talk_seconds, hold_seconds, after_call_work_seconds,
            entered_at, answered_at, ended_at,
            cast(null as timestamp) as source_updated_at, extra, now()::timestamp as loaded_at
        from validated
        where reject_reason is null
        """,
        ctx.params("file_id", "tenant_id", "delivery_date", "hmac_ipad", "hmac_opad"),
    )
    return finish(ctx, result)
