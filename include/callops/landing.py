"""The landing zone: ``landing/<feed>/<tenant_id>/<YYYY-MM-DD>/<files>``.

A *delivery* is one delivered file; its *delivery day* is the folder it arrived in.
Discovery lists folders, never a calendar: a range of ten years costs what the
folders that exist in it cost.

Nothing outside the landing zone is read. The landing root itself may be a
symbolic link (an SFTP mount often is): it is resolved once. Below it, a feed,
tenant or day folder or a file that is a link is refused by name, whatever it
points to (a link to another tenant's folder would load one brand's calls as
another's), and never followed or opened: every listing of the landing zone
(discovery, the scheduled loads' sensors, the landing watch) goes through
:func:`day_folders` and :func:`day_files`, and every read of a delivery opens it
with ``O_NOFOLLOW`` (:func:`open_delivery`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from callops import settings

# Files still being written by a transfer tool are skipped until renamed.
IN_FLIGHT_SUFFIXES = (".tmp", ".part", ".partial", ".filepart", ".crdownload")

LINK_REFUSED = "a symbolic link, refused: callops never follows links below the landing root"


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


@dataclass(frozen=True)
class RefusedLink:
    """A feed, tenant or day folder or a file below the landing root that is a symbolic link:
    refused by name, never followed or opened. ``tenant_id`` and ``delivery_date`` are None for a
    link above them."""

    path: Path
    display: str  # landing/<feed>[/<tenant>[/<day>[/<file>]]]
    feed: str
    tenant_id: str | None = None
    delivery_date: dt.date | None = None

    @classmethod
    def at(cls, root: Path, path: Path) -> RefusedLink:
        parts = path.relative_to(root).parts
        return cls(
            path,
            "landing/" + "/".join(parts),
            parts[0],
            parts[1] if len(parts) > 1 else None,
            parse_day(parts[2]) if len(parts) > 2 else None,
        )

    @property
    def file_name(self) -> str:
        return self.path.name

    @property
    def file_id(self) -> str:
        return hashlib.sha256(self.display.encode()).hexdigest()[:24]

    @property
    def message(self) -> str:
        return f"{self.display}: {LINK_REFUSED}"


@dataclass(frozen=True)
class DayFolder:
    feed: str
    tenant_id: str
    day: dt.date
    path: Path


@dataclass
class Scan:
    """What discovery found: the deliveries, and the links it refused (by name, in the run's problems)."""

    deliveries: list[Delivery] = field(default_factory=list)
    refused: list[RefusedLink] = field(default_factory=list)


def parse_day(text: str) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None
    return day if day.isoformat() == text else None


def root(landing: Path | None = None) -> Path:
    """The landing root with its own links resolved, once: nothing below it is followed."""
    return (landing or settings.landing_dir()).resolve()


def _visible(folder: Path, tolerant: bool) -> list[Path]:
    """A folder's entries, hidden ones (dot names) left alone, sorted; [] for an unreadable folder
    when ``tolerant`` (the sensors poll again), else the error."""
    try:
        return sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    except OSError:
        if tolerant:
            return []
        raise


def day_folders(
    landing: Path | None = None,
    feed: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    tolerant: bool = False,
) -> tuple[list[DayFolder], list[RefusedLink]]:
    """The day folders of the landing zone (of one feed, of days in [start, end] if given), and the
    links among their feed, tenant and day folders, refused unfollowed."""
    base = root(landing)
    folders: list[DayFolder] = []
    refused: list[RefusedLink] = []
    if not base.is_dir():
        return folders, refused
    for feed_dir in _visible(base, tolerant):
        if feed and feed_dir.name != feed:
            continue
        if feed_dir.is_symlink():
            refused.append(RefusedLink.at(base, feed_dir))
            continue
        if not feed_dir.is_dir():
            continue
        for tenant_dir in _visible(feed_dir, tolerant):
            if tenant_dir.is_symlink():
                refused.append(RefusedLink.at(base, tenant_dir))
                continue
            if not tenant_dir.is_dir():
                continue
            for day_dir in _visible(tenant_dir, tolerant):
                day = parse_day(day_dir.name)
                if day is None or (start and day < start) or (end and day > end):
                    continue
                if day_dir.is_symlink():
                    refused.append(RefusedLink.at(base, day_dir))
                elif day_dir.is_dir():
                    folders.append(DayFolder(feed_dir.name, tenant_dir.name, day, day_dir))
    return folders, refused


def day_folder(
    feed: str, tenant_id: str, day: dt.date, landing: Path | None = None
) -> tuple[DayFolder | None, list[RefusedLink]]:
    """One tenant's feed folder of one delivery day (None while it does not exist), or the link on
    its way (feed, tenant or day folder) that refuses it."""
    base = root(landing)
    path = base
    for part in (feed, tenant_id, day.isoformat()):
        path = path / part
        if path.is_symlink():
            return None, [RefusedLink.at(base, path)]
    return (DayFolder(feed, tenant_id, day, path) if path.is_dir() else None), []


def day_files(folder: DayFolder, tolerant: bool = False) -> tuple[list[Path], list[RefusedLink]]:
    """The delivered files of a day folder (hidden and in-flight files skipped), and its links."""
    base = folder.path.parents[2]
    files: list[Path] = []
    refused: list[RefusedLink] = []
    for path in _visible(folder.path, tolerant):
        if path.is_symlink():  # whatever its name: a link is never a delivery in flight either
            refused.append(RefusedLink.at(base, path))
        elif path.is_file() and not path.name.endswith(IN_FLIGHT_SUFFIXES):
            files.append(path)
    return files, refused


def scan(start: dt.date, end: dt.date, landing: Path | None = None) -> Scan:
    """Every file delivered on a day in [start, end], in a stable order, and the links refused."""
    folders, refused = day_folders(landing, start=start, end=end)
    found = Scan(refused=refused)
    for folder in folders:
        files, links = day_files(folder)
        found.deliveries += [Delivery(folder.feed, folder.tenant_id, folder.day, path) for path in files]
        found.refused += links
    found.refused.sort(key=lambda link: link.display)
    return found


def find_deliveries(start: dt.date, end: dt.date, landing: Path | None = None) -> list[Delivery]:
    """Every file delivered on a day in [start, end], in a stable order (links: :func:`scan`)."""
    return scan(start, end, landing).deliveries


def link_problem(delivery: Delivery) -> str | None:
    """Why a delivery must not be opened: it, or its day, tenant or feed folder, is a link now (it may
    have become one since discovery), or it is not a regular file. Checked without following."""
    path = delivery.path
    for part in (path.parents[2], path.parents[1], path.parent, path):
        try:
            mode = part.lstat().st_mode
        except OSError as error:
            return f"{delivery.display}: cannot be read: {error}"
        if stat.S_ISLNK(mode):
            shown = "landing/" + "/".join(part.relative_to(path.parents[3]).parts)
            return f"{shown}: {LINK_REFUSED}"
    if not stat.S_ISREG(mode):
        return f"{delivery.display}: not a regular file (a device, socket or pipe), refused"
    return None


def open_delivery(path: Path) -> BinaryIO:
    """A delivered file opened for reading without following a link (``O_NOFOLLOW``: a file that
    became a link since it was listed fails with ELOOP) and without blocking on a pipe; anything
    but a regular file is refused."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open_delivery(path) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
