"""Which adapters read which feed, and how a delivered file's format is chosen.

The format is chosen per file from its content (real exports often have no
extension), line by line: a file is read as format F when at least half of
its first 1,000 non-blank lines (``base.DETECT_LINES``) parse as F and none
parses as another format of its feed. Its lines that do not parse are then
quarantined by F's loader, and the delivery gate holds the file back when
they are too many. Each adapter says how a line parses (``line_rule``); a
header decides among the CSV contracts (the one with most of its columns).
A module is an adapter itself, or lists several in ``ADAPTERS`` (the CSV
contracts of one feed).
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType

from callops.load.base import Head, LoadError, clip, wide_header_rule
from callops.load.csv_contract import parse_header

FIRST_LINE_CHARS = 120  # of a refused file's first line, quoted in the error

# feed -> modules under callops.load, in order of preference on equal scores.
FEED_MODULES: dict[str, tuple[str, ...]] = {
    "telephony": ("queue_log", "asterisk_cdr", "connect_ctr", "contacts_csv", "agent_states_csv"),
    "qa": ("qa",),
    "hr": ("hr",),
    "marketing": ("marketing",),
}


def _adapters_of(module: ModuleType) -> tuple:
    return tuple(getattr(module, "ADAPTERS", (module,)))


@cache
def adapters(feed: str) -> tuple:
    modules = [importlib.import_module(f"callops.load.{name}") for name in FEED_MODULES[feed]]
    return tuple(adapter for module in modules for adapter in _adapters_of(module))


def feeds() -> tuple[str, ...]:
    return tuple(FEED_MODULES)


def all_adapters() -> tuple:
    return tuple(adapter for feed in FEED_MODULES for adapter in adapters(feed))


def raw_tables() -> tuple[str, ...]:
    """Every raw table that holds rows of delivered files (keyed by file_id)."""
    return tuple(dict.fromkeys(table for adapter in all_adapters() for table in adapter.RAW_TABLES))


def _line_rules(feed: str, head: Head) -> dict:
    """adapter -> its LineRule for this file. Among the CSV contracts (adapters with ``near_miss``) the
    header decides: only the one whose columns it has most of (``detect``; the first on a tie) reads it."""
    rules = {adapter: adapter.line_rule(head) for adapter in adapters(feed)}
    scores = {adapter: adapter.detect(head) for adapter in rules if hasattr(adapter, "near_miss")}
    best = max(scores, key=scores.__getitem__, default=None)
    for adapter, score in scores.items():
        if score and adapter is not best:
            rules[adapter] = lambda number, line, best=best: f"the header is {best.FORMAT}'s"
    return rules


def examine(feed: str, head: Head) -> tuple[object | None, str]:
    """(the adapter that reads the file, "") or (None, why none does: one line).

    Why: the first non-blank line (cut to 120 characters) and, for each
    format, the first rule it broke; for a format whose first line parses,
    what else kept the file from it.
    """
    lines = head.numbered_lines
    if not lines:
        return None, "no lines"
    verdicts = {adapter: [rule(n, text) for n, text in lines] for adapter, rule in _line_rules(feed, head).items()}
    parsed = {adapter: rules.count(None) for adapter, rules in verdicts.items()}
    for adapter in verdicts:
        others = [other for other in verdicts if other is not adapter and parsed[other]]
        if parsed[adapter] * 2 >= len(lines) and not others:
            return adapter, ""
    reasons = []
    for adapter, rules in verdicts.items():
        if rules[0] is not None:
            reasons.append(f"{adapter.FORMAT}: {rules[0]}")
            continue
        if parsed[adapter] * 2 < len(lines):
            n, rule = next((n, rule) for (n, _), rule in zip(lines, rules, strict=True) if rule is not None)
            reasons.append(f"{adapter.FORMAT}: {parsed[adapter]} of {len(lines)} lines parse (line {n}: {rule})")
            continue
        n, other = next(
            (n, other) for i, (n, _) in enumerate(lines) for other in verdicts
            if other is not adapter and verdicts[other][i] is None
        )  # fmt: skip
        reasons.append(f"{adapter.FORMAT}: line {n} parses as {other.FORMAT}")
    first = clip("".join(c if c.isprintable() else "?" for c in lines[0][1].strip()), FIRST_LINE_CHARS)
    return None, f'first line "{first}": ' + "; ".join(reasons)


def too_wide(head: Head) -> str | None:
    """Why a file is too wide to read, or None: its first line, read as a delimited header, has more than
    ``base.MAX_COLUMNS`` columns. Checked before the format is chosen, so such a file fails whole with
    that rule whatever its header says; no format callops reads is that wide. A JSON first line (CTR)
    is no header."""
    line = head.first_line.strip()
    if line.startswith(("{", "[")):
        return None
    try:
        header = parse_header(line)[0]
    except LoadError:
        return None
    return wide_header_rule(header[:-1] if head.last_line_cut else header, bool(head.last_line_cut))


def choose(feed: str, head: Head):
    """The adapter that reads the file, or None (:func:`examine`)."""
    return examine(feed, head)[0]


def near_miss(feed: str, head: Head) -> str | None:
    """Why a file that almost matches a CSV contract does not: its missing required columns."""
    misses = [m for adapter in adapters(feed) if hasattr(adapter, "near_miss") and (m := adapter.near_miss(head))]
    return max(misses)[1] if misses else None


# The column that dates a raw table's rows (UTC timestamps, or dates), for the mart gate's
# changed partitions. Tables not listed (rosters, training, campaigns, calibrations: snapshots
# or settings rather than events) are dated by their delivery day.
DATED_BY: dict[str, str] = {
    "raw.queue_log_events": "event_at",
    "raw.agent_state_events": "event_at",
    "raw.telephony_contacts": "entered_at",
    "raw.qa_evaluations": "evaluated_at",
    "raw.csat_surveys": "answered_at",
    "raw.hr_shifts": "starts_at",
    "raw.hr_attendance": "work_date",
    "raw.marketing_offers": "offered_at",
}


# Raw tables of timelines: a row holds until the next row of its key (an agent's state lasts until the
# agent's next change, however far away), so a file's rows reach back to the key's previous row in
# other files and on to its next one: adding, correcting or removing them changes every day between.
TIMELINES: dict[str, tuple[str, ...]] = {"raw.agent_state_events": ("tenant_id", "agent_id")}


def file_dates(con, file_id: str):
    """(first, last) UTC date of what one delivery's rows reach in the raw tables, or None: the dates of
    its rows, and for a timeline (``TIMELINES``) the dates of its keys' neighbouring rows in other files."""
    spans = [
        f"select min(cast({DATED_BY.get(table, 'delivery_date')} as date)) as first_date, "
        f"max(cast({DATED_BY.get(table, 'delivery_date')} as date)) as last_date from {table} where file_id = $file_id"
        for table in raw_tables()
    ]
    spans += [_timeline_reach(table, key) for table, key in TIMELINES.items()]
    first, last = con.execute(
        f"select min(first_date), max(last_date) from ({' union all '.join(spans)})", {"file_id": file_id}
    ).fetchone()
    return None if first is None else (first, last)


def _timeline_reach(table: str, key: tuple[str, ...]) -> str:
    """SQL (first_date, last_date): from the previous row before each of the file's keys' first row to
    the next row after its last, in other files."""
    column = DATED_BY[table]
    keys = ", ".join(key)
    own_keys = ", ".join(f"own.{name}" for name in key)
    joined = " and ".join(f"other.{name} = own.{name}" for name in key)
    return f"""
        select cast(min(previous_at) as date) as first_date, cast(max(next_at) as date) as last_date
        from (
            select
                max(other.{column}) filter (where other.{column} < own.first_at) as previous_at,
                min(other.{column}) filter (where other.{column} > own.last_at) as next_at
            from (
                select {keys}, min({column}) as first_at, max({column}) as last_at
                from {table} where file_id = $file_id group by all
            ) as own
            inner join {table} as other on {joined} and other.file_id <> $file_id
            group by {own_keys}
        )
    """
