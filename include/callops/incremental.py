"""What a build rebuilds: the changed partitions, or everything (issue 6: history is never rebuilt daily).

The models that grow with the history are incremental (``dbt_project/macros/build_window.sql``): a
build passes them the UTC dates that changed since the gate last passed them (``ops.changed_partitions``,
each range already widened by a day either side), merged into ranges, as ``build_window`` of the plan
the macros read from ``CALLOPS_BUILD_PLAN``;
they overwrite those partitions and their data tests read only them.

A build rebuilds everything (``--full-refresh``, no window) when what computes the figures changed
since the last successful build: the dbt project's files, the Python the dbt Python models import, or
the tenants' settings (``raw.tenants``, mirrored from callops.yml every run). That state is kept as a
fingerprint in ``ops.builds`` (callops.warehouse), one row per successful build.

An incremental build also selects only the models downstream of the feeds that changed (dbt sources are
named by feed): a day of telephony rebuilds and tests neither the QA nor the HR nor the marketing
models, whose inputs did not change. Nothing pending: nothing to build.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from callops import settings
from callops.load import registry

# Python the dbt Python models import: a change to it changes the staffing columns.
PYTHON_USED_BY_DBT = ("staffing.py",)
DBT_PROJECT_PARTS = ("dbt_project.yml", "models", "macros", "tests", "seeds", "snapshots")

@dataclass(frozen=True)
class BuildPlan:
    fingerprint: str
    full: bool
    window: tuple[tuple[dt.date, dt.date], ...] = ()
    reason: str = ""
    # feeds whose deliveries changed (dbt sources of those names); None: every model
    feeds: tuple[str, ...] | None = None

    @property
    def is_empty(self) -> bool:
        """An incremental build with no changed partition: there is nothing to build."""
        return not self.full and not self.window

    def dbt_args(self) -> list[str]:
        """The dbt flags of this plan: ``--full-refresh`` for a full build (the window goes in ``encoded``)."""
        return ["--full-refresh"] if self.full else []

    def encoded(self) -> str:
        """The window and the changed feeds for the dbt macros (``CALLOPS_BUILD_PLAN``, callops.dbt); empty for
        a full build. Not dbt ``--vars``: a var that changes between runs makes dbt re-parse the whole
        project (8 s on every daily run), an environment variable read only at execution does not."""
        if self.full:
            return ""
        plan: dict = {"build_window": [[first.isoformat(), last.isoformat()] for first, last in self.window]}
        if self.feeds is not None:
            plan["build_feeds"] = list(self.feeds)  # models that depend whole on a feed (meta whole_when_changed)
        return json.dumps(plan)

    def selection(self, within: str | None = None) -> list[str]:
        """``--select`` of the models (and, with them, their tests) this plan builds: those downstream of the
        changed feeds, intersected with ``within`` (a dbt selector, e.g. one layer's path)."""
        if self.full or self.feeds is None:
            return ["--select", within] if within else []
        return ["--select", *(f"source:{feed}+" + (f",{within}" if within else "") for feed in self.feeds)]

    def describe(self) -> str:
        if self.full:
            return f"full build ({self.reason})"
        if not self.window:
            return "no changed partitions: nothing to build"
        days = sum((last - first).days + 1 for first, last in self.window)
        spans = ", ".join(f"{first}..{last}" if first != last else f"{first}" for first, last in self.window)
        feeds = f" of {', '.join(self.feeds)}" if self.feeds is not None else ""
        return f"incremental build{feeds}, {days} UTC day(s): {spans}"


def merge_ranges(ranges: list[tuple[dt.date, dt.date]]) -> tuple[tuple[dt.date, dt.date], ...]:
    """Overlapping or adjacent date ranges merged, in order."""
    merged: list[list[dt.date]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + dt.timedelta(days=1):
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return tuple((first, last) for first, last in merged)


def fingerprint(con: duckdb.DuckDBPyConnection, project: Path | None = None) -> str:
    """sha256 over what computes the figures: dbt project files, the Python they import, tenant settings."""
    project = project or settings.dbt_project_dir()
    digest = hashlib.sha256()
    files: list[Path] = []
    for part in DBT_PROJECT_PARTS:
        path = project / part
        files += [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    package = Path(__file__).parent
    files += [package / name for name in PYTHON_USED_BY_DBT]
    for path in files:
        if "__pycache__" in path.parts:
            continue
        name = path.relative_to(project) if path.is_relative_to(project) else Path("callops") / path.name
        digest.update(f"{name}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")
    tenants = con.execute(
        "select coalesce(string_agg(t::varchar, '\n' order by t.id), '') from raw.tenants as t"
    ).fetchall()[0][0]
    digest.update(tenants.encode())
    return digest.hexdigest()


def plan(con: duckdb.DuckDBPyConnection, full_reason: str | None = None) -> BuildPlan:
    """The next build: full when the fingerprint changed (or nothing was built yet, or ``full_reason``
    says why it must be: `callops rekey`), else the window."""
    current = fingerprint(con)
    if full_reason:
        return BuildPlan(current, full=True, reason=full_reason)
    last = con.execute("select fingerprint from ops.builds order by built_at desc limit 1").fetchall()
    if not last:
        return BuildPlan(current, full=True, reason="nothing built yet")
    if last[0][0] != current:
        return BuildPlan(current, full=True, reason="the dbt project or the tenant settings changed")
    pending = con.execute(
        """
        select changed.first_date, changed.last_date, manifest.feed
        from ops.changed_partitions as changed
        left join raw.manifest as manifest using (file_id)
        where changed.validated_run_id is null
        """
    ).fetchall()
    feeds = {feed for _, _, feed in pending}
    return BuildPlan(
        current,
        full=False,
        window=merge_ranges([(first, last) for first, last, _ in pending]),
        # a change not traced to a file of a known feed selects every model
        feeds=None if None in feeds or not feeds <= set(registry.feeds()) else tuple(sorted(feeds)),
    )


def record(con: duckdb.DuckDBPyConnection, run_id: str, built: BuildPlan, at: dt.datetime) -> None:
    """A successful build: the next one compares its fingerprint with this."""
    ranges = [[first.isoformat(), last.isoformat()] for first, last in built.window]
    con.execute(
        "insert into ops.builds values (?, ?, ?, ?, ?)",
        [run_id, built.fingerprint, built.full, json.dumps(ranges), at],
    )
