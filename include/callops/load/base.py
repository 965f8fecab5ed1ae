"""What every feed adapter shares: the load context, text encodings, SQL parsing snippets, rejects.

An *adapter* is a module (or object) with:

- ``FORMAT``: the name recorded in ``raw.manifest.file_format``;
- ``DESCRIPTION``: how a user recognises the format (used in "unknown format" errors);
- ``RAW_TABLES``: the raw tables it writes (rows keyed by ``file_id``, so a re-delivery replaces them);
- ``RAW_DDL``: ``create table if not exists`` statements for those tables;
- ``detect(head) -> bool``: whether a file is in this format, from its name and first bytes;
- ``load(ctx) -> FileLoad``: load one file (the caller owns the transaction).

Adapters read files with DuckDB's readers; Python only looks at the first
bytes (detection) and, for a GBK/GB18030 file, transcodes it to UTF-8 in
1 MiB blocks, never row by row.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import gzip
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from callops import settings
from callops.config import Tenant
from callops.landing import open_delivery
from callops.warehouse import sql_literal

HEAD_BYTES = 1 << 16
BLOCK_BYTES = 1 << 20


class LoadError(ValueError):
    """The whole file cannot be loaded; the message names the file and the rule."""


@dataclass
class FileLoad:
    """What an adapter did with one file's records: each record is loaded, rejected, superseded or skipped.

    ``rows_superseded``: records another record of the same contact in the same
    file replaces (an earlier version, a fork merged into its stint);
    ``rows_skipped``: records read but deliberately not loaded (not modelled,
    e.g. chats); the adapter names why in ``notes``. Header and blank lines are
    not records.
    """

    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_superseded: int = 0
    rows_skipped: int = 0
    extra_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- compression and text encodings ---------------------------------------------------------------

GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: Path) -> bool:
    """Rotated logs are often gzipped (``queue_log.1.gz``); told by the magic bytes, not the name."""
    with open_delivery(path) as handle:
        return handle.read(2) == GZIP_MAGIC


def open_bytes(path: Path):
    """The file's bytes, decompressed when it is gzip (opened without following a link)."""
    handle = open_delivery(path)
    packed = handle.read(2) == GZIP_MAGIC
    handle.seek(0)
    if not packed:
        return handle
    unpacked = gzip.GzipFile(fileobj=handle, mode="rb")
    unpacked.myfileobj = handle  # closed with it, as gzip.open(name) does with the file it opened
    return unpacked



def detect_encoding(path: Path) -> str:
    """``utf-8`` or ``gb18030`` (a superset of GBK and GB2312), read in blocks.

    A file that is valid UTF-8 is UTF-8. A file that is not, but decodes as
    GB18030 from end to end and held no UTF-8 multi-byte text before its
    first invalid byte, is GB18030 (Chinese Windows exports). Anything else is
    treated as UTF-8 with some bad lines, which the readers quarantine.
    """
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    seen_multibyte = False
    with open_bytes(path) as handle:
        for block in iter(lambda: handle.read(BLOCK_BYTES), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as error:
                seen_multibyte = seen_multibyte or any(b >= 0x80 for b in block[: error.start])
                break
            seen_multibyte = seen_multibyte or not block.isascii()
        else:
            try:
                decoder.decode(b"", final=True)
                return "utf-8"
            except UnicodeDecodeError:
                pass
    if seen_multibyte:
        return "utf-8"
    decoder = codecs.getincrementaldecoder("gb18030")("strict")
    try:
        with open_bytes(path) as handle:
            for block in iter(lambda: handle.read(BLOCK_BYTES), b""):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "utf-8"
    return "gb18030"


@contextlib.contextmanager
def utf8_source(path: Path, encoding: str) -> Iterator[Path]:
    """A plain UTF-8 path with the file's text: the file itself, or a decompressed / transcoded temporary copy."""
    if encoding == "utf-8" and not is_gzip(path):
        yield path
        return
    tmp_dir = settings.home() / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix="transcoded-", suffix=".txt", dir=tmp_dir)
    try:
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        with open_bytes(path) as source, os.fdopen(descriptor, "wb") as target:
            for block in iter(lambda: source.read(BLOCK_BYTES), b""):
                target.write(decoder.decode(block).encode("utf-8"))
            target.write(decoder.decode(b"", final=True).encode("utf-8"))
        yield Path(name)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


@dataclass(frozen=True)
class Head:
    """A file's name and first bytes, decoded: what format detection looks at."""

    name: str
    text: str
    encoding: str

    @property
    def lines(self) -> list[str]:
        """Complete first lines (the last, possibly cut, line dropped when the head is full)."""
        lines = self.text.splitlines()
        if len(self.text.encode("utf-8", "replace")) >= HEAD_BYTES - 4 and len(lines) > 1:
            lines = lines[:-1]
        return lines

    @property
    def first_line(self) -> str:
        lines = self.lines
        return lines[0] if lines else ""


BINARY_SIGNATURES = {
    b"PK\x03\x04": "a zip archive or Excel workbook (.xlsx): export it as CSV",
    b"\xd0\xcf\x11\xe0": "an old Excel/Office document (.xls): export it as CSV",
    b"%PDF": "a PDF document",
    b"PAR1": "a Parquet file, which callops does not read as a delivery",
}


def binary_problem(path: Path) -> str | None:
    """Why a delivered file is not text (None when it looks like text)."""
    with open_bytes(path) as handle:
        head = handle.read(HEAD_BYTES)
    for signature, what in BINARY_SIGNATURES.items():
        if head.startswith(signature):
            return f"the file is {what}"
    if b"\x00" in head:
        return "the file is binary (it holds NUL bytes), not a text export"
    return None


class EmptyFile:
    """The adapter of a delivery with no content (a log rotated in a quiet hour): nothing to load, nothing lost."""

    FORMAT = "empty"
    DESCRIPTION = "a file with no content"
    RAW_TABLES: tuple[str, ...] = ()
    RAW_DDL = ""

    @staticmethod
    def detect(head: Head) -> int:
        return 1 if not head.text.strip() else 0

    @staticmethod
    def load(ctx: "LoadContext") -> FileLoad:
        return FileLoad(notes=["empty file: nothing to load"])


def read_head(path: Path, encoding: str) -> Head:
    with open_bytes(path) as handle:
        raw = handle.read(HEAD_BYTES)
    text = raw.decode(encoding, errors="replace").lstrip("\ufeff")
    return Head(path.name, text, encoding)


# --- the load context -----------------------------------------------------------------------------


@dataclass
class LoadContext:
    """One delivered file being loaded, and where its rows go."""

    con: duckdb.DuckDBPyConnection
    path: Path  # the delivered file
    source: Path  # a UTF-8 copy of its text (the file itself when it already is)
    display: str  # landing/<feed>/<tenant>/<day>/<name>: how messages name the file
    file_id: str
    tenant: Tenant
    delivery_date: dt.date
    feed: str
    run_id: str
    pads: dict[str, str]
    encoding: str = "utf-8"

    @property
    def source_sql(self) -> str:
        return sql_literal(str(self.source))

    def params(self, *names: str) -> dict[str, object]:
        """Named parameters for the SQL of an adapter (a subset, as DuckDB rejects unused ones)."""
        every = {
            "file_id": self.file_id,
            "tenant_id": self.tenant.id,
            "delivery_date": self.delivery_date,
            "feed": self.feed,
            "file_name": self.path.name,
            "run_id": self.run_id,
            "timezone": self.tenant.timezone,
            **self.pads,
        }
        return {name: every[name] for name in names}

    def fail(self, rule: str) -> LoadError:
        return LoadError(f"{self.display}: {rule}")

    def reject(self, relation: str, line: str = "line", reason: str = "reject_reason", raw_text: str = "raw_text",
               where: str = "true") -> int:
        """Copy rows of ``relation`` to ``raw.rejects``; returns how many (the insert's own count)."""
        return self.con.execute(
            f"""
            insert into raw.rejects
            select $file_id, $feed, $tenant_id, $delivery_date::date, $file_name,
                {line}, {reason}, {raw_text}, $run_id
            from {relation}
            where {where}
            """,
            self.params("file_id", "feed", "tenant_id", "delivery_date", "file_name", "run_id"),
        ).fetchone()[0]


# --- physical lines -------------------------------------------------------------------------------


def read_physical_lines(ctx: "LoadContext") -> None:
    """Temp table ``physical_lines(line, text)``: every line of the file, numbered from 1, blank ones null.

    DuckDB's CSV reader skips blank lines, so record numbers are not line
    numbers; this one-column read (no delimiter, no quoting) is what accepted
    rows and quarantined ones are numbered and quoted by. Lines that are not
    valid UTF-8 keep their number with a null text.
    """
    con = ctx.con
    con.execute("drop table if exists physical_line_rejects; drop table if exists physical_line_reject_scans")
    con.execute(
        f"""
        create or replace temp table physical_read as
        select row_number() over () as row_index, text
        from read_csv({ctx.source_sql}, columns = {{'text': 'VARCHAR'}}, header = false, auto_detect = false,
            delim = chr(31), quote = '', escape = '', strict_mode = false, store_rejects = true,
            rejects_table = 'physical_line_rejects', rejects_scan = 'physical_line_reject_scans')
        """
    )
    con.execute(
        """
        create or replace temp table physical_lines as
        with numbered as (
            select line, row_number() over (order by line) as row_index
            from range(1, 1 + (select count(*) from physical_read)
                + (select count(distinct line) from physical_line_rejects)) as r(line)
            where line not in (select line from physical_line_rejects)
        )
        select numbered.line, rtrim(physical_read.text, chr(13)) as text
        from numbered
        inner join physical_read using (row_index)
        union all
        select distinct line, cast(null as varchar) from physical_line_rejects
        """
    )


def map_record_lines(ctx: "LoadContext", name: str, first_line: int, broken: str) -> None:
    """Temp table ``name(line, text, row_index)``: the physical line of each record the reader accepted.

    The records are the non-blank lines from ``first_line`` on, less the lines
    of structurally broken records (``broken``: a relation with a ``line``
    column), in order; assumes one record per line (a quoted field spanning
    lines shifts the numbers after it).
    """
    ctx.con.execute(
        f"""
        create or replace temp table {name} as
        select line, text, row_number() over (order by line) as row_index
        from physical_lines
        where coalesce(text, '') <> ''
            and line >= {int(first_line)}
            and line not in (select line from {broken})
        """
    )


# --- SQL parsing snippets (values arrive as text) -------------------------------------------------

# Wall-clock formats accepted besides ISO 8601 (year first, so never ambiguous).
SLASH_DATE_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M:%S.%f", "%Y/%m/%d %H:%M")
DATE_FORMATS = ("%Y/%m/%d", "%Y%m%d", "%Y.%m.%d")

# A trailing UTC offset after a time of day: Z, +08, +0800, +08:00.
OFFSET_PATTERN = r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([zZ]|[+-]\d{2}(:?\d{2})?)$"

TRUE_WORDS = ("true", "t", "yes", "y", "1", "是")
FALSE_WORDS = ("false", "f", "no", "n", "0", "否")


def quote_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(sql_literal(v) for v in values) + "]"


def text_sql(expression: str) -> str:
    """Trimmed text, empty as null."""
    return f"nullif(trim({expression}), '')"


def timestamp_sql(expression: str, timezone: str = "$timezone") -> str:
    """UTC timestamp from text: honour an explicit offset, else wall-clock time in ``timezone``."""
    raw = text_sql(expression)
    return f"""case
        when {raw} is null then null
        when regexp_matches({raw}, '{OFFSET_PATTERN}')
            then timezone('UTC', try_cast({raw} as timestamptz))
        else timezone('UTC', timezone({timezone}, coalesce(
            try_cast({raw} as timestamp), try_strptime({raw}, {quote_list(SLASH_DATE_FORMATS)})
        )))
    end"""


def epoch_sql(expression: str) -> str:
    """UTC timestamp from Unix epoch seconds given as text (``1717400000`` or ``1717400000.25``)."""
    return f"make_timestamp(cast(try_cast({text_sql(expression)} as double) * 1000000 as bigint))"


def date_sql(expression: str) -> str:
    raw = text_sql(expression)
    return f"coalesce(try_cast({raw} as date), cast(try_strptime({raw}, {quote_list(DATE_FORMATS)}) as date))"


def duration_sql(expression: str) -> str:
    """Seconds from a number (``90``, ``90.5``) or a clock duration (``0:01:30``, h:mm:ss)."""
    raw = f"trim({expression})"
    return f"""case
        when regexp_full_match({raw}, '\\d+:[0-5]\\d:[0-5]\\d(\\.\\d+)?')
            then epoch(try_cast({raw} as interval))
        else try_cast(nullif({raw}, '') as double)
    end"""


def boolean_sql(expression: str) -> str:
    raw = f"lower({text_sql(expression)})"
    return (
        f"case when {raw} in ({', '.join(map(sql_literal, TRUE_WORDS))}) then true "
        f"when {raw} in ({', '.join(map(sql_literal, FALSE_WORDS))}) then false end"
    )


def first_failing_rule_sql(rules: list[tuple[str, str]]) -> str:
    """A CASE naming the first rule a row breaks (each rule: SQL condition, SQL reason); null if none."""
    if not rules:
        return "cast(null as varchar)"
    return "case\n" + "\n".join(f"        when {cond} then {reason}" for cond, reason in rules) + "\n    end"


def impossible_time_rules(column: str, raw_column: str) -> list[tuple[str, str]]:
    """Timestamps before 1990 or more than a day ahead are clock or format errors."""
    return [
        (f"year({column}) < 1990", f"'{column} is impossibly early: ' || {raw_column}"),
        (
            f"{column} > now()::timestamp + interval 1 day",
            f"'{column} is in the future: ' || {raw_column}",
        ),
    ]
