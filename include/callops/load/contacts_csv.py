"""The callops contact CSV: one row per contact per queue stint (README "The contact CSV").

Read with DuckDB's own CSV reader, never row by row in Python. Every value is
read as text first, then validated in SQL: rows that break a rule go to
``raw.rejects`` with their line number, raw text and the rule; structurally
broken lines (wrong column count, bad quoting, bad encoding) are caught by the
reader's ``store_rejects`` and quarantined the same way. Timestamps become UTC
here: a value with an offset (``+08:00``, ``Z``) is taken as is, a value
without one is the tenant's local wall-clock time.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from callops import pseudonym
from callops.warehouse import sql_literal

FORMAT = "callops_contact_csv"

REQUIRED_COLUMNS = ("contact_id", "queue_id", "entered_at", "outcome")
OPTIONAL_COLUMNS = (
    "direction",
    "answered_at",
    "ended_at",
    "wait_seconds",
    "talk_seconds",
    "hold_seconds",
    "after_call_work_seconds",
    "agent_id",
    "caller_number",
)
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
TIMESTAMP_COLUMNS = ("entered_at", "answered_at", "ended_at")
DURATION_COLUMNS = ("wait_seconds", "talk_seconds", "hold_seconds", "after_call_work_seconds")
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

# Wall-clock formats accepted besides ISO 8601 (year first, so never ambiguous).
SLASH_DATE_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M:%S.%f", "%Y/%m/%d %H:%M")

# A trailing UTC offset after a time of day: Z, +08, +0800, +08:00.
OFFSET_PATTERN = r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([zZ]|[+-]\d{2}(:?\d{2})?)$"


class LoadError(ValueError):
    """The whole file cannot be loaded; the message names the file and the rule."""


@dataclass
class FileLoad:
    rows_loaded: int = 0
    rows_rejected: int = 0
    extra_columns: list[str] = field(default_factory=list)


DELIMITERS = (",", ";", "\t", "|")


def sniff_delimiter(header_line: str) -> str:
    """The delimiter of a header line: the candidate that occurs most (comma on a tie)."""
    return max(DELIMITERS, key=lambda d: (header_line.count(d), d == ","))


def read_header(path: Path) -> list[str]:
    """Column names of the first line (lower-cased, trimmed, BOM dropped)."""
    return _header(path)[0]


def _header(path: Path) -> tuple[list[str], str]:
    with path.open("rb") as handle:
        first = handle.readline(1 << 16)
    if not first.strip():
        raise LoadError(f"{path}: empty file or empty header line")
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError:
        raise LoadError(f"{path}: header line is not UTF-8 text") from None
    text = text.lstrip(codecs.BOM_UTF8.decode()).rstrip("\r\n")
    delimiter = sniff_delimiter(text)
    return [name.strip().lower() for name in next(csv.reader(io.StringIO(text), delimiter=delimiter))], delimiter


def detect(path: Path) -> bool:
    """True when the file's header carries the contact CSV's required columns."""
    try:
        header = read_header(path)
    except (LoadError, OSError):
        return False
    return set(REQUIRED_COLUMNS) <= set(header)


def _quote_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(sql_literal(v) for v in values) + "]"


def _timestamp_sql(column: str) -> str:
    """UTC timestamp from text: honour an explicit offset, else the tenant's zone."""
    raw = f"nullif(trim({column}), '')"
    return f"""case
        when {raw} is null then null
        when regexp_matches({raw}, '{OFFSET_PATTERN}')
            then timezone('UTC', try_cast({raw} as timestamptz))
        else timezone('UTC', timezone($timezone, coalesce(
            try_cast({raw} as timestamp), try_strptime({raw}, {_quote_list(SLASH_DATE_FORMATS)})
        )))
    end"""


def _duration_sql(column: str) -> str:
    """Seconds from a number (``90``, ``90.5``) or a clock duration (``0:01:30``, h:mm:ss)."""
    raw = f"trim({column})"
    return f"""case
        when regexp_full_match({raw}, '\\d+:[0-5]\\d:[0-5]\\d(\\.\\d+)?')
            then epoch(try_cast({raw} as interval))
        else try_cast(nullif({raw}, '') as double)
    end"""


def _rules_sql() -> str:
    """The row rules, first failing one wins; each names the column and the value."""
    rules = [
        ("contact_id is null", "'contact_id is empty'"),
        ("entered_at_raw is null", "'entered_at is empty'"),
        ("entered_at is null", "'entered_at is not a timestamp: ' || entered_at_raw"),
        (
            f"outcome not in ({', '.join(map(sql_literal, OUTCOMES))}) or outcome is null",
            f"'outcome ''' || coalesce(outcome_raw, '') || ''' is not one of {', '.join(OUTCOMES)}'",
        ),
        (
            f"direction not in ({', '.join(map(sql_literal, DIRECTIONS))})",
            "'direction ''' || direction || ''' is not inbound or outbound'",
        ),
        (
            "queue_id is null and outcome <> 'ivr_contained' and direction = 'inbound'",
            "'queue_id is empty (only ivr_contained contacts have no queue)'",
        ),
    ]
    for column in TIMESTAMP_COLUMNS[1:]:
        rules.append(
            (f"{column}_raw is not null and {column} is null", f"'{column} is not a timestamp: ' || {column}_raw")
        )
    for column in DURATION_COLUMNS:
        rules.append(
            (
                f"{column}_raw is not null and ({column} is null or {column} < 0 or not isfinite({column}))",
                f"'{column} is not a number of seconds >= 0: ' || {column}_raw",
            )
        )
    rules += [
        ("answered_at < entered_at", "'answered_at is before entered_at'"),
        ("ended_at < entered_at", "'ended_at is before entered_at'"),
        (
            "outcome = 'answered' and answered_at is null and wait_seconds is null",
            "'an answered contact needs answered_at or wait_seconds'",
        ),
        ("year(entered_at) < 1990", "'entered_at is impossibly early: ' || entered_at_raw"),
        (
            "entered_at > now()::timestamp + interval 1 day",
            "'entered_at is in the future: ' || entered_at_raw",
        ),
    ]
    return "case\n" + "\n".join(f"        when {cond} then {reason}" for cond, reason in rules) + "\n    end"


def load(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    file_id: str,
    tenant_id: str,
    timezone: str,
    delivery_date: str,
    feed: str,
    run_id: str,
    pads: dict[str, str],
) -> FileLoad:
    """Load one contact CSV into raw.telephony_contacts / raw.rejects (caller owns the transaction)."""
    header, delimiter = _header(path)
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise LoadError(
            f"{path}: missing required column(s) {', '.join(missing)} "
            f"(header has: {', '.join(header)})"
        )
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise LoadError(f"{path}: column(s) {', '.join(duplicated)} appear more than once in the header")
    result = FileLoad(extra_columns=[name for name in header if name not in COLUMNS])

    column_types = "{" + ", ".join(f"{sql_literal(name or f'column{i}')}: 'VARCHAR'" for i, name in enumerate(header)) + "}"
    con.execute("drop table if exists scan_rejects; drop table if exists scan_reject_scans")
    con.execute(
        f"""
        create or replace temp table scan as
        select row_number() over () as row_index, *
        from read_csv(
            {sql_literal(str(path))},
            columns = {column_types},
            header = true,
            auto_detect = false,
            delim = {sql_literal(delimiter)},
            quote = '"',
            escape = '"',
            strict_mode = true,
            store_rejects = true,
            rejects_table = 'scan_rejects',
            rejects_scan = 'scan_reject_scans'
        )
        """
    )
    # Lines spanned by structurally rejected records (an unterminated quote spans many).
    con.execute(
        """
        create or replace temp table rejected_lines as
        select distinct line + span.offset as line
        from scan_rejects,
            lateral (
                select unnest(range(0, length(rtrim(csv_line, chr(10))) - length(replace(rtrim(csv_line, chr(10)), chr(10), '')) + 1)) as offset
            ) as span
        """
    )
    # Physical line of each accepted record: the lines left once rejected ones are removed.
    con.execute(
        """
        create or replace temp table line_map as
        with candidate as (
            select line
            from range(2, 2 + (select count(*) from scan) + (select count(*) from rejected_lines)) as r(line)
            where line not in (select line from rejected_lines)
        )
        select line, row_number() over (order by line) as row_index from candidate
        """
    )

    present = set(header)

    def text(name: str) -> str:
        if name not in present:
            return "cast(null as varchar)"
        return 'scan."' + name.replace('"', '""') + '"'

    selected = ",\n            ".join(f"{text(name)} as {name}" for name in COLUMNS)
    raw_text = " || ',' || ".join(f"coalesce({text(name)}, '')" for name in header)
    parsed_columns = ",\n            ".join(
        [f"{_timestamp_sql(name)} as {name}" for name in TIMESTAMP_COLUMNS]
        + [f"{_duration_sql(name)} as {name}" for name in DURATION_COLUMNS]
        + [f"nullif(trim({name}), '') as {name}_raw" for name in TIMESTAMP_COLUMNS + DURATION_COLUMNS]
    )
    con.execute(
        f"""
        create or replace temp table validated as
        with source as (
            select scan.row_index, line_map.line, {raw_text} as raw_text,
            {selected}
            from scan
            left join line_map using (row_index)
        ),
        parsed as (
            select
                row_index, line, raw_text,
                nullif(trim(contact_id), '') as contact_id,
                nullif(trim(queue_id), '') as queue_id,
                lower(coalesce(nullif(trim(direction), ''), 'inbound')) as direction,
                lower(nullif(trim(outcome), '')) as outcome,
                nullif(trim(outcome), '') as outcome_raw,
                nullif(trim(agent_id), '') as agent_id,
                nullif(trim(caller_number), '') as caller_number,
                {parsed_columns}
            from source
        )
        select *, {_rules_sql()} as reject_reason
        from parsed
        """,
        {"timezone": timezone},
    )
    params = {
        "file_id": file_id,
        "tenant_id": tenant_id,
        "delivery_date": delivery_date,
        "feed": feed,
        "file_name": path.name,
        "run_id": run_id,
    }
    con.execute(
        f"""
        insert into raw.telephony_contacts
        select
            $file_id, $tenant_id, $delivery_date::date, line,
            contact_id, queue_id, direction, outcome, agent_id, caller_number,
            {pseudonym.hmac_sql(pseudonym.phone_sql('caller_number'))},
            wait_seconds, talk_seconds, hold_seconds, after_call_work_seconds,
            entered_at, answered_at, ended_at, now()::timestamp
        from validated
        where reject_reason is null
        """,
        {**{k: params[k] for k in ("file_id", "tenant_id", "delivery_date")}, **pads},
    )
    con.execute(
        """
        insert into raw.rejects
        select $file_id, $feed, $tenant_id, $delivery_date::date, $file_name, line, reject_reason, raw_text, $run_id
        from validated
        where reject_reason is not null
        union all
        select $file_id, $feed, $tenant_id, $delivery_date::date, $file_name, line,
            error_type || ': ' || error_message, csv_line, $run_id
        from scan_rejects
        """,
        params,
    )
    result.rows_loaded = con.execute("select count(*) from validated where reject_reason is null").fetchone()[0]
    result.rows_rejected = con.execute(
        "select (select count(*) from validated where reject_reason is not null) + (select count(*) from scan_rejects)"
    ).fetchone()[0]
    return result
