"""Asterisk CDR: ``Master.csv`` (cdr_csv) and the SQL backends' CSV export, into ``raw.telephony_contacts``.

Two layouts are read (docs/formats.md "Asterisk CDR"):

- ``Master.csv`` as ``cdr_csv`` writes it: no header; ``accountcode, src, dst,
  dcontext, clid, channel, dstchannel, lastapp, lastdata, start, answer, end,
  duration, billsec, disposition, amaflags``, then ``uniqueid``
  (``loguniqueid``) and/or ``userfield`` (``loguserfield``), then
  ``peeraccount, linkedid, sequence`` (``newcdrcolumns``). The column set is
  told by the field count of the first lines (16 to 21); with 17 or 20 fields
  the optional one is ``uniqueid`` when its values look like one
  (``1717405200.1``), else ``userfield``. Lines with another field count are
  quarantined.
- A CDR table export (cdr_mysql / cdr_odbc / FreePBX ``asteriskcdrdb.cdr``)
  with a header: ``calldate, clid, src, dst, dcontext, channel, dstchannel,
  lastapp, lastdata, duration, billsec, disposition, amaflags, accountcode,
  uniqueid, userfield`` (+ ``did``, ``linkedid``, ...). It has no answer and end
  columns: end = calldate + duration, answer = end - billsec for an ANSWERED
  call. Columns callops does not model are kept in ``extra`` and reported.

**Time zone.** CDR times carry no offset (an explicit offset is honoured). They
are the tenant's local wall-clock time, unless the file name has ``gmt`` or
``utc`` as a word (``Master-utc.csv``, ``gmt_Master.csv``): then they are UTC,
as ``usegmtime=yes`` writes them. (A tenant setting for this needs a key in
``callops.yml``; :func:`times_are_utc` already honours a ``cdr_usegmtime``
attribute on the tenant once ``config.py`` has one.)

**One row per queue stint or inbound call** (DECISIONLOG.md, "Asterisk CDR"):

- ``contact_id`` = ``linkedid``, else ``uniqueid``, else ``cdr-`` + a hash of
  (start, channel, src) as delivered, stable across re-deliveries.
- ``lastapp = Queue``: a queue stint. ``queue_id`` = first comma field of
  ``lastdata``; answered when ``disposition = ANSWERED`` and an agent channel
  (``dstchannel``) was bridged, else abandoned (a CDR cannot tell a queue
  timeout from a caller hanging up). Several CDRs of one stint (the forks of a
  queue ringing several members) are merged: the answered one wins.
- Outbound: not a queue call, from an internal context (``dcontext`` containing
  ``internal``, ``outbound`` or ``outgoing``) to an external number (7+
  digits). Agent = the calling channel; caller number = the dialled customer.
- Contained in the IVR: an inbound call that never queued, never reached a
  phone (no ``dstchannel``) and did not end in ``Dial``.
- Skipped (not loaded, counted in ``rows_skipped`` and named in the file's
  notes): internal extension-to-extension calls, agent-side legs
  (``AppQueue``/``AppDial``, ``Local/`` channels) and inbound calls dialled
  straight to a phone without a queue. The forks merged into a stint they
  belong to are counted in ``rows_superseded``.
- ``wait_seconds``, ``hold_seconds``, ``after_call_work_seconds`` are null: a
  CDR has no queue wait, hold or wrap-up (docs/domain.md: null, never a guess).
  ``entered_at`` is the call's start (which includes any IVR time before the
  queue); ``talk_seconds`` = ``billsec`` of an answered call.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass

from callops import pseudonym
from callops.contracts import telephony
from callops.load.base import (
    FileLoad,
    Head,
    LineRule,
    LoadContext,
    LoadError,
    clip,
    duration_rule,
    first_failing_rule_sql,
    impossible_time_rules,
    map_record_lines,
    mostly_parses,
    read_head,
    read_physical_lines,
    text_sql,
    timestamp_sql,
    wide_header_rule,
)
from callops.load.csv_contract import parse_header, parse_row
from callops.warehouse import sql_literal

FORMAT = "asterisk_cdr"
DESCRIPTION = (
    "Asterisk CDR Master.csv (cdr_csv, no header: accountcode, src, dst, dcontext, clid, channel, dstchannel, "
    "lastapp, lastdata, start, answer, end, duration, billsec, disposition, amaflags[, uniqueid][, userfield]"
    "[, peeraccount, linkedid, sequence]) or a CDR table export with a header (calldate, clid, src, dst, ..., "
    "duration, billsec, disposition)"
)
RAW_TABLES = telephony.RAW_TABLES

BASE_COLUMNS = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
    "start", "answer", "end", "duration", "billsec", "disposition", "amaflags",
)  # fmt: skip
NEWCDR_COLUMNS = ("peeraccount", "linkedid", "sequence")
# Every field callops reads; "calldate" is the SQL export's name for start.
KNOWN_COLUMNS = (*BASE_COLUMNS, "uniqueid", "userfield", *NEWCDR_COLUMNS, "calldate")
# The SQL export's columns a stint cannot be built without.
EXPORT_REQUIRED = ("calldate", "src", "dst", "channel", "dstchannel", "lastapp", "lastdata", "duration", "billsec",
                   "disposition")  # fmt: skip
DISPOSITIONS = ("ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION", "CANCEL")  # main/cdr.c

START_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
EXPORT_TIME_PATTERN = re.compile(r"\d{4}[-/]\d{2}[-/]\d{2}[ T]\d{2}:\d{2}")  # what a SQL export may write
UNIQUEID_PATTERN = re.compile(r"(?:[\w.-]+-)?\d+\.\d+")
UTC_NAME_PATTERN = re.compile(r"(?<![a-z])(gmt|utc)(?![a-z])")
HEAD_LINES = 50

# Classification (SQL regular expressions, matched on lower-cased values).
INTERNAL_CONTEXT = "internal|outbound|outgoing"
EXTERNAL_NUMBER = r"\+?\d{7,}"
AGENT_LEG_APPS = ("appqueue", "appdial", "appdial2")
SKIPPED = {
    "internal": "internal extension-to-extension call(s)",
    "agent_leg": "agent-side leg(s) (AppQueue/AppDial, Local/ channels)",
    "direct": "inbound call(s) dialled straight to a phone without a queue",
}


@dataclass(frozen=True)
class Layout:
    """How a CDR file is laid out: its columns in order, and whether a header line names them."""

    columns: tuple[str, ...]
    header: bool = False
    delimiter: str = ","

    @property
    def extra_columns(self) -> list[str]:
        return [name for name in self.columns if name not in KNOWN_COLUMNS]


def _fields(line: str) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(line)))
    except (csv.Error, StopIteration):
        return []


def _cdr_line_rule(number: int, line: str) -> str | None:
    """A ``Master.csv`` line: 16 to 21 fields, a start date-time (field 10) and a disposition (field 15)."""
    fields = _fields(line)
    if not 16 <= len(fields) <= 21:
        return f"has {len(fields)} comma-separated field(s), a Master.csv line has 16 to 21"
    if not START_PATTERN.fullmatch(fields[9].strip()):
        return f"start (field 10) '{clip(fields[9])}' is not a date-time YYYY-MM-DD hh:mm:ss"
    if fields[14].strip().upper() not in DISPOSITIONS:
        return f"disposition (field 15) '{clip(fields[14])}' is not one of {', '.join(DISPOSITIONS)}"
    return None


def headerless_columns(count: int, optional_values: list[str]) -> tuple[str, ...] | None:
    """The cdr_csv columns of a line with ``count`` fields (``optional_values``: the 17th field of sample lines)."""
    looks_unique = sum(1 for v in optional_values if UNIQUEID_PATTERN.fullmatch(v.strip()))
    one_optional = ("uniqueid",) if optional_values and looks_unique * 2 >= len(optional_values) else ("userfield",)
    return {
        16: BASE_COLUMNS,
        17: (*BASE_COLUMNS, *one_optional),
        18: (*BASE_COLUMNS, "uniqueid", "userfield"),
        19: (*BASE_COLUMNS, *NEWCDR_COLUMNS),
        20: (*BASE_COLUMNS, *one_optional, *NEWCDR_COLUMNS),
        21: (*BASE_COLUMNS, "uniqueid", "userfield", *NEWCDR_COLUMNS),
    }.get(count)


def _export_header(head: Head) -> Layout | None:
    """The layout of a CDR table export: a header naming calldate (or start), billsec and disposition."""
    try:
        header, delimiter = parse_header(head.first_line)
    except LoadError:
        return None
    if "disposition" in header and "billsec" in header and ("calldate" in header or "start" in header):
        return Layout(tuple(header), header=True, delimiter=delimiter)
    return None


def layout(head: Head) -> Layout | None:
    """The file's layout from its first lines (the first ``HEAD_LINES`` CDRs tell the columns), or None."""
    if found := _export_header(head):
        return found
    records = [_fields(line) for number, line in head.numbered_lines if _cdr_line_rule(number, line) is None]
    records = records[:HEAD_LINES]
    if not records:
        return None
    count = Counter(len(fields) for fields in records).most_common(1)[0][0]
    optional = [fields[16] for fields in records if len(fields) == count and count in (17, 20)]
    columns = headerless_columns(count, optional)
    return Layout(columns) if columns else None


def line_rule(head: Head) -> LineRule:
    """How a line parses as a CDR: a ``Master.csv`` line, or a row of the header's width with a date-time
    ``calldate`` (or ``start``) under a CDR export's header."""
    found = _export_header(head)
    if found is None:
        return _cdr_line_rule
    start = found.columns.index("calldate" if "calldate" in found.columns else "start")

    def rule(number: int, line: str) -> str | None:
        if number == 1:
            return None
        fields = parse_row(line, found.delimiter)
        if len(fields) != len(found.columns):
            return f"has {len(fields)} field(s), the header has {len(found.columns)}"
        if not EXPORT_TIME_PATTERN.match(fields[start].strip()):
            return f"{found.columns[start]} '{clip(fields[start])}' is not a date-time"
        return None

    return rule


def detect(head: Head) -> int:
    """1000 when at least half of the first lines parse as CDRs (``line_rule``); else 0."""
    return 1000 if mostly_parses(head, line_rule(head)) else 0


def times_are_utc(file_name: str, tenant: object) -> bool:
    """CDR times are UTC (``usegmtime=yes``) when the file name says gmt/utc, or the tenant says so."""
    return bool(UTC_NAME_PATTERN.search(file_name.lower())) or bool(getattr(tenant, "cdr_usegmtime", False))


def _quoted(name: str) -> str:
    return 'scan."' + name.replace('"', '""') + '"'


def load(ctx: LoadContext) -> FileLoad:
    """Load one CDR file into raw.telephony_contacts / raw.rejects (the caller owns the transaction)."""
    con = ctx.con
    head = read_head(ctx.source, "utf-8")
    found = layout(head)
    if found is None:
        raise ctx.fail(f"not an Asterisk CDR file (expected {DESCRIPTION})")
    if found.header:
        if too_wide := wide_header_rule(list(found.columns), head.last_line_cut):
            raise ctx.fail(too_wide)
        names = ["calldate" if name == "start" else name for name in found.columns]
        missing = [name for name in EXPORT_REQUIRED if name not in names]
        if missing:
            raise ctx.fail(f"missing required column(s) {', '.join(missing)} for {FORMAT} CDR export "
                           f"(header has: {', '.join(found.columns)})")  # fmt: skip
        duplicated = sorted({name for name in found.columns if found.columns.count(name) > 1})
        if duplicated or not all(found.columns):
            raise ctx.fail(f"the header names column(s) twice or not at all: {', '.join(duplicated) or '(blank)'}")
    utc = times_are_utc(ctx.path.name, ctx.tenant)
    timezone = "'UTC'" if utc else "$timezone"
    result = FileLoad(extra_columns=found.extra_columns)
    if utc:
        result.notes.append("CDR times read as UTC (the file name says gmt/utc)")

    # Every physical line (blank ones as null), for line numbers and the raw text of rejects.
    read_physical_lines(ctx)

    # The CDRs, every field as text; structurally broken lines go to cdr_scan_rejects.
    column_types = "{" + ", ".join(f"{sql_literal(name)}: 'VARCHAR'" for name in found.columns) + "}"
    con.execute("drop table if exists cdr_scan_rejects; drop table if exists cdr_scan_reject_scans")
    con.execute(
        f"""
        create or replace temp table cdr_scan as
        select row_number() over () as row_index, *
        from read_csv({ctx.source_sql}, columns = {column_types}, header = {str(found.header).lower()},
            auto_detect = false, delim = {sql_literal(found.delimiter)}, quote = '"', escape = '"',
            strict_mode = true, store_rejects = true,
            rejects_table = 'cdr_scan_rejects', rejects_scan = 'cdr_scan_reject_scans')
        """
    )
    # One reason per broken line (the reader reports a short line once per missing column).
    con.execute(
        """
        create or replace temp table cdr_broken as
        with broken as (
            select line, arg_min(error_type || ': ' || error_message, column_idx) as reason,
                arg_min(csv_line, column_idx) as csv_line
            from cdr_scan_rejects
            group by line
        )
        select broken.line, broken.reason,
            coalesce(physical_lines.text, trim(broken.csv_line, chr(10) || chr(13))) as raw_text
        from broken
        left join physical_lines using (line)
        """
    )
    # Physical line of each accepted CDR (one CDR per line).
    map_record_lines(ctx, "cdr_line_map", first_line=2 if found.header else 1, broken="cdr_broken")

    present = set(found.columns)

    def field(name: str, *aliases: str) -> str:
        for candidate in (name, *aliases):
            if candidate in present:
                return text_sql(_quoted(candidate))
        return "cast(null as varchar)"

    raw_fields = {"start": ("calldate",), "answer": (), "end": (), "duration": (), "billsec": (), "disposition": ()}
    selected = ",\n                ".join(
        [f"{field(name)} as {name}" for name in BASE_COLUMNS if name not in raw_fields]
        + [f"{field(name, *aliases)} as {name}_raw" for name, aliases in raw_fields.items()]
        + [f"{field(name)} as {name}" for name in ("uniqueid", "userfield", *NEWCDR_COLUMNS)]
    )
    extras = found.extra_columns
    extra_sql = (
        "json_object(" + ", ".join(f"{sql_literal(n)}, {_quoted(n)}" for n in extras) + ")"
        if extras
        else "cast(null as json)"
    )
    dispositions = ", ".join(map(sql_literal, DISPOSITIONS))
    rules = [
        ("start_raw is null", "'start is empty'"),
        ("start is null", "'start is not a timestamp: ' || start_raw"),
        *impossible_time_rules("start", "start_raw", ctx.run_date),
        ("answer_raw is not null and answer_ts is null", "'answer is not a timestamp: ' || answer_raw"),
        *impossible_time_rules("answer_ts", "answer_raw", ctx.run_date, "answer"),
        ("end_raw is not null and end_ts is null", "'end is not a timestamp: ' || end_raw"),
        *impossible_time_rules("end_ts", "end_raw", ctx.run_date, "end"),
        ("duration_raw is null", "'duration is empty'"),
        ("duration is null", "'duration is not a whole number of seconds: ' || duration_raw"),
        ("duration < 0", "'duration is negative: ' || duration_raw"),
        duration_rule("duration", "duration_raw", "duration"),
        ("billsec_raw is null", "'billsec is empty'"),
        ("billsec is null", "'billsec is not a whole number of seconds: ' || billsec_raw"),
        ("billsec < 0", "'billsec is negative: ' || billsec_raw"),
        duration_rule("billsec", "billsec_raw", "billsec"),
        (
            f"disposition is null or disposition not in ({dispositions})",
            f"'disposition ''' || coalesce(disposition_raw, '') || ''' is not one of {', '.join(DISPOSITIONS)}'",
        ),
        ("end_at < start", "'end is before start'"),
        ("answer_at < start", "'answer is before start'"),
        ("answer_at > end_at", "'answer is after end'"),
    ]
    agent_leg_apps = ", ".join(map(sql_literal, AGENT_LEG_APPS))
    con.execute(
        f"""
        create or replace temp table cdr_validated as
        with source as (
            select scan.row_index, line_map.line, line_map.text as raw_text, {extra_sql} as extra,
                {selected}
            from cdr_scan as scan
            left join cdr_line_map as line_map using (row_index)
        ),
        parsed as (
            select *,
                {timestamp_sql('start_raw', timezone)} as start,
                {timestamp_sql('answer_raw', timezone)} as answer_ts,
                {timestamp_sql('end_raw', timezone)} as end_ts,
                try_cast(duration_raw as bigint) as duration,
                try_cast(billsec_raw as bigint) as billsec,
                upper(disposition_raw) as disposition
            from source
        ),
        completed as (
            -- the SQL export has no end and answer columns: derive them from duration and billsec
            select *,
                coalesce(end_ts, start + to_seconds(duration)) as end_at,
                case
                    when answer_raw is not null then answer_ts
                    when end_raw is null and disposition = 'ANSWERED'
                        then coalesce(end_ts, start + to_seconds(duration)) - to_seconds(billsec)
                end as answer_at
            from parsed
        ),
        classified as (
            select *,
                case
                    when lower(lastapp) = 'queue' then 'queue'
                    when lower(lastapp) in ({agent_leg_apps}) or lower(channel) like 'local/%' then 'agent_leg'
                    when regexp_matches(lower(coalesce(dcontext, '')), '{INTERNAL_CONTEXT}')
                        and regexp_full_match(coalesce(dst, ''), '{EXTERNAL_NUMBER}') then 'outbound'
                    when regexp_matches(lower(coalesce(dcontext, '')), '{INTERNAL_CONTEXT}') then 'internal'
                    when dstchannel is not null or lower(lastapp) = 'dial' then 'direct'
                    else 'ivr'
                end as kind,
                disposition = 'ANSWERED' and dstchannel is not null as is_bridged
            from completed
        )
        select *,
            coalesce(linkedid, uniqueid, 'cdr-' || left(sha256(concat_ws('|',
                coalesce(start_raw, ''), coalesce(channel, ''), coalesce(src, ''))), 24)) as contact_id,
            {first_failing_rule_sql(rules)} as reject_reason
        from classified
        """,
        ctx.params("timezone") if not utc else {},
    )

    # One row per stint: the forked CDRs of one queue call (one per member rung) merge, the answered one wins.
    con.execute(
        f"""
        insert into raw.telephony_contacts by name
        with loadable as (
            select *,
                case kind when 'queue' then trim(split_part(lastdata, ',', 1)) end as queue_id,
                case
                    when kind = 'ivr' then 'ivr_contained'
                    when is_bridged then 'answered'
                    else 'abandoned'
                end as outcome,
                case when kind = 'outbound' then dst else src end as customer_number
            from cdr_validated
            where reject_reason is null and kind in ('queue', 'outbound', 'ivr')
            qualify row_number() over (
                partition by contact_id, queue_id, start
                order by outcome = 'answered' desc, end_at desc, line desc
            ) = 1
        )
        select
            $file_id as file_id, $tenant_id as tenant_id, $delivery_date::date as delivery_date,
            line as source_line, '{FORMAT}' as source_format,
            contact_id, nullif(queue_id, '') as queue_id,
            case kind when 'outbound' then 'outbound' else 'inbound' end as direction,
            outcome, cast(null as varchar) as segment, cast(null as boolean) as is_transferred,
            case
                when outcome = 'answered' then
                    regexp_replace(case kind when 'outbound' then channel else dstchannel end,
                        '-[0-9A-Fa-f]+(;\\d+)?$', '')
            end as agent_id,
            customer_number as caller_number,
            {pseudonym.hmac_sql(pseudonym.phone_sql('customer_number'))} as caller_id_hash,
            cast(null as double) as wait_seconds,
            case when outcome = 'answered' then cast(billsec as double) end as talk_seconds,
            cast(null as double) as hold_seconds,
            cast(null as double) as after_call_work_seconds,
            start as entered_at,
            case when outcome = 'answered' then answer_at end as answered_at,
            end_at as ended_at,
            cast(null as timestamp) as source_updated_at, extra, now()::timestamp as loaded_at
        from loadable
        """,
        ctx.params("file_id", "tenant_id", "delivery_date", "hmac_ipad", "hmac_opad"),
    )

    rejected = ctx.reject("cdr_validated", where="reject_reason is not null")
    rejected += ctx.reject("cdr_broken", line="line", reason="reason", raw_text="raw_text")
    result.rows_rejected = rejected
    result.rows_loaded = con.execute(
        "select count(*) from raw.telephony_contacts where file_id = ?", [ctx.file_id]
    ).fetchone()[0]
    counts = dict(
        con.execute(
            "select kind, count(*) from cdr_validated where reject_reason is null group by kind"
        ).fetchall()
    )
    skipped = [f"{counts[kind]} {label}" for kind, label in SKIPPED.items() if counts.get(kind)]
    if skipped:
        result.notes.append("not loaded (not queue contacts): " + ", ".join(skipped))
    result.rows_skipped = sum(counts.get(kind, 0) for kind in SKIPPED)
    # A fork merged into its stint is superseded: another CDR of the same stint (the answered one) is loaded.
    result.rows_superseded = sum(counts.get(kind, 0) for kind in ("queue", "outbound", "ivr")) - result.rows_loaded
    if result.rows_superseded:
        result.notes.append(f"{result.rows_superseded} forked CDR(s) merged into the stint they belong to")
    return result
