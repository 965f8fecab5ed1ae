"""The one engine that loads documented CSV contracts.

A :class:`~callops.contracts.csv.Contract` names a file's columns, their kinds and rules; the engine
reads the file with DuckDB's CSV reader (every value as text, delimiter
sniffed from the header), parses and checks each value in SQL, sends rows
that break a rule to ``raw.rejects`` (file, line, raw text, rule) and the rest
to the contract's raw table. Structurally broken lines (wrong column count,
bad quoting, invalid UTF-8) are caught by the reader's ``store_rejects`` and
quarantined the same way. Columns the contract does not know are kept in the
row's ``extra`` JSON and reported; a missing required column fails the file.

Personal data (``phone`` and ``personal`` columns) is stored only as a keyed
HMAC (``<name>_hash``); the clear text never leaves the delivered file except
in the quarantine's raw text, which stays in the private build warehouse.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from dataclasses import dataclass
from pathlib import Path

from callops import pseudonym
from callops.contracts.csv import Column, Contract
from callops.load.base import (
    DETECT_BYTES,
    FileLoad,
    Head,
    LineRule,
    LoadContext,
    LoadError,
    boolean_sql,
    date_sql,
    duration_rule,
    duration_sql,
    first_failing_rule_sql,
    impossible_time_rules,
    map_record_lines,
    read_physical_lines,
    text_sql,
    timestamp_sql,
    wide_header_rule,
)
from callops.warehouse import sql_literal

DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class ContractAdapter:
    """A CSV contract (callops.contracts) as the registry's adapter: detected by its header, loaded by
    the engine below into the contract's raw table."""

    contract: Contract

    @property
    def FORMAT(self) -> str:  # noqa: N802 - the adapter protocol's name
        return self.contract.format

    @property
    def DESCRIPTION(self) -> str:  # noqa: N802
        return f"{self.contract.description} (a CSV with the columns {', '.join(self.contract.required_columns)})"

    @property
    def RAW_TABLES(self) -> tuple[str, ...]:  # noqa: N802
        return (self.contract.raw_table,)

    def detect(self, head: Head) -> int:
        """Match strength: the number of known columns in the header, 0 unless all required ones are there."""
        try:
            header = parse_header(head.first_line)[0]
        except LoadError:
            return 0
        if not set(self.contract.required_columns) <= set(header):
            return 0
        return sum(1 for name in header if name in self.contract.names)

    def line_rule(self, head: Head) -> LineRule:
        """How a line parses as this contract: the header (line 1) has its required columns, and a data
        line has the header's number of fields. (Among contracts, the header decides: ``registry``.)"""
        try:
            header, delimiter = parse_header(head.first_line)
        except LoadError as error:
            broken = str(error)  # `error` itself is gone once the except block ends
            return lambda number, line: broken
        missing = [name for name in self.contract.required_columns if name not in header]
        if missing:
            return lambda number, line: f"the header lacks {', '.join(missing)}"

        def rule(number: int, line: str) -> str | None:
            if number == 1:
                return None
            fields = parse_row(line, delimiter)
            return None if len(fields) == len(header) else f"has {len(fields)} field(s), the header has {len(header)}"

        return rule

    def near_miss(self, head: Head) -> tuple[int, str] | None:
        """For a header that shares columns with this contract but lacks required ones: (overlap, what is missing)."""
        try:
            header = parse_header(head.first_line)[0]
        except LoadError:
            return None
        missing = [name for name in self.contract.required_columns if name not in header]
        overlap = sum(1 for name in header if name in self.contract.names)
        if not missing or overlap < 2:
            return None
        return overlap, (
            f"missing required column(s) {', '.join(missing)} for {self.contract.format} "
            f"(header has: {', '.join(header)})"
        )

    def load(self, ctx: LoadContext) -> FileLoad:
        contract = self.contract
        result = validate(ctx, contract)
        stored = ", ".join(c.stored_name for c in contract.columns)
        ctx.con.execute(
            f"""
            insert into {contract.raw_table}
                (file_id, tenant_id, delivery_date, source_line, {stored}, extra, loaded_at)
            select $file_id, $tenant_id, $delivery_date::date, line, {stored_values(contract)}, extra,
                now()::timestamp
            from validated
            where reject_reason is null
            """,
            ctx.params("file_id", "tenant_id", "delivery_date", *pad_names(contract)),
        )
        return finish(ctx, result)


def adapters(contracts: tuple[Contract, ...]) -> tuple[ContractAdapter, ...]:
    """A feed module's ``ADAPTERS``: one per contract, in the contracts' order."""
    return tuple(ContractAdapter(contract) for contract in contracts)


def pad_names(contract: Contract) -> tuple[str, ...]:
    return ("hmac_ipad", "hmac_opad") if contract.has_personal_data else ()


def stored_values(contract: Contract) -> str:
    """The SELECT list that turns ``validated`` columns into stored ones (hashing personal data)."""
    values = []
    for column in contract.columns:
        if column.kind == "phone":
            values.append(pseudonym.hmac_sql(pseudonym.phone_sql(column.name)))
        elif column.kind == "personal":
            values.append(pseudonym.hmac_sql(f"lower({column.name})"))
        else:
            values.append(column.name)
    return ", ".join(values)


# --- the engine -----------------------------------------------------------------------------------


def sniff_delimiter(header_line: str) -> str:
    """The delimiter of a header line: the candidate that occurs most (comma on a tie)."""
    return max(DELIMITERS, key=lambda d: (header_line.count(d), d == ","))


def parse_header(line: str) -> tuple[list[str], str]:
    """Column names of a header line (lower-cased, trimmed, spaces as ``_``) and its delimiter."""
    text = line.lstrip("\ufeff").rstrip("\r\n")
    if not text.strip():
        raise LoadError("empty file or empty header line")
    delimiter = sniff_delimiter(text)
    names = next(csv.reader(io.StringIO(text), delimiter=delimiter))
    return ["_".join(name.strip().lower().split()) for name in names], delimiter


def parse_row(line: str, delimiter: str) -> list[str]:
    """The fields of one CSV line (quoted as the readers quote: ``"``, doubled to escape)."""
    try:
        return next(csv.reader(io.StringIO(line), delimiter=delimiter), [])
    except csv.Error:
        return [line]


def read_header(path: Path) -> tuple[list[str], str]:
    """The header of a delimited file (its first line, within its first MiB); more than ``MAX_COLUMNS``
    columns fail the file."""
    with path.open("rb") as handle:
        first = handle.readline(DETECT_BYTES + 1)
    cut = len(first) > DETECT_BYTES
    try:
        header, delimiter = parse_header(first[:DETECT_BYTES].decode("utf-8", errors="ignore" if cut else "strict"))
    except UnicodeDecodeError:
        raise LoadError("the header line is not readable text") from None
    if too_wide := wide_header_rule(header[:-1] if cut else header, cut):
        raise LoadError(too_wide)
    if cut:
        raise LoadError(f"the header line is longer than {DETECT_BYTES >> 20} MiB")
    return header, delimiter


def _parsed_sql(column: Column) -> str:
    name = column.name
    if column.kind in ("text", "phone", "personal"):
        return text_sql(name)
    if column.kind == "enum":
        default = sql_literal(column.default) if column.default is not None else "null"
        return f"coalesce(lower({text_sql(name)}), {default})"
    if column.kind == "integer":
        return f"try_cast({text_sql(name)} as bigint)"
    if column.kind == "number":
        return f"try_cast({text_sql(name)} as double)"
    if column.kind == "seconds":
        return duration_sql(name)
    if column.kind == "timestamp":
        return timestamp_sql(name)
    if column.kind == "date":
        return date_sql(name)
    if column.kind == "boolean":
        return boolean_sql(name)
    if column.kind == "list":
        items = f"regexp_split_to_array({text_sql(name)}, '[;|]')"
        return f"list_filter(list_transform({items}, lambda x: trim(x)), lambda x: x <> '')"
    raise AssertionError(column.kind)


def _column_rules(column: Column, run_date: dt.date) -> list[tuple[str, str]]:
    name, raw = column.name, f"{column.name}_raw"
    rules: list[tuple[str, str]] = []
    if column.not_null:
        rules.append((f"{raw} is null", f"'{name} is empty'"))
    if column.kind == "enum":
        allowed = ", ".join(map(sql_literal, column.values))
        rules.append(
            (
                f"{name} is not null and {name} not in ({allowed})",
                f"'{name} ''' || {raw} || ''' is not one of {', '.join(column.values)}'",
            )
        )
    elif column.kind in ("integer", "number", "seconds"):
        noun = {"integer": "a whole number", "number": "a number", "seconds": "a number of seconds"}[column.kind]
        rules.append(
            (f"{raw} is not null and ({name} is null or not isfinite({name}))", f"'{name} is not {noun}: ' || {raw}")
        )
        if column.minimum is not None:
            rules.append((f"{name} < {column.minimum}", f"'{name} is below {column.minimum:g}: ' || {raw}"))
        if column.kind == "seconds" and column.maximum is None:
            rules.append(duration_rule(name, raw, name))
        elif column.maximum is not None and math.isfinite(column.maximum):
            rules.append((f"{name} > {column.maximum}", f"'{name} is above {column.maximum:g}: ' || {raw}"))
    elif column.kind in ("timestamp", "date", "boolean"):
        noun = {"timestamp": "a timestamp", "date": "a date (YYYY-MM-DD)", "boolean": "true or false"}[column.kind]
        rules.append((f"{raw} is not null and {name} is null", f"'{name} is not {noun}: ' || {raw}"))
        if column.kind == "timestamp":
            rules += impossible_time_rules(name, raw, run_date)
        if column.kind == "date":
            rules.append((f"year({name}) < 1900 or year({name}) > 2200", f"'{name} is an impossible date: ' || {raw}"))
    return rules


def validate(ctx: LoadContext, contract: Contract) -> FileLoad:
    """Read ``ctx.source`` into the temp table ``validated``: parsed columns, line, raw text, reject_reason.

    Also copies the reader's structural rejects to ``raw.rejects``. The caller
    inserts the accepted rows, then calls :func:`finish`.
    """
    con = ctx.con
    try:
        header, delimiter = read_header(ctx.source)
    except LoadError as error:
        raise ctx.fail(str(error)) from None
    missing = [name for name in contract.required_columns if name not in header]
    if missing:
        raise ctx.fail(
            f"missing required column(s) {', '.join(missing)} for {contract.format} (header has: {', '.join(header)})"
        )
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise ctx.fail(f"column(s) {', '.join(duplicated)} appear more than once in the header")
    blank = [str(i + 1) for i, name in enumerate(header) if not name]
    if blank:
        raise ctx.fail(f"header column(s) {', '.join(blank)} have no name")
    result = FileLoad(extra_columns=[name for name in header if name not in contract.names])

    column_types = "{" + ", ".join(f"{sql_literal(name)}: 'VARCHAR'" for name in header) + "}"
    con.execute("drop table if exists scan_rejects; drop table if exists scan_reject_scans")
    con.execute(
        f"""
        create or replace temp table scan as
        select row_number() over () as row_index, *
        from read_csv(
            {ctx.source_sql},
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
                select unnest(range(0, length(rtrim(csv_line, chr(10)))
                    - length(replace(rtrim(csv_line, chr(10)), chr(10), '')) + 1)) as offset
            ) as span
        """
    )
    read_physical_lines(ctx)
    map_record_lines(ctx, "line_map", first_line=2, broken="rejected_lines")

    present = set(header)

    def quoted(name: str) -> str:
        return 'scan."' + name.replace('"', '""') + '"'

    selected = ",\n            ".join(
        f"{quoted(c.name) if c.name in present else 'cast(null as varchar)'} as {c.name}" for c in contract.columns
    )
    rebuilt = "concat_ws(',', " + ", ".join(f"coalesce({quoted(name)}, '')" for name in header) + ")"
    raw_text = f"coalesce(line_map.text, {rebuilt})"
    extras = result.extra_columns
    extra_sql = (
        "json_object(" + ", ".join(f"{sql_literal(n)}, {quoted(n)}" for n in extras) + ")"
        if extras
        else "cast(null as json)"
    )
    parsed = ",\n                ".join(
        [f"{_parsed_sql(c)} as {c.name}" for c in contract.columns]
        + [f"{text_sql(c.name)} as {c.name}_raw" for c in contract.columns]
    )
    rules = [rule for column in contract.columns for rule in _column_rules(column, ctx.run_date)] + list(contract.rules)
    sql = f"""
        create or replace temp table validated as
        with source as (
            select scan.row_index, line_map.line, {raw_text} as raw_text, {extra_sql} as extra,
            {selected}
            from scan
            left join line_map using (row_index)
        ),
        parsed as (
            select row_index, line, raw_text, extra,
                {parsed}
            from source
        )
        select *, {first_failing_rule_sql(rules)} as reject_reason
        from parsed
        """
    # DuckDB rejects unused parameters: a contract without timestamps has no $timezone.
    con.execute(sql, ctx.params(*(name for name in ("timezone", "delivery_date") if f"${name}" in sql)))
    return result


def finish(ctx: LoadContext, result: FileLoad) -> FileLoad:
    """Quarantine the rule and structural rejects of ``validated``; count what loaded."""
    rejected = ctx.reject("validated", where="reject_reason is not null")
    # The reader reports one error per bad field; the quarantine keeps one row per line.
    rejected += ctx.reject(
        "(select * from scan_rejects qualify row_number() over (partition by line order by column_idx) = 1)",
        line="line",
        reason="error_type || ': ' || error_message",
        raw_text="csv_line",
    )
    result.rows_loaded = ctx.con.execute("select count(*) from validated where reject_reason is null").fetchone()[0]
    result.rows_rejected = rejected
    return result
