"""A documented CSV layout: its columns, their kinds and rules, and the raw table it lands in.

Definitions only: the loader reads a file by its :class:`Contract` (the engine in
:mod:`callops.load.csv_contract`), the simulator writes one by it, and the build warehouse
creates its raw table (:attr:`Contract.raw_ddl`).
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = {
    # kind: stored SQL type
    "text": "varchar",
    "enum": "varchar",
    "integer": "bigint",
    "number": "double",
    "seconds": "double",
    "timestamp": "timestamp",
    "date": "date",
    "boolean": "boolean",
    "list": "varchar[]",
    "phone": "varchar",
    "personal": "varchar",
}

# A duration above a day is a unit or format error (DECISIONLOG.md, "Bounds"; callops.load.base).
MAX_DURATION_SECONDS = 86_400


@dataclass(frozen=True)
class Column:
    """One column of a CSV contract.

    kind: text | enum (``values``, lower-cased) | integer | number | seconds
    (number or h:mm:ss, at most 24 hours unless ``maximum`` says otherwise) | timestamp (offset honoured, else
    tenant-local) | date | boolean (true/false, yes/no, 1/0, 是/否) | list (``;``- or
    ``|``-separated within the field) | phone (stored as ``<name>_hash``, withheld numbers null)
    | personal (free personal text such as a name, stored as ``<name>_hash``).
    """

    name: str
    kind: str = "text"
    description: str = ""
    required: bool = False  # the header must have the column
    not_null: bool = False  # every row must have a value
    values: tuple[str, ...] = ()
    default: str | None = None  # enum value when the field is empty or the column absent
    minimum: float | None = None
    maximum: float | None = None  # seconds: MAX_DURATION_SECONDS (24 hours) unless set; math.inf: none

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name}: unknown kind {self.kind}")

    @property
    def stored_name(self) -> str:
        return f"{self.name}_hash" if self.kind in ("phone", "personal") else self.name

    @property
    def sql_type(self) -> str:
        return KINDS[self.kind]


@dataclass(frozen=True)
class Contract:
    """A CSV file layout: the columns, the raw table they land in, the row rules beyond each column's own."""

    format: str
    feed: str
    table: str  # raw.<table>
    description: str
    columns: tuple[Column, ...]
    rules: tuple[tuple[str, str], ...] = ()  # (SQL condition on parsed columns, SQL reason)

    @property
    def raw_table(self) -> str:
        return f"raw.{self.table}"

    @property
    def raw_ddl(self) -> str:
        columns = ",\n    ".join(f"{c.stored_name} {c.sql_type}" for c in self.columns)
        return f"""
create table if not exists raw.{self.table} (
    file_id varchar not null,
    tenant_id varchar not null,
    delivery_date date not null,
    source_line bigint,
    {columns},
    extra json,
    loaded_at timestamp not null
);"""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def has_personal_data(self) -> bool:
        """Phone or personal columns: stored only as their keyed pseudonyms (``<name>_hash``)."""
        return any(c.kind in ("phone", "personal") for c in self.columns)
