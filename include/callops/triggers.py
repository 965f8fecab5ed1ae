"""Triggers of callops' deferrable sensors: they run in Airflow's triggerer, not in a worker slot.

Each polls the landing zone with plain directory listings (in a thread: the triggerer's event loop
is shared), never opens the warehouse, and fires once. A file counts only once it is *settled*: not
hidden, no in-flight suffix (``.part``, ``.tmp`` ...), and unmodified for ``settle_seconds``, so a
transfer still writing in place is not loaded half-way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from callops import scheduling
from callops.landing import parse_day


class DeliveryTrigger(BaseTrigger):
    """Fires when a tenant's feed folder of one delivery day holds a settled file, or at ``wait_until``
    (epoch seconds) with ``status: missing``."""

    def __init__(
        self,
        folder: str,
        feed: str,
        tenant_id: str,
        day: str,
        wait_until: float,
        poll_seconds: float = 30.0,
        settle_seconds: float = 30.0,
    ):
        super().__init__()
        self.folder = folder
        self.feed = feed
        self.tenant_id = tenant_id
        self.day = day
        self.wait_until = wait_until
        self.poll_seconds = poll_seconds
        self.settle_seconds = settle_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "callops.triggers.DeliveryTrigger",
            {
                "folder": self.folder,
                "feed": self.feed,
                "tenant_id": self.tenant_id,
                "day": self.day,
                "wait_until": self.wait_until,
                "poll_seconds": self.poll_seconds,
                "settle_seconds": self.settle_seconds,
            },
        )

    def ready(self) -> list[str]:
        # folder: <landing>/<feed>/<tenant>/<day>; a link on its way is reported like a file (refused)
        landing = Path(self.folder).parents[2]
        files = scheduling.folder_files(self.feed, self.tenant_id, parse_day(self.day), landing)
        return [f.display for f in scheduling.settled(files, self.settle_seconds)]

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            files = await asyncio.to_thread(self.ready)
            if files:
                self.log.info("delivery arrived in %s: %s", self.folder, ", ".join(files))
                yield TriggerEvent({"status": "arrived", "files": files})
                return
            remaining = self.wait_until - time.time()
            if remaining <= 0:
                yield TriggerEvent({"status": "missing", "folder": self.folder})
                return
            await asyncio.sleep(min(self.poll_seconds, remaining))


class LandingTrigger(BaseTrigger):
    """Fires when the landing zone holds a settled file whose content no scheduled load has tried
    (``landing_seen.json``), or at ``wait_until`` with ``status: quiet``."""

    def __init__(
        self,
        landing: str,
        index: str,
        wait_until: float,
        poll_seconds: float = 30.0,
        settle_seconds: float = 30.0,
    ):
        super().__init__()
        self.landing = landing
        self.index = index
        self.wait_until = wait_until
        self.poll_seconds = poll_seconds
        self.settle_seconds = settle_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "callops.triggers.LandingTrigger",
            {
                "landing": self.landing,
                "index": self.index,
                "wait_until": self.wait_until,
                "poll_seconds": self.poll_seconds,
                "settle_seconds": self.settle_seconds,
            },
        )

    def new_files(self) -> list[scheduling.LandedFile]:
        files = scheduling.settled(scheduling.landing_files(Path(self.landing)), self.settle_seconds)
        return scheduling.untried(files, scheduling.read_index(Path(self.index)))

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            files = await asyncio.to_thread(self.new_files)
            if files:
                shown = [f.display for f in files[:20]]
                self.log.info("%d new file(s) in the landing zone: %s", len(files), ", ".join(shown))
                yield TriggerEvent(
                    {"status": "new", "count": len(files), "feeds": sorted({f.feed for f in files}), "files": shown}
                )
                return
            remaining = self.wait_until - time.time()
            if remaining <= 0:
                yield TriggerEvent({"status": "quiet"})
                return
            await asyncio.sleep(min(self.poll_seconds, remaining))
