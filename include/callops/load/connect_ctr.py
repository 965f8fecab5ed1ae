"""Amazon Connect contact trace records (CTR) as Kinesis Firehose delivers them, into ``raw.telephony_contacts``.

Firehose writes objects named like ``my-ctr-stream-1-2024-06-03-09-15-22-<uuid>``
(no extension, maybe gzipped: decompressed before this adapter sees it), with
one JSON record per line or records concatenated with nothing between them
(``}{``). docs/formats.md "Amazon Connect contact trace records" has the fields.

**Reading.** DuckDB's reader streams the file's lines and SQL splits them into
records: per line, and a line that is not one valid JSON value is split at ``}{``.
Each record is checked with ``json_valid`` and parsed with DuckDB's JSON
functions; nothing is parsed row by row in Python. ``read_json`` itself is not
used because its ``ignore_errors`` (newline-delimited only) drops a broken
record without its line or text, and its other formats stop at the first
broken record; callops quarantines each broken record with its position, raw
text and reason. The position (``raw.rejects.line``, ``source_line``) is the
line number, or, in a file whose records are concatenated, the record's
ordinal in the file (the reason then says "record N (line L)"). A ``}{``
inside a string of a concatenated record breaks that record into pieces, which
are quarantined.

**Mapping** (one row per contact leg; DECISIONLOG.md, "Amazon Connect CTR"):

- ``contact_id`` = ``InitialContactId``, else ``ContactId``: the legs of a
  transferred contact roll up into one contact; each leg is a stint (queue +
  entered_at). ``queue_id`` = ``Queue.Name``, else the last part of ``Queue.ARN``.
- ``entered_at`` = ``Queue.EnqueueTimestamp``; a leg that never queued enters
  at ``InitiationTimestamp`` and is ``ivr_contained`` unless an agent took it.
- Outcome: answered (``Agent.ConnectedToAgentTimestamp``); else never queued:
  ivr_contained; else left the queue by a transfer (``NextContactId`` or
  ``TransferCompletedTimestamp``): overflow; else ``DisconnectReason``
  ``CUSTOMER_DISCONNECT`` or absent: abandoned; else (the system ended it):
  timeout.
- ``wait_seconds`` = ``Queue.Duration`` (else connected or dequeued − enqueued);
  talk / hold / after-call work = ``Agent.AgentInteractionDuration`` /
  ``CustomerHoldDuration`` / ``AfterContactWorkDuration`` of an answered leg;
  ``ended_at`` = ``DisconnectTimestamp``, or ``Queue.DequeueTimestamp`` for a
  queued leg nobody answered.
- Direction: outbound for ``InitiationMethod`` OUTBOUND, EXTERNAL_OUTBOUND,
  API (StartOutboundVoiceContact) and CAMPAIGN; everything else (INBOUND,
  TRANSFER, QUEUE_TRANSFER, CALLBACK: a callback the customer asked for, ...)
  is inbound.
- Skipped (not loaded, counted in ``rows_skipped`` and named in the file's
  notes): non-voice contacts (CHAT, TASK, EMAIL: callops' telephony figures
  are voice figures) and supervisor ``MONITOR`` legs (not customer contacts).
- At-least-once delivery: within a file only the latest ``LastUpdateTimestamp``
  of each ``ContactId`` is loaded (the later record on a tie); the earlier
  versions are counted in ``rows_superseded``. Across files every file's
  latest version is loaded (and counted loaded) and staging keeps the latest
  (``source_updated_at``).
"""

from __future__ import annotations

import json
import re

from callops import pseudonym
from callops.contracts import telephony
from callops.load.base import (
    MAX_DURATION_SECONDS,
    FileLoad,
    Head,
    LineRule,
    LoadContext,
    duration_rule,
    first_failing_rule_sql,
    impossible_time_rules,
    mostly_parses,
    read_physical_lines,
    text_sql,
    timestamp_sql,
)
from callops.warehouse import sql_literal

FORMAT = "amazon_connect_ctr"
DESCRIPTION = (
    "Amazon Connect contact trace records: JSON objects with ContactId, InitiationMethod, Queue, Agent ... "
    "one per line or concatenated, as Kinesis Firehose writes them"
)
RAW_TABLES = telephony.RAW_TABLES

CONCATENATED_PATTERN = re.compile(r"(?<=\})\s*(?=\{)")  # between two records written with nothing between
OUTBOUND_METHODS = ("OUTBOUND", "EXTERNAL_OUTBOUND", "API", "CAMPAIGN")
ABANDON_REASONS = ("CUSTOMER_DISCONNECT",)

# name in SQL: JSON path of the record field (all read as text).
FIELDS = {
    "contact_leg_id": "ContactId",
    "initial_contact_id": "InitialContactId",
    "previous_contact_id": "PreviousContactId",
    "next_contact_id": "NextContactId",
    "channel": "Channel",
    "initiation_method": "InitiationMethod",
    "disconnect_reason": "DisconnectReason",
    "caller_number": "CustomerEndpoint.Address",
    "queue_name": "Queue.Name",
    "queue_arn": "Queue.ARN",
    "agent_username": "Agent.Username",
    "segment_attribute": "Attributes.segment",
    "customer_segment_attribute": "Attributes.customer_segment",
}
TIMESTAMPS = {
    "initiated_at": "InitiationTimestamp",
    "enqueued_at": "Queue.EnqueueTimestamp",
    "dequeued_at": "Queue.DequeueTimestamp",
    "connected_at": "Agent.ConnectedToAgentTimestamp",
    "disconnected_at": "DisconnectTimestamp",
    "transfer_completed_at": "TransferCompletedTimestamp",
    "last_updated_at": "LastUpdateTimestamp",
}
DURATIONS = {
    "queue_seconds": "Queue.Duration",
    "interaction_seconds": "Agent.AgentInteractionDuration",
    "customer_hold_seconds": "Agent.CustomerHoldDuration",
    "after_contact_work_seconds": "Agent.AfterContactWorkDuration",
}
# A leg's queue wait when Queue.Duration is missing: enqueued until connected (or dequeued), in seconds.
DERIVED_WAIT_SQL = "date_diff('millisecond', enqueued_at, coalesce(connected_at, dequeued_at)) / 1000.0"
SKIPPED = {
    "non_voice": "non-voice contact(s) (CHAT, TASK, EMAIL: callops models voice)",
    "monitor": "supervisor MONITOR leg(s)",
}


def _record_rule(record: str) -> str | None:
    try:
        document = json.loads(record)
    except ValueError as error:
        return f"not valid JSON ({str(error).split(':')[0]})"
    if not isinstance(document, dict):
        return f"not a JSON object but {type(document).__name__}"
    return None if "ContactId" in document else "a JSON object without ContactId"


def line_rule(head: Head) -> LineRule:
    """How a line parses as CTRs: one JSON object with a ContactId, or several concatenated (``}{``), at
    least half of them with one (the loader quarantines the others record by record); the head's last
    line may be cut inside its last record."""
    cut_line = len(head.lines) if head.last_line_cut else 0

    def rule(number: int, line: str) -> str | None:
        text = line.strip().lstrip("\ufeff")
        if not text.startswith("{"):
            return "not a JSON object"
        if (problem := _record_rule(text)) is None:
            return None
        records = CONCATENATED_PATTERN.split(text)
        if number == cut_line:  # its last record may stop short
            last = records.pop()
            if not records:
                return None if '"ContactId"' in last else problem
        elif len(records) < 2:
            return problem
        problems = [(i, p) for i, r in enumerate(records, 1) if (p := _record_rule(r))]
        if len(problems) * 2 <= len(records):
            return None
        return f"record {problems[0][0]}: {problems[0][1]}"

    return rule


def detect(head: Head) -> int:
    """1000 when at least half of the first lines parse as CTRs (``line_rule``); else 0."""
    return 1000 if mostly_parses(head, line_rule(head)) else 0


def _field_sql(path: str) -> str:
    """A record field as trimmed text (null when absent, JSON null or empty)."""
    return text_sql(f"doc->>{sql_literal('$.' + path)}")


def load(ctx: LoadContext) -> FileLoad:
    """Load one CTR file into raw.telephony_contacts / raw.rejects (the caller owns the transaction)."""
    con = ctx.con
    result = FileLoad()
    # Records: one per line, or several concatenated on a line ("}{"); numbered by line and by ordinal.
    read_physical_lines(ctx)  # streamed by DuckDB's reader, never the whole file as one value
    con.execute(
        """
        create or replace temp table ctr_records as
        with numbered as (
            select line, ltrim(text, chr(65279)) as text  -- byte-order mark
            from physical_lines
            where text is not null
        ),
        pieces as (
            select line,
                case
                    when json_valid(text) then [text]
                    else string_split(regexp_replace(text, '\\}\\s*\\{', '}' || chr(30) || '{', 'g'), chr(30))
                end as parts
            from numbered
            where trim(text) <> ''
        ),
        split as (
            select line, generate_subscripts(parts, 1) as part, trim(unnest(parts)) as record,
                len(parts) as parts_on_line
            from pieces
        )
        select line, record,
            row_number() over (order by line, part) as ordinal,
            max(parts_on_line) over () > 1 as is_concatenated
        from split
        """
    )

    fields = ",\n                ".join(f"{_field_sql(path)} as {name}" for name, path in FIELDS.items())
    raw_times = ",\n                ".join(
        f"{_field_sql(path)} as {name}_raw" for name, path in TIMESTAMPS.items()
    )
    raw_durations = ",\n                ".join(
        f"{_field_sql(path)} as {name}_raw" for name, path in DURATIONS.items()
    )
    times = ",\n                ".join(
        f"{timestamp_sql(f'{name}_raw', sql_literal('UTC'))} as {name}" for name in TIMESTAMPS
    )
    durations = ",\n                ".join(f"try_cast({name}_raw as double) as {name}" for name in DURATIONS)
    rules = [
        ("not is_valid", "'not valid JSON'"),
        ("json_type(doc) <> 'OBJECT'", "'not a JSON object but ' || lower(json_type(doc))"),
        ("contact_leg_id is null", "'ContactId is missing'"),
        # Non-voice contacts and MONITOR legs are skipped, not checked: they are not rejects.
        ("skip_reason is not null", "null"),
        *[
            (f"{name}_raw is not null and {name} is null", f"'{path} is not a timestamp: ' || {name}_raw")
            for name, path in TIMESTAMPS.items()
        ],
        *[
            (
                f"{name}_raw is not null and ({name} is null or not isfinite({name}) or {name} < 0)",
                f"'{path} is not a number of seconds >= 0: ' || {name}_raw",
            )
            for name, path in DURATIONS.items()
        ],
        *[
            rule
            for name, path in TIMESTAMPS.items()
            for rule in impossible_time_rules(name, f"{name}_raw", ctx.run_date, path)
        ],
        *[duration_rule(name, f"{name}_raw", path) for name, path in DURATIONS.items()],
        ("entered_at is null", "'neither Queue.EnqueueTimestamp nor InitiationTimestamp is set'"),
        (
            f"enqueued_at is not null and queue_seconds is null and {DERIVED_WAIT_SQL} > {MAX_DURATION_SECONDS}",
            "'the queue wait from Queue.EnqueueTimestamp is above 24 hours'",
        ),
        ("connected_at < entered_at", "'Agent.ConnectedToAgentTimestamp is before the queue entry'"),
        ("ended_at < entered_at", "'the contact ends before its queue entry'"),
    ]
    outbound = ", ".join(map(sql_literal, OUTBOUND_METHODS))
    abandon_reasons = ", ".join(map(sql_literal, ABANDON_REASONS))
    con.execute(
        f"""
        create or replace temp table ctr_validated as
        with documents as (
            select *,
                case when is_concatenated then ordinal else line end as position,
                json_valid(record) as is_valid,
                case when json_valid(record) then record::json end as doc
            from ctr_records
        ),
        extracted as (
            select position, line, ordinal, is_concatenated, record, is_valid, doc,
                {fields},
                {raw_times},
                {raw_durations}
            from documents
        ),
        parsed as (
            select *,
                {times},
                {durations},
                case
                    when coalesce(upper(channel), 'VOICE') <> 'VOICE' then 'non_voice'
                    when upper(initiation_method) = 'MONITOR' then 'monitor'
                end as skip_reason
            from extracted
        ),
        classified as (
            select *,
                coalesce(enqueued_at, initiated_at) as entered_at,
                case
                    when connected_at is not null then 'answered'
                    when enqueued_at is null then 'ivr_contained'
                    when next_contact_id is not null or transfer_completed_at is not null then 'overflow'
                    when coalesce(upper(disconnect_reason), 'CUSTOMER_DISCONNECT') in ({abandon_reasons})
                        then 'abandoned'
                    else 'timeout'
                end as outcome
            from parsed
        )
        select *,
            case
                when outcome in ('answered', 'ivr_contained') then disconnected_at
                else coalesce(dequeued_at, disconnected_at)
            end as ended_at,
            case when upper(initiation_method) in ({outbound}) then 'outbound' else 'inbound' end as direction
        from classified
        """
    )
    con.execute(
        f"""
        alter table ctr_validated add column reject_reason varchar;
        update ctr_validated set reject_reason = case
            when is_concatenated then 'record ' || ordinal || ' (line ' || line || '): '
            else ''
        end || ({first_failing_rule_sql(rules)});
        """
    )

    # At-least-once delivery: the latest version of each ContactId in the file.
    con.execute(
        f"""
        insert into raw.telephony_contacts by name
        with latest as (
            select *
            from ctr_validated
            where reject_reason is null and skip_reason is null
            qualify row_number() over (
                partition by contact_leg_id order by last_updated_at desc nulls last, position desc
            ) = 1
        )
        select
            $file_id as file_id, $tenant_id as tenant_id, $delivery_date::date as delivery_date,
            position as source_line, '{FORMAT}' as source_format,
            coalesce(initial_contact_id, contact_leg_id) as contact_id,
            coalesce(queue_name, nullif(regexp_extract(queue_arn, '[^/]+$'), '')) as queue_id,
            direction, outcome,
            lower(coalesce(segment_attribute, customer_segment_attribute)) as segment,
            case
                when outcome = 'answered' then next_contact_id is not null or transfer_completed_at is not null
            end as is_transferred,
            case when outcome = 'answered' then agent_username end as agent_id,
            caller_number,
            {pseudonym.hmac_sql(pseudonym.phone_sql('caller_number'))} as caller_id_hash,
            case
                when enqueued_at is not null then coalesce(queue_seconds, {DERIVED_WAIT_SQL})
            end as wait_seconds,
            case when outcome = 'answered' then interaction_seconds end as talk_seconds,
            case when outcome = 'answered' then customer_hold_seconds end as hold_seconds,
            case when outcome = 'answered' then after_contact_work_seconds end as after_call_work_seconds,
            entered_at, connected_at as answered_at, ended_at,
            last_updated_at as source_updated_at,
            json_object(
                'ContactId', contact_leg_id, 'PreviousContactId', previous_contact_id,
                'InitiationMethod', initiation_method, 'DisconnectReason', disconnect_reason
            ) as extra,
            now()::timestamp as loaded_at
        from latest
        """,
        ctx.params("file_id", "tenant_id", "delivery_date", "hmac_ipad", "hmac_opad"),
    )

    result.rows_rejected = ctx.reject("ctr_validated", line="position", raw_text="record",
                                      where="reject_reason is not null")  # fmt: skip
    # Lines that are not UTF-8 text (JSON is always UTF-8) never became records: quarantined as they are.
    result.rows_rejected += ctx.reject(
        "(select line, arg_min(error_type || ': ' || error_message, column_idx) as reject_reason,"
        " arg_min(csv_line, column_idx) as raw_text from physical_line_rejects group by line)"
    )
    result.rows_loaded = con.execute(
        "select count(*) from raw.telephony_contacts where file_id = ?", [ctx.file_id]
    ).fetchone()[0]
    counts = dict(
        con.execute(
            "select coalesce(skip_reason, 'voice'), count(*) from ctr_validated where reject_reason is null group by 1"
        ).fetchall()
    )
    skipped = [f"{counts[kind]} {label}" for kind, label in SKIPPED.items() if counts.get(kind)]
    if skipped:
        result.notes.append("not loaded: " + ", ".join(skipped))
    result.rows_skipped = sum(counts.get(kind, 0) for kind in SKIPPED)
    result.rows_superseded = counts.get("voice", 0) - result.rows_loaded
    if result.rows_superseded:
        result.notes.append(
            f"{result.rows_superseded} earlier version(s) of a contact in this file superseded by a later one"
        )
    return result
