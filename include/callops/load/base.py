"""What every feed adapter shares: the load context, text encodings, SQL parsing snippets, rejects.

An *adapter* is a module (or object) with:

- ``FORMAT``: the name recorded in ``raw.manifest.file_format``;
- ``DESCRIPTION``: how a user recognises the format (its layout, in words);
- ``RAW_TABLES``: the raw tables it writes (rows keyed by ``file_id``, so a re-delivery replaces them;
  defined in :mod:`callops.contracts`, which the build warehouse creates);
- ``line_rule(head) -> LineRule``: the per-line check format choice counts (``registry.examine``):
  for one line of the head, the first rule it breaks as this format, None when it parses;
- ``detect(head) -> int``: how strongly a file is in this format (0: not at all); among the CSV
  contracts, the header's score that decides which one reads it;
- ``load(ctx) -> FileLoad``: load one file (the caller owns the transaction).

Adapters read files with DuckDB's readers; Python only looks at the first
bytes (detection) and, for a file in another encoding than UTF-8, transcodes
it to UTF-8 in 1 MiB blocks, never row by row.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import functools
import gzip
import itertools
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from callops import settings
from callops.config import Tenant
from callops.contracts.csv import MAX_DURATION_SECONDS  # the contracts' rules use it too
from callops.landing import open_delivery
from callops.warehouse import sql_literal

HEAD_BYTES = 1 << 16  # what binary_problem looks at
BLOCK_BYTES = 1 << 20
# Format choice reads the first DETECT_LINES non-blank lines, within the first DETECT_BYTES.
DETECT_LINES = 1000
DETECT_BYTES = 1 << 20

# Bounds of what a delivery can say (DECISIONLOG.md, "Bounds"); beyond them a value is a clock, unit or
# format error. Timestamps: from EARLIEST_DATE to the run's UTC date + 1 day. Durations: at most a day.
# Width: a file with more columns fails as a whole (no contact-center export is that wide).
EARLIEST_DATE = dt.date(1990, 1, 1)
MAX_COLUMNS = 1_000


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


def _char_class(ranges: tuple[tuple[int, int], ...]) -> str:
    return "[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in ranges) + "]"


# CJK characters: the Unicode blocks of Chinese (and Japanese) text, as GB18030 decodes them.
CJK_RANGES = (
    (0x2E80, 0x2FDF),  # CJK radicals supplement, Kangxi radicals
    (0x3000, 0x303F),  # CJK symbols and punctuation (、。「」)
    (0x3040, 0x30FF),  # hiragana, katakana (GB2312 rows 4-5)
    (0x3100, 0x312F),  # bopomofo
    (0x3190, 0x33FF),  # kanbun, enclosed CJK letters and months, CJK compatibility
    (0x3400, 0x4DBF),  # CJK unified ideographs extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFE10, 0xFE1F),  # vertical forms
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF00, 0xFFEF),  # halfwidth and fullwidth forms (，：（）)
    (0x20000, 0x3FFFF),  # supplementary and tertiary ideographic planes (extensions B-H)
)
IDEOGRAPH_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3FFFF))
CJK_PATTERN = re.compile(_char_class(CJK_RANGES))
IDEOGRAPH_PATTERN = re.compile(_char_class(IDEOGRAPH_RANGES))

# GB18030 thresholds (DECISIONLOG.md, "Encodings"): shares of the non-ASCII characters of its decoding.
GB18030_CJK_SHARE = 0.8  # at least this share are CJK characters
GB18030_COMMON_HANZI_SHARE = 0.5  # at least this share of the ideographs are common hanzi
ENCODING_SAMPLE_CHARACTERS = 1_000_000  # the shares are counted until this many non-ASCII characters


@functools.cache
def _common_hanzi_pattern() -> re.Pattern[str]:
    """The 3,755 common hanzi: GB2312's level 1 (rows 16-55, lead bytes 0xB0-0xD7)."""
    hanzi = []
    for lead in range(0xB0, 0xD8):
        for trail in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                hanzi.append(bytes((lead, trail)).decode("gb2312"))
    return re.compile("[" + "".join(hanzi) + "]")


def _count(pattern: re.Pattern[str], text: str) -> int:
    return len(pattern.findall(text))


def is_utf8(path: Path) -> bool:
    """Whether the whole file is valid UTF-8 (read in blocks)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        with open_bytes(path) as handle:
            for block in iter(lambda: handle.read(BLOCK_BYTES), b""):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(path: Path) -> str:
    """``utf-8`` or ``gb18030`` (a superset of GBK and GB2312), read in blocks.

    A file is GB18030 (a Chinese Windows export) only when all of these hold,
    else it is UTF-8 and the readers quarantine its lines that are not:

    1. it is not valid UTF-8;
    2. it decodes as GB18030 from end to end;
    3. at least 80 % (``GB18030_CJK_SHARE``) of the non-ASCII characters of
       that decoding are CJK: code points in ``CJK_RANGES`` (radicals, CJK
       symbols and punctuation, kana, bopomofo, enclosed and compatibility
       forms, the unified ideographs with extensions A-H, compatibility
       ideographs, vertical, compatibility and fullwidth forms);
    4. at least half (``GB18030_COMMON_HANZI_SHARE``) of its ideographs
       (``IDEOGRAPH_RANGES``) are among the 3,755 common hanzi of GB2312
       level 1. Single-byte text read as GB18030 comes out as CJK too, but as
       rare ideographs: a Latin-1 letter before an ASCII letter is a GBK
       extension character ("Müller" -> "M黮ler"), CP1251 Cyrillic mostly
       GB2312 level 2;
    5. fewer of its lines with non-ASCII bytes are valid UTF-8 than are not:
       a UTF-8 file with a few damaged lines stays UTF-8 (Cyrillic in UTF-8,
       for one, also decodes as GB18030 ideographs, two thirds of them common);
       about 1.5 % of real GBK lines happen to be valid UTF-8.

    The file is read one 1 MiB block at a time, in two passes when it is not
    UTF-8: the check of 1, then 2-5 together. 2 holds for the whole file; 3-5
    count a sample: the blocks up to the one in which the millionth non-ASCII
    character (``ENCODING_SAMPLE_CHARACTERS``) falls, a few MiB of a Chinese
    export. A tenant whose legacy exports defeat this sets ``encoding`` in
    callops.yml.
    """
    if is_utf8(path):
        return "utf-8"
    decoder = codecs.getincrementaldecoder("gb18030")("strict")
    common_hanzi = _common_hanzi_pattern()
    non_ascii = cjk = ideographs = common = utf8_lines = other_lines = 0
    rest = b""  # the start of a line the next block ends
    with open_bytes(path) as handle:
        for block in itertools.chain(iter(lambda: handle.read(BLOCK_BYTES), b""), [None]):  # None: the end
            try:
                text = decoder.decode(block or b"", final=block is None)
            except UnicodeDecodeError:
                return "utf-8"
            if non_ascii >= ENCODING_SAMPLE_CHARACTERS:
                continue
            non_ascii += len(text) - len(text.encode("ascii", "ignore"))
            cjk += _count(CJK_PATTERN, text)
            found = "".join(IDEOGRAPH_PATTERN.findall(text))
            ideographs += len(found)
            common += _count(common_hanzi, found)
            lines = (rest + (block or b"")).split(b"\n")
            rest = lines.pop() if block is not None else b""
            if len(rest) > BLOCK_BYTES:  # a line longer than a block counts once per block
                lines.append(rest)
                rest = b""
            for line in lines:
                if not line.isascii():
                    try:
                        line.decode("utf-8")
                        utf8_lines += 1
                    except UnicodeDecodeError:
                        other_lines += 1
    is_gb18030 = (
        cjk >= GB18030_CJK_SHARE * non_ascii
        and common >= GB18030_COMMON_HANZI_SHARE * ideographs
        and utf8_lines < other_lines
    )
    return "gb18030" if is_gb18030 else "utf-8"


@contextlib.contextmanager
def utf8_source(path: Path, encoding: str) -> Iterator[Path]:
    """A plain UTF-8 path with the file's text: the file itself, or a decompressed / transcoded temporary copy.

    Bytes ``encoding`` cannot decode are copied as they are, so their lines
    are not UTF-8 either and the readers quarantine them (invalid encoding)
    with their line numbers.
    """
    if encoding == "utf-8" and not is_gzip(path):
        yield path
        return
    tmp_dir = settings.home() / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix="transcoded-", suffix=".txt", dir=tmp_dir)
    try:
        decoder = codecs.getincrementaldecoder(encoding)("surrogateescape")
        with open_bytes(path) as source, os.fdopen(descriptor, "wb") as target:
            for block in iter(lambda: source.read(BLOCK_BYTES), b""):
                target.write(decoder.decode(block).encode("utf-8", "surrogateescape"))
            target.write(decoder.decode(b"", final=True).encode("utf-8", "surrogateescape"))
        yield Path(name)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


@dataclass(frozen=True)
class Head:
    """A file's name and first lines, decoded: what format detection looks at.

    ``cut``: the text stops within a line (``read_head``: the file goes on
    past ``DETECT_BYTES``); that line is left out of ``lines`` unless it is the
    only one. None (a head built by hand): only its last line may stop short,
    when the text does not end with a line break.
    """

    name: str
    text: str
    encoding: str
    cut: bool | None = None

    @functools.cached_property
    def lines(self) -> list[str]:
        """Complete first lines (the last, cut, line dropped when there are others)."""
        lines = self.text.splitlines()
        if self.cut and len(lines) > 1:
            lines = lines[:-1]
        return lines

    @property
    def last_line_cut(self) -> bool:
        """The last of ``lines`` may stop short: the only line of a cut head."""
        if self.cut is None:
            return not self.text.endswith(("\n", "\r"))
        return self.cut and len(self.lines) == 1

    @property
    def first_line(self) -> str:
        lines = self.lines
        return lines[0] if lines else ""

    @functools.cached_property
    def numbered_lines(self) -> list[tuple[int, str]]:
        """(line number, text) of the first ``DETECT_LINES`` non-blank lines: what format choice counts."""
        return [(number, line) for number, line in enumerate(self.lines, start=1) if line.strip()][:DETECT_LINES]


# A line's check as one format: (line number, text) -> the first rule the line breaks, None when it parses.
LineRule = Callable[[int, str], str | None]


def parsing_share(head: Head, rule: LineRule) -> tuple[int, int]:
    """(lines that parse, lines looked at) of the head's first ``DETECT_LINES`` non-blank lines."""
    lines = head.numbered_lines
    return sum(1 for number, line in lines if rule(number, line) is None), len(lines)


def mostly_parses(head: Head, rule: LineRule) -> bool:
    """At least half of the head's first non-blank lines parse (and there is one)."""
    parsed, total = parsing_share(head, rule)
    return parsed > 0 and parsed * 2 >= total


def clip(text: str, length: int = 40) -> str:
    """A value quoted in a rule: cut to ``length`` characters."""
    return text if len(text) <= length else text[: length - 1] + "…"


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

    @staticmethod
    def detect(head: Head) -> int:
        return 1 if not head.text.strip() else 0

    @staticmethod
    def load(ctx: LoadContext) -> FileLoad:
        return FileLoad(notes=["empty file: nothing to load"])


def read_head(path: Path, encoding: str) -> Head:
    """The first ``DETECT_LINES`` non-blank lines of the file, within its first ``DETECT_BYTES``."""
    with open_bytes(path) as handle:
        raw = handle.read(DETECT_BYTES)
        cut = len(raw) == DETECT_BYTES and handle.read(1) != b""
    text = raw.decode(encoding, errors="replace").lstrip("\ufeff")
    lines = text.splitlines(keepends=True)
    non_blank = [index for index, line in enumerate(lines) if line.strip()]
    if len(non_blank) >= DETECT_LINES and non_blank[DETECT_LINES - 1] < len(lines) - 1:
        text, cut = "".join(lines[: non_blank[DETECT_LINES - 1] + 1]), False
    return Head(path.name, text, encoding, cut)


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
    # The run's UTC date: the latest timestamp a record may carry is a day after it (never now(), so
    # every file of a run is judged by the same day, however long the run takes).
    run_date: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())

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


def read_physical_lines(ctx: LoadContext) -> None:
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


def map_record_lines(ctx: LoadContext, name: str, first_line: int, broken: str) -> None:
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


def impossible_time_rules(
    column: str, raw_column: str, run_date: dt.date, name: str | None = None
) -> list[tuple[str, str]]:
    """Timestamps before ``EARLIEST_DATE`` or after the run's UTC date + 1 day are clock or format errors
    (``name``: how the reason names the field, default ``column``)."""
    name = name or column
    latest = run_date + dt.timedelta(days=1)
    return [
        (f"{column} < timestamp '{EARLIEST_DATE}'", f"'{name} is before {EARLIEST_DATE}: ' || {raw_column}"),
        (
            f"{column} >= timestamp '{latest + dt.timedelta(days=1)}'",
            f"'{name} is after {latest} (the run''s UTC date + 1 day): ' || {raw_column}",
        ),
    ]


def duration_rule(seconds: str, raw_column: str, name: str) -> tuple[str, str]:
    """A duration (``seconds``: SQL in seconds) above ``MAX_DURATION_SECONDS`` is a unit or format error."""
    return (
        f"{seconds} > {MAX_DURATION_SECONDS}",
        f"'{name} is above 24 hours ({MAX_DURATION_SECONDS:,} s): ' || {raw_column}",
    )


def wide_header_rule(header: list[str], cut: bool = False) -> str | None:
    """Why a header is too wide to read (more than ``MAX_COLUMNS`` columns), or None. ``cut``: only the
    start of the header was read, so it has at least that many."""
    if len(header) <= MAX_COLUMNS:
        return None
    first = ", ".join(clip(name, 30) for name in header[:3])
    count = f"{'at least ' if cut else ''}{len(header):,}"
    return f"more than {MAX_COLUMNS:,} columns ({count}): the header begins {first}, …"
