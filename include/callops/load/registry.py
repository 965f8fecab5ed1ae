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
from dataclasses import dataclass
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


# Raw tables of timelines: a row holds until the next row of its lane (an agent's state lasts until the
# agent's next change in that queue, however far away), so adding, correcting or removing a file's rows
# changes the days between them and their neighbours in other files. Rows whose lane is null apply to
# every lane of their key (a PAUSEALL or an agent login applies to each of the agent's queues). An idle
# row (a logout) counts nowhere: the days after it until the next change hold the same nothing whatever
# the file says, so the reach stops there.
@dataclass(frozen=True)
class Timeline:
    table: str
    key: tuple[str, ...]
    lane: str
    idle: str  # SQL, true for a row whose state counts nowhere until the next change


TIMELINES: tuple[Timeline, ...] = (
    Timeline("raw.agent_state_events", ("tenant_id", "agent_id"), "queue_id", "state = 'logged_out'"),
)


def file_dates(con, file_id: str):
    """(first, last) UTC date of what one delivery's rows reach in the raw tables, or None: the dates of
    its rows, and for a timeline (``TIMELINES``) the dates its rows reach in other files' rows."""
    spans = [
        f"select min(cast({DATED_BY.get(table, 'delivery_date')} as date)) as first_date, "
        f"max(cast({DATED_BY.get(table, 'delivery_date')} as date)) as last_date from {table} where file_id = $file_id"
        for table in raw_tables()
    ]
    spans += [_timeline_reach(timeline) for timeline in TIMELINES]
    first, last = con.execute(
        f"select min(first_date), max(last_date) from ({' union all '.join(spans)})", {"file_id": file_id}
    ).fetchone()
    return None if first is None else (first, last)


def _timeline_reach(timeline: Timeline) -> str:
    """SQL (first_date, last_date) of what a file's rows reach in each lane of their keys, in other files.

    - Back to the previous row before the file's first in the lane, unless that row is idle: the state it
      starts now ends earlier (or no longer stays open).
    - On to the next row after the file's last, unless the file's last row is idle and so is the state
      the other files hold there without the file (the last of their rows before it; none is idle too):
      in between, the file's last state holds instead of theirs.

    A re-delivery is reached twice, by its rows before and after (``pipeline._load_one``)."""
    table, column, lane = timeline.table, DATED_BY[timeline.table], timeline.lane
    keys = ", ".join(timeline.key)
    same_key = " and ".join(f"lanes.{name} = timeline_rows.{name}" for name in timeline.key)
    return f"""
        select
            cast(min(previous_at) filter (where not previous_idle) as date) as first_date,
            cast(max(next_at) filter (where not (last_idle and coalesce(idle_without, true))) as date) as last_date
        from (
            select
                {keys},
                lane,
                arg_max({timeline.idle}, ({column}, source_line)) filter (where is_own) as last_idle,
                max({column}) filter (where not is_own and {column} < first_at) as previous_at,
                arg_max({timeline.idle}, ({column}, source_line))
                    filter (where not is_own and {column} < first_at) as previous_idle,
                arg_max({timeline.idle}, ({column}, source_line))
                    filter (where not is_own and {column} < last_at) as idle_without,
                min({column}) filter (where not is_own and {column} > last_at) as next_at
            from (
                select
                    *,
                    min({column}) filter (where is_own) over lane_rows as first_at,
                    max({column}) filter (where is_own) over lane_rows as last_at
                from (
                    select timeline_rows.*, timeline_rows.file_id = $file_id as is_own, lanes.{lane} as lane
                    from {table} as timeline_rows
                    inner join (
                        -- the key's lanes; one null lane for a key without any
                        select distinct {keys}, {lane} from {table}
                        semi join (select distinct {keys} from {table} where file_id = $file_id) using ({keys})
                        qualify {lane} is not null or count({lane}) over (partition by {keys}) = 0
                    ) as lanes
                        on {same_key}
                        and (timeline_rows.{lane} is null or timeline_rows.{lane} = lanes.{lane})
                )
                window lane_rows as (partition by {keys}, lane)
            )
            group by all
            having bool_or(is_own)
        )
    """
