"""Which adapters read which feed, and how a delivered file's format is chosen.

The format is chosen per file from its content and name (real exports often
have no extension): every adapter of the feed scores the file's first bytes
and the strongest match wins. A module is an adapter itself, or lists several
in ``ADAPTERS`` (the CSV contracts of one feed).
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType

from callops.load.base import Head

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


def raw_ddl() -> str:
    return "\n".join(dict.fromkeys(adapter.RAW_DDL for adapter in all_adapters()))


def choose(feed: str, head: Head):
    """The adapter that matches the file best, or None."""
    best, best_score = None, 0
    for adapter in adapters(feed):
        score = int(adapter.detect(head))
        if score > best_score:
            best, best_score = adapter, score
    return best


def near_miss(feed: str, head: Head) -> str | None:
    """Why a file that almost matches a CSV contract does not: its missing required columns."""
    misses = [m for adapter in adapters(feed) if hasattr(adapter, "near_miss") and (m := adapter.near_miss(head))]
    return max(misses)[1] if misses else None


def describe(feed: str) -> str:
    return "; ".join(f"{adapter.FORMAT}: {adapter.DESCRIPTION}" for adapter in adapters(feed))


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


def file_dates(con, file_id: str):
    """(first, last) UTC date of the rows one delivery holds in the raw tables, or None."""
    spans = " union all ".join(
        f"select min(cast({DATED_BY.get(table, 'delivery_date')} as date)) as first_date, "
        f"max(cast({DATED_BY.get(table, 'delivery_date')} as date)) as last_date from {table} where file_id = $file_id"
        for table in raw_tables()
    )
    first, last = con.execute(f"select min(first_date), max(last_date) from ({spans})", {"file_id": file_id}).fetchone()
    return None if first is None else (first, last)
