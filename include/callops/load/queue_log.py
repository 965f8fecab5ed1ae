"""Asterisk ``queue_log``: app_queue's event log, as a file or as a realtime/DB table export.

The format: docs/formats.md "Asterisk queue_log".

Two layouts are read:

- the file ``/var/log/asterisk/queue_log`` (and its rotations ``queue_log.1``,
  ``queue_log-20240603``, often without an extension): one event per line,
  ``epoch|callid|queuename|agent|event|data1|...`` with a variable number of
  data fields;
- the realtime/DB export (Wazo, FreePBX, Issabel): a CSV with a header
  ``time,callid,queuename,agent,event`` and either ``data1..data5`` or one
  ``data`` column (optionally an ``id`` column), ``time`` written as
  ``%F %T.%6q`` wall-clock (the tenant's time zone unless it carries an offset)
  or as epoch seconds.

A call's events can span files (logs rotate at arbitrary times) and re-exports
overlap, so this adapter does not assemble calls: every valid line lands in
``raw.queue_log_events`` (typed, with the queue wait, talk and ring time
already picked out of the verb's data fields), and dbt de-duplicates the events
across files and assembles the stints (``base_asterisk__queue_log_stints``). Member and
pause events also land in the canonical ``raw.agent_state_events``.

The caller number (ENTERQUEUE data2) stays in the private raw layer; its keyed
HMAC pseudonym is computed here (``caller_id_hash``) so dbt never needs the key.

Lines are read by DuckDB's CSV reader, one whole line per value, and split in
SQL (a WITHDRAW info or a custom verb may carry more ``|`` than any fixed
column count); nothing is parsed row by row in Python.
"""

from __future__ import annotations

import functools
import re

from callops import pseudonym
from callops.contracts import telephony
from callops.load.base import (
    MAX_DURATION_SECONDS,
    FileLoad,
    Head,
    LineRule,
    LoadContext,
    LoadError,
    clip,
    epoch_sql,
    first_failing_rule_sql,
    impossible_time_rules,
    mostly_parses,
    text_sql,
    timestamp_sql,
)
from callops.load.csv_contract import parse_header, parse_row, read_header
from callops.warehouse import sql_literal

FORMAT = "asterisk_queue_log"
DESCRIPTION = (
    "Asterisk queue_log: lines 'epoch|callid|queuename|agent|event|data...' (the file, e.g. queue_log, "
    "queue_log.1), or a realtime/DB export CSV with the header time,callid,queuename,agent,event,data1..data5 "
    "(or data)"
)

EVENTS_TABLE = telephony.QUEUE_LOG_EVENTS_TABLE
RAW_TABLES = (EVENTS_TABLE, *telephony.AGENT_STATE_TABLES)

# The caller's pseudonym, from the number an ENTERQUEUE keeps in data2; `callops rekey` recomputes it
# in place from that clear number (a tenant's pads as parameters).
CALLER_ID_HASH_SQL = f"case when event = 'ENTERQUEUE' then {pseudonym.hmac_sql(pseudonym.phone_sql('data2'))} end"
REPSEUDONYMISE_SQL = (
    f"update raw.queue_log_events set caller_id_hash = {CALLER_ID_HASH_SQL} where tenant_id = $tenant_id"
)

# A queue_log line: epoch|callid|queuename|agent|EVENT...
LINE_PATTERN = re.compile(r"^\d{9,11}(\.\d+)?\|[^|]*\|[^|]*\|[^|]*\|[A-Z_]+")
EPOCH_PATTERN = re.compile(r"\d{9,11}(\.\d+)?")
DATE_TIME_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")
REALTIME_COLUMNS = ("time", "callid", "queuename", "agent", "event")

# Verbs of a queued call: they need a callid and a queue.
CALL_VERBS = (
    "ENTERQUEUE", "CONNECT", "COMPLETECALLER", "COMPLETEAGENT", "ABANDON", "EXITWITHTIMEOUT", "EXITWITHKEY",
    "EXITEMPTY", "WITHDRAW", "RINGNOANSWER", "RINGCANCELED", "ATTENDEDTRANSFER", "BLINDTRANSFER", "TRANSFER",
    "AGENTDUMP", "SYSCOMPAT",
)
# Member verbs: they need an agent.
MEMBER_VERBS = (
    "ADDMEMBER", "REMOVEMEMBER", "AGENTLOGIN", "AGENTLOGOFF", "AGENTCALLBACKLOGIN", "AGENTCALLBACKLOGOFF",
    "PAUSE", "UNPAUSE", "PAUSEALL", "UNPAUSEALL", "PENALTY", "RINGINUSE",
)

# Numeric data fields: verb -> (field name, position in the data fields (negative: from the end), required).
# ATTENDEDTRANSFER logs its method and method data as one string that holds one or two `|` (LINK has two
# channels), so its times are counted from the end: holdtime|calltime|origposition.
NUMERIC_FIELDS: dict[str, tuple[tuple[str, int, bool], ...]] = {
    "CONNECT": (("holdtime", 1, True), ("ringtime", 3, False)),
    "COMPLETECALLER": (("holdtime", 1, True), ("calltime", 2, True)),
    "COMPLETEAGENT": (("holdtime", 1, True), ("calltime", 2, True)),
    "ABANDON": (("waittime", 3, True),),
    "EXITWITHTIMEOUT": (("waittime", 3, True),),
    "EXITEMPTY": (("waittime", 3, True),),
    "WITHDRAW": (("waittime", 3, True),),
    "EXITWITHKEY": (("waittime", 4, True),),
    "RINGNOANSWER": (("ringtime_ms", 1, True),),
    "RINGCANCELED": (("ringtime_ms", 1, True),),
    "BLINDTRANSFER": (("holdtime", 3, True), ("calltime", 4, True)),
    "TRANSFER": (("holdtime", 3, True), ("calltime", 4, True)),
    "ATTENDEDTRANSFER": (("holdtime", -3, True), ("calltime", -2, True)),
    "AGENTLOGOFF": (("logintime", 2, False),),
}

# The typed columns, from the numeric fields above: column -> {verb: field name}.
TYPED_COLUMNS: dict[str, dict[str, str]] = {
    "wait_seconds": {
        "CONNECT": "holdtime", "COMPLETECALLER": "holdtime", "COMPLETEAGENT": "holdtime",
        "BLINDTRANSFER": "holdtime", "TRANSFER": "holdtime", "ATTENDEDTRANSFER": "holdtime",
        "ABANDON": "waittime", "EXITWITHTIMEOUT": "waittime", "EXITEMPTY": "waittime", "WITHDRAW": "waittime",
        "EXITWITHKEY": "waittime",
    },
    "talk_seconds": {
        "COMPLETECALLER": "calltime", "COMPLETEAGENT": "calltime", "BLINDTRANSFER": "calltime",
        "TRANSFER": "calltime", "ATTENDEDTRANSFER": "calltime",
    },
    "ring_seconds": {"RINGNOANSWER": "ringtime_ms", "RINGCANCELED": "ringtime_ms", "CONNECT": "ringtime"},
}

# Member and pause verbs -> canonical agent states (raw.agent_state_events).
AGENT_STATE_SQL = """
    select line, event_at, agent, queue_id, 'logged_in' as state, cast(null as varchar) as reason, 0 as step
    from accepted_events where event in ('ADDMEMBER', 'AGENTLOGIN', 'AGENTCALLBACKLOGIN')
    union all
    select line, event_at, agent, queue_id, 'paused', null, 1
    from accepted_events where event = 'ADDMEMBER' and upper(data1) = 'PAUSED'
    union all
    select line, event_at, agent, queue_id, 'logged_out', null, 0
    from accepted_events where event in ('REMOVEMEMBER', 'AGENTLOGOFF', 'AGENTCALLBACKLOGOFF')
    union all
    select line, event_at, agent, case when event = 'PAUSE' then queue_id end, 'paused', data1, 0
    from accepted_events where event in ('PAUSE', 'PAUSEALL')
    union all
    select line, event_at, agent, case when event = 'UNPAUSE' then queue_id end, 'ready', null, 0
    from accepted_events where event in ('UNPAUSE', 'UNPAUSEALL')
"""


def _is_realtime_header(line: str) -> bool:
    try:
        header = parse_header(line)[0]
    except LoadError:
        return False
    return set(REALTIME_COLUMNS) <= set(header) and ("data" in header or "data1" in header)


def _file_line_rule(number: int, line: str) -> str | None:
    """A line of the file: ``epoch|callid|queuename|agent|EVENT...`` (``LINE_PATTERN``)."""
    text = line.lstrip("\ufeff")
    if LINE_PATTERN.match(text):
        return None
    parts = text.split("|")
    if len(parts) < 5:
        return f"has {len(parts)} |-separated field(s), not epoch|callid|queuename|agent|event|data..."
    if not EPOCH_PATTERN.fullmatch(parts[0]):
        return f"time '{clip(parts[0])}' is not a Unix epoch"
    return f"event '{clip(parts[4])}' is not a verb (A-Z, _)"


def _realtime_line_rule(header: list[str], delimiter: str, number: int, line: str) -> str | None:
    """A row of the realtime export: the header's number of fields, a time and an event."""
    if number == 1:
        return None
    fields = parse_row(line, delimiter)
    if len(fields) != len(header):
        return f"has {len(fields)} field(s), the header has {len(header)}"
    row = dict(zip(header, fields, strict=True))
    if not (EPOCH_PATTERN.fullmatch(row["time"].strip()) or DATE_TIME_PATTERN.match(row["time"].strip())):
        return f"time '{clip(row['time'])}' is neither a date-time nor a Unix epoch"
    if not row["event"].strip():
        return "event is empty"
    return None


def line_rule(head: Head) -> LineRule:
    """How a line parses as queue_log: a file line, or a row under the realtime export's header."""
    if _is_realtime_header(head.first_line):
        header, delimiter = parse_header(head.first_line)
        return functools.partial(_realtime_line_rule, header, delimiter)
    return _file_line_rule


def detect(head: Head) -> int:
    """1000 when at least half of the first lines parse as queue_log (``line_rule``); else 0."""
    return 1000 if mostly_parses(head, line_rule(head)) else 0


# --- reading --------------------------------------------------------------------------------------


def _scan(ctx: LoadContext, header: bool, columns: dict[str, str], delimiter: str, quote: str) -> None:
    """Read ``ctx.source`` into the temp table ``scan``: ``line`` (each record's physical line), columns as VARCHAR.

    Records are numbered from the first line after the header, skipping the
    lines the reader rejected (``scan_rejects``: invalid UTF-8). A file with
    none, the usual case, is numbered by its record order alone; the line map
    is only built when there is a gap to skip.
    """
    con = ctx.con
    types = "{" + ", ".join(f"{sql_literal(name)}: 'VARCHAR'" for name in columns) + "}"
    first = 2 if header else 1
    con.execute("drop table if exists scan_rejects; drop table if exists scan_reject_scans")
    con.execute(
        f"""
        create or replace temp table scan as
        select row_number() over () + {first - 1} as line, *
        from read_csv(
            {ctx.source_sql},
            columns = {types},
            header = {str(header).lower()},
            auto_detect = false,
            delim = {sql_literal(delimiter)},
            quote = {sql_literal(quote)},
            escape = {sql_literal(quote)},
            null_padding = true,
            strict_mode = false,
            store_rejects = true,
            rejects_table = 'scan_rejects',
            rejects_scan = 'scan_reject_scans'
        )
        """
    )
    if not con.execute("select count(*) from scan_rejects").fetchone()[0]:
        return
    # Physical line of each record: the lines left once the reader's rejected lines are removed.
    con.execute(
        f"""
        create or replace temp table scan as
        with rejected as (
            select distinct line from scan_rejects
        ),
        candidate as (
            select line
            from range({first}, {first} + (select count(*) from scan) + (select count(*) from rejected)) as r(line)
            where line not in (select line from rejected)
        ),
        line_map as (
            select line, row_number() over (order by line) + {first - 1} as record
            from candidate
        )
        select line_map.line, scan.* exclude (line)
        from scan
        inner join line_map on line_map.record = scan.line
        """
    )


def _file_lines_sql(ctx: LoadContext) -> str:
    """The pipe-separated file: each whole line is one value, split on ``|`` in SQL."""
    _scan(ctx, header=False, columns={"text": "VARCHAR"}, delimiter=chr(1), quote="")
    return """
        select
            line, raw_text, 'file' as source_layout, len(parts) >= 5 as is_complete,
            parts[1] as time_raw, parts[2] as callid_raw, parts[3] as queue_raw, parts[4] as agent_raw,
            parts[5] as event_raw, parts[6:] as fields
        from (
            select line, text as raw_text, string_split(text, '|') as parts
            from scan
            where trim(coalesce(text, '')) <> ''
        )
    """


def _realtime_lines_sql(ctx: LoadContext) -> str:
    """The realtime/DB table export: a CSV with a header; data1..data5, or one ``data`` column split on ``|``."""
    try:
        header, delimiter = read_header(ctx.source)
    except LoadError as error:
        raise ctx.fail(str(error)) from None
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise ctx.fail(f"column(s) {', '.join(duplicated)} appear more than once in the header")
    names = [name or f"column{i + 1}" for i, name in enumerate(header)]
    _scan(ctx, header=True, columns=dict.fromkeys(names, "VARCHAR"), delimiter=delimiter, quote='"')

    def col(name: str) -> str:
        return f'scan."{name}"' if name in names else "cast(null as varchar)"

    split_data = f"string_split({col('data')}, '|')" if "data" in names else "cast([] as varchar[])"
    numbered = [f"data{i}" for i in range(1, 6) if f"data{i}" in names]
    if numbered:
        # data1..data5 joined back and re-split: data5 may hold several fields, trailing empty ones are dropped.
        parts = " || '|' || ".join(f"coalesce({col(name)}, '')" for name in numbered)
        joined = f"regexp_replace({parts}, '\\|+$', '')"
        fields = f"case when {joined} <> '' then string_split({joined}, '|') else {split_data} end"
    else:
        fields = split_data
    raw_text = "concat_ws(',', " + ", ".join(f"coalesce({col(name)}, '')" for name in names) + ")"
    return f"""
        select
            scan.line, {raw_text} as raw_text, 'realtime_csv' as source_layout, true as is_complete,
            {col('time')} as time_raw, {col('callid')} as callid_raw, {col('queuename')} as queue_raw,
            {col('agent')} as agent_raw, {col('event')} as event_raw,
            coalesce({fields}, cast([] as varchar[])) as fields
        from scan
    """


# --- parsing and validation -----------------------------------------------------------------------

# Numeric fields a verb has at most (NUMERIC_FIELDS): each event's are picked out into slots 1..NUMERIC_SLOTS.
NUMERIC_SLOTS = max(len(numbers) for numbers in NUMERIC_FIELDS.values())


def _field_sql(position: int | str) -> str:
    return f"nullif(trim(fields[{position}]), '')"


def _verbs_sql() -> str:
    """The known verbs as a relation (one row per verb), joined to each event by its verb.

    ``is_call_verb`` / ``is_member_verb``: CALL_VERBS and MEMBER_VERBS. Slot
    ``n`` is the verb's n-th numeric field (NUMERIC_FIELDS): ``name_n``,
    ``position_n``, ``is_required_n`` and ``unit_n``; ``<typed column>_slot``
    names the slot that fills a typed column (TYPED_COLUMNS) and
    ``<typed column>_divisor`` its scale (1000 for a time logged in
    milliseconds). One hash join on the verb and a few generic rules replace a
    CASE branch per verb and field evaluated on every line.
    """
    columns = ["verb", "is_call_verb", "is_member_verb"]
    for slot in range(1, NUMERIC_SLOTS + 1):
        columns += [f"name_{slot}", f"position_{slot}", f"is_required_{slot}", f"unit_{slot}"]
    for typed in TYPED_COLUMNS:
        columns += [f"{typed}_slot", f"{typed}_divisor"]
    rows = []
    for verb in dict.fromkeys((*CALL_VERBS, *MEMBER_VERBS, *NUMERIC_FIELDS)):
        numbers = NUMERIC_FIELDS.get(verb, ())
        values = [sql_literal(verb), str(verb in CALL_VERBS).lower(), str(verb in MEMBER_VERBS).lower()]
        for slot in range(NUMERIC_SLOTS):
            if slot < len(numbers):
                name, position, required = numbers[slot]
                unit = "milliseconds" if name.endswith("_ms") else "seconds"
                values += [sql_literal(name), str(position), str(required).lower(), sql_literal(unit)]
            else:
                values += ["cast(null as varchar)", "cast(null as integer)", "false", "cast(null as varchar)"]
        for fields in TYPED_COLUMNS.values():
            name = fields.get(verb)
            slot = next((n for n, (field, _, _) in enumerate(numbers, start=1) if field == name), None)
            divisor = 1000.0 if name and name.endswith("_ms") else 1.0
            values += ["cast(null as integer)" if slot is None else str(slot), f"cast({divisor} as double)"]
        rows.append(f"({', '.join(values)})")
    return f"select * from (values {', '.join(rows)}) as verbs({', '.join(columns)})"


def _numeric_rules() -> list[tuple[str, str]]:
    """The rules of each slot's number, in NUMERIC_FIELDS order (an event only has its own verb's slots):
    present when required, a number, not below 0, at most a day (``MAX_DURATION_SECONDS``)."""
    rules = []
    for slot in range(1, NUMERIC_SLOTS + 1):
        raw, value, name = f"raw_{slot}", f"value_{slot}", f"event || ' ' || name_{slot}"
        seconds = f"case unit_{slot} when 'milliseconds' then {value} / 1000 else {value} end"
        rules += [
            (f"is_required_{slot} and {raw} is null", f"{name} || ' is empty'"),
            (
                f"{raw} is not null and ({value} is null or not isfinite({value}))",
                f"{name} || ' is not a number of ' || unit_{slot} || ': ' || {raw}",
            ),
            (f"{value} < 0", f"{name} || ' is below 0: ' || {raw}"),
            (
                f"{seconds} > {MAX_DURATION_SECONDS}",
                f"{name} || ' is above 24 hours ({MAX_DURATION_SECONDS:,} s): ' || {raw}",
            ),
        ]
    return rules


def _typed_sql(column: str) -> str:
    slots = " ".join(f"when {slot} then value_{slot}" for slot in range(1, NUMERIC_SLOTS + 1))
    return f"case {column}_slot {slots} end / {column}_divisor"


def _none_sql(expression: str) -> str:
    """Text with queue_log's ``NONE`` placeholder as null."""
    return f"case when upper({text_sql(expression)}) = 'NONE' then null else {text_sql(expression)} end"


def _parse(ctx: LoadContext, lines_sql: str) -> None:
    """The lines (``lines_sql``) -> the temp table ``parsed_events``: typed columns, raw text and the first rule a
    line breaks; one pass, the split fields are not kept."""
    rules = [
        (
            "not is_complete",
            "'not a queue_log line (expected time|callid|queuename|agent|event|data...)'",
        ),
        ("time_raw is null", "'time is empty'"),
        (
            "event_at is null and source_layout = 'file'",
            "'time is not a Unix epoch (seconds): ' || time_raw",
        ),
        ("event_at is null", "'time is not a timestamp: ' || time_raw"),
        *impossible_time_rules("event_at", "time_raw", ctx.run_date),
        ("event is null", "'event is empty'"),
        ("is_call_verb and callid is null", "event || ' has no callid'"),
        ("is_call_verb and queue_id is null", "event || ' has no queue'"),
        ("is_member_verb and agent is null", "event || ' has no agent'"),
        *_numeric_rules(),
    ]
    slots = range(1, NUMERIC_SLOTS + 1)
    numbers = ", ".join(f"{_field_sql(f'position_{slot}')} as raw_{slot}" for slot in slots)
    values = ", ".join(f"try_cast(raw_{slot} as double) as value_{slot}" for slot in slots)
    time_text = text_sql("time_raw")
    ctx.con.execute(
        f"""
        create or replace temp table parsed_events as
        with lines as (
            {lines_sql}
        ),
        typed as (
            select
                line, raw_text, source_layout, is_complete, fields,
                {time_text} as time_raw,
                case
                    when regexp_full_match({time_text}, '\\d{{9,11}}(\\.\\d+)?') then {epoch_sql('time_raw')}
                    when source_layout = 'realtime_csv' then {timestamp_sql('time_raw')}
                end as event_at,
                {_none_sql('callid_raw')} as callid,
                {_none_sql('queue_raw')} as queue_id,
                {_none_sql('agent_raw')} as agent,
                upper({text_sql('event_raw')}) as event,
                {_field_sql(1)} as data1,
                {_field_sql(2)} as data2,
                {_field_sql(3)} as data3,
                {_field_sql(4)} as data4,
                nullif(trim(array_to_string(fields[5:], '|')), '') as data5,
                nullif(array_to_string(fields, '|'), '') as data
            from lines
        ),
        verbs as (
            {_verbs_sql()}
        ),
        numbered as (
            select typed.*, verbs.*, {numbers}
            from typed
            left join verbs on typed.event = verbs.verb
        ),
        valued as (
            select *, {values}
            from numbered
        )
        select
            line, source_layout, event_at, callid, queue_id, agent, event, data1, data2, data3, data4, data5, data,
            {_typed_sql('wait_seconds')} as wait_seconds,
            {_typed_sql('talk_seconds')} as talk_seconds,
            {_typed_sql('ring_seconds')} as ring_seconds,
            reject_reason,
            case when reject_reason is not null then raw_text end as raw_text  -- what a reject quotes
        from (
            select *, {first_failing_rule_sql(rules)} as reject_reason
            from valued
        )
        """,
        ctx.params("timezone"),
    )


def load(ctx: LoadContext) -> FileLoad:
    """Load one queue_log file into raw.queue_log_events, raw.agent_state_events and raw.rejects."""
    with ctx.source.open("rb") as handle:
        first_line = handle.readline(1 << 16).decode("utf-8", errors="replace").lstrip("\ufeff")
    lines_sql = _realtime_lines_sql(ctx) if _is_realtime_header(first_line) else _file_lines_sql(ctx)
    _parse(ctx, lines_sql)
    con = ctx.con
    con.execute("create or replace temp view accepted_events as from parsed_events where reject_reason is null")
    loaded = con.execute(
        f"""
        insert into raw.queue_log_events by name
        select
            $file_id as file_id, $tenant_id as tenant_id, $delivery_date::date as delivery_date,
            line as source_line, source_layout,
            callid, queue_id, agent, event, data1, data2, data3, data4, data5, data,
            {CALLER_ID_HASH_SQL} as caller_id_hash,
            wait_seconds, talk_seconds, ring_seconds, event_at,
            now()::timestamp as loaded_at
        from accepted_events
        """,
        ctx.params("file_id", "tenant_id", "delivery_date", "hmac_ipad", "hmac_opad"),
    ).fetchone()[0]
    con.execute(
        f"""
        insert into raw.agent_state_events by name
        select
            $file_id as file_id, $tenant_id as tenant_id, $delivery_date::date as delivery_date,
            line as source_line, '{FORMAT}' as source_format,
            agent as agent_id, queue_id, state, reason, event_at, now()::timestamp as loaded_at
        from ({AGENT_STATE_SQL})
        order by line, step
        """,
        ctx.params("file_id", "tenant_id", "delivery_date"),
    )
    rejected = ctx.reject("parsed_events", where="reject_reason is not null")
    rejected += ctx.reject(
        "scan_rejects", line="line", reason="error_type || ': ' || error_message", raw_text="csv_line"
    )
    return FileLoad(rows_loaded=loaded, rows_rejected=rejected)
