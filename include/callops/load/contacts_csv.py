"""The callops contact CSV: one row per contact per queue stint (README "The contact CSV").

For any ACD export that is none of the native formats callops reads. Loaded by
the CSV contract engine (:mod:`callops.load.csv_contract`) into the canonical
contact model, ``raw.telephony_contacts``.
"""

from __future__ import annotations

from callops import pseudonym
from callops.load import telephony
from callops.load.base import MAX_DURATION_SECONDS, FileLoad, LoadContext
from callops.load.csv_contract import Column, Contract, finish, validate

OUTCOMES = telephony.OUTCOMES
DIRECTIONS = telephony.DIRECTIONS

# A stint's wait when the file has none: entry until answered (else ended), in seconds.
DERIVED_WAIT_SQL = "date_diff('millisecond', entered_at, coalesce(answered_at, ended_at)) / 1000.0"

CONTRACT = Contract(
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

FORMAT = CONTRACT.format
DESCRIPTION = CONTRACT.DESCRIPTION
REQUIRED_COLUMNS = CONTRACT.required_columns
COLUMNS = CONTRACT.names
RAW_TABLES = telephony.RAW_TABLES
RAW_DDL = telephony.RAW_DDL
detect = CONTRACT.detect
near_miss = CONTRACT.near_miss
line_rule = CONTRACT.line_rule


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
