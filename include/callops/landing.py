"""The landing zone: ``landing/<feed>/<tenant_id>/<YYYY-MM-DD>/<files>``.

A *delivery* is one delivered file; its *delivery day* is the folder it arrived in.
Discovery lists folders, never a calendar: a range of ten years costs what the
folders that exist in it cost.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from callops import settings

# Files still being written by a transfer tool are skipped until renamed.
IN_FLIGHT_SUFFIXES = (".tmp", ".part", ".partial", ".filepart", ".crdownload")


@dataclass(frozen=True)
class Delivery:
    feed: str
    tenant_id: str
    delivery_date: dt.date
    path: Path

    @property
    def file_name(self) -> str:
        return self.path.name

    @property
    def file_id(self) -> str:
        """Stable identity of a delivery slot; a corrected re-delivery keeps the id."""
        key = f"{self.feed}/{self.tenant_id}/{self.delivery_date.isoformat()}/{self.file_name}"
        return hashlib.sha256(key.encode()).hexdigest()[:24]

    @property
    def display(self) -> str:
        return f"landing/{self.feed}/{self.tenant_id}/{self.delivery_date.isoformat()}/{self.file_name}"


def parse_day(text: str) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None
    return day if day.isoformat() == text else None


def find_deliveries(start: dt.date, end: dt.date, landing: Path | None = None) -> list[Delivery]:
    """Every file delivered on a day in [start, end], in a stable order."""
    landing = landing or settings.landing_dir()
    found: list[Delivery] = []
    if not landing.is_dir():
        return found
    for feed_dir in sorted(p for p in landing.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for tenant_dir in sorted(p for p in feed_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for day_dir in sorted(tenant_dir.iterdir()):
                day = parse_day(day_dir.name)
                if day is None or not day_dir.is_dir() or not start <= day <= end:
                    continue
                for path in sorted(day_dir.iterdir()):
                    if path.is_file() and not path.name.startswith(".") and not path.name.endswith(IN_FLIGHT_SUFFIXES):
                        found.append(Delivery(feed_dir.name, tenant_dir.name, day, path))
    return found


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
