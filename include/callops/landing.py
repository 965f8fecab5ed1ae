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

What is not a delivery is skipped, never silently: day folders whose names are not ISO dates, hidden
(dot) names, feed folders callops has no loader for, files outside a day folder, folders inside one,
pipes, sockets and devices are each named with their reason (:class:`Skipped`), in a few lines per
run (:func:`skipped_lines`); files still in transfer and hidden files are counted. A
skip is not a failure. A tenant folder not in callops.yml is listed like any other: its files fail
at load, by name.
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
from callops.config import SCHEDULED_FEEDS as FEEDS

# Files still being written by a transfer tool are skipped until renamed.
IN_FLIGHT_SUFFIXES = (".tmp", ".part", ".partial", ".filepart", ".crdownload")

LINK_REFUSED = "a symbolic link, refused: callops never follows links below the landing root"

# Why an entry below the landing root is skipped, in the order the run summary says them.
NOT_A_DATE = "not a date folder (YYYY-MM-DD)"
OUTSIDE_DAY = "a file outside a day folder (deliveries go in landing/<feed>/<tenant>/<YYYY-MM-DD>/)"
UNKNOWN_FEED = f"unknown feed (known: {', '.join(FEEDS)})"
HIDDEN = "hidden (a dot name)"
NESTED = "a folder inside a day folder (only its files are read)"
NOT_REGULAR = "not a regular file (a pipe, socket or device)"
# Counted, not named: expected in any landing zone, and too many to name (one per folder). A hidden
# folder (or link) is named: it may hold deliveries (a tenant or day folder renamed by mistake).
IN_FLIGHT = f"file(s) still in transfer ({', '.join(IN_FLIGHT_SUFFIXES)}): they load once renamed"
HIDDEN_FILE = "hidden file(s) (dot names: .DS_Store, transfer temporaries)"
SKIP_REASONS = (NOT_A_DATE, OUTSIDE_DAY, UNKNOWN_FEED, HIDDEN, NESTED, NOT_REGULAR, IN_FLIGHT, HIDDEN_FILE)
COUNTED = (IN_FLIGHT, HIDDEN_FILE)
SKIPPED_SHOWN = 5  # paths named per reason; the rest are "and N more"


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
class Skipped:
    """An entry below the landing root that is not a delivery, and why: not a failure (the run goes
    on without it), but named in the run summary and the load step's detail."""

    display: str  # landing/<path below the landing root>
    reason: str  # one of SKIP_REASONS

    @classmethod
    def at(cls, root: Path, path: Path, reason: str) -> Skipped:
        return cls("landing/" + "/".join(path.relative_to(root).parts), reason)


def skipped_lines(skipped: list[Skipped], shown: int = SKIPPED_SHOWN) -> list[str]:
    """The skipped entries in a few lines, one per reason: its first ``shown`` paths and how many
    more, or only a count for files still in transfer and hidden files."""
    lines = []
    for reason in SKIP_REASONS:
        paths = sorted({entry.display for entry in skipped if entry.reason == reason})
        if not paths:
            continue
        if reason in COUNTED:
            lines.append(f"{len(paths)} {reason}")
            continue
        more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
        lines.append(f"{reason}: {', '.join(paths[:shown])}{more}")
    return lines


@dataclass(frozen=True)
class DayFolder:
    feed: str
    tenant_id: str
    day: dt.date
    path: Path


@dataclass
class Scan:
    """What discovery found: the deliveries, the links it refused (by name, in the run's problems), and
    what it skipped (by name, in the run summary)."""

    deliveries: list[Delivery] = field(default_factory=list)
    refused: list[RefusedLink] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def parse_day(text: str) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None
    return day if day.isoformat() == text else None


def root(landing: Path | None = None) -> Path:
    """The landing root with its own links resolved, once: nothing below it is followed."""
    return (landing or settings.landing_dir()).resolve()


def _entries(folder: Path, tolerant: bool) -> list[Path]:
    """A folder's entries, sorted; [] for an unreadable folder when ``tolerant`` (the sensors poll
    again), else the error."""
    try:
        return sorted(folder.iterdir())
    except OSError:
        if tolerant:
            return []
        raise


def _kind(path: Path) -> str | None:
    """``link``, ``folder``, ``file`` (regular) or ``other`` (pipe, socket, device), without following
    a link; None for an entry gone since its folder was listed."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return None
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "folder"
    return "file" if stat.S_ISREG(mode) else "other"


def _hidden(base: Path, path: Path, kind: str) -> Skipped:
    """A dot name: a folder (or a link) is named, a file only counted."""
    return Skipped.at(base, path, HIDDEN if kind in ("folder", "link") else HIDDEN_FILE)


def _not_a_folder(base: Path, path: Path, kind: str) -> Skipped | None:
    """Why an entry where a feed, tenant or day folder belongs is skipped (a dot name, a file, a pipe or
    device), or None: it is a folder or a link, judged by the caller."""
    if path.name.startswith("."):
        return _hidden(base, path, kind)
    if kind in ("file", "other"):
        return Skipped.at(base, path, OUTSIDE_DAY if kind == "file" else NOT_REGULAR)
    return None


def _tenant_days(
    base: Path,
    feed: str,
    tenant_dir: Path,
    start: dt.date | None,
    end: dt.date | None,
    tolerant: bool,
    found: tuple[list[DayFolder], list[RefusedLink], list[Skipped]],
) -> None:
    """A tenant folder's day folders of days in [start, end] (if given) into ``found``, with its links
    refused and what is not a day folder skipped; a day folder out of the range is neither."""
    folders, refused, skipped = found
    for day_dir in _entries(tenant_dir, tolerant):
        day = parse_day(day_dir.name)
        if day is not None and ((start and day < start) or (end and day > end)):
            continue  # not looked at: the cost of a range follows its days
        kind = _kind(day_dir)
        if kind is None:
            continue
        if entry := _not_a_folder(base, day_dir, kind):
            skipped.append(entry)
        elif day is None:
            skipped.append(Skipped.at(base, day_dir, NOT_A_DATE))  # a link too: never followed
        elif kind == "link":
            refused.append(RefusedLink.at(base, day_dir))
        else:
            folders.append(DayFolder(feed, tenant_dir.name, day, day_dir))


def day_folders(
    landing: Path | None = None,
    feed: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    tolerant: bool = False,
) -> tuple[list[DayFolder], list[RefusedLink], list[Skipped]]:
    """The day folders of the landing zone (of one feed, of days in [start, end] if given), the links
    among their feed, tenant and day folders, refused unfollowed, and what is skipped on the way.

    A feed folder callops has no loader for is skipped whole, unread (a landing zone is often shared
    with other systems' folders); a tenant folder is read whether or not callops.yml knows it."""
    base = root(landing)
    found: tuple[list[DayFolder], list[RefusedLink], list[Skipped]] = ([], [], [])
    _, refused, skipped = found
    if not base.is_dir():
        return found
    for feed_dir in _entries(base, tolerant):
        if feed and feed_dir.name != feed:
            continue
        kind = _kind(feed_dir)
        if kind is None:
            continue
        if entry := _not_a_folder(base, feed_dir, kind):
            skipped.append(entry)
        elif feed_dir.name not in FEEDS:
            skipped.append(Skipped.at(base, feed_dir, UNKNOWN_FEED))  # a link too: never followed
        elif kind == "link":
            refused.append(RefusedLink.at(base, feed_dir))
        else:
            for tenant_dir in _entries(feed_dir, tolerant):
                kind = _kind(tenant_dir)
                if kind is None:
                    continue
                if entry := _not_a_folder(base, tenant_dir, kind):
                    skipped.append(entry)
                elif kind == "link":
                    refused.append(RefusedLink.at(base, tenant_dir))
                else:
                    _tenant_days(base, feed_dir.name, tenant_dir, start, end, tolerant, found)
    return found


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


def tenant_skips(feed: str, tenant_id: str, day: dt.date, landing: Path | None = None) -> list[Skipped]:
    """What a scheduled load of one tenant's feed folder of ``day`` skips: the tenant folder's entries
    that are not day folders (a delivery put in ``20260302/`` waits in vain for ``2026-03-02/``), and
    the day folder's that are not deliveries. Nothing below a link is listed."""
    base = root(landing)
    tenant_dir = base / feed / tenant_id
    if _kind(tenant_dir.parent) != "folder" or _kind(tenant_dir) != "folder":
        return []
    found: tuple[list[DayFolder], list[RefusedLink], list[Skipped]] = ([], [], [])
    _tenant_days(base, feed, tenant_dir, day, day, True, found)
    folders, _, skipped = found
    for folder in folders:
        skipped += day_files(folder, tolerant=True)[2]
    return skipped


def day_files(folder: DayFolder, tolerant: bool = False) -> tuple[list[Path], list[RefusedLink], list[Skipped]]:
    """The delivered files of a day folder, its links, and what is not a delivery (hidden and
    in-flight files, folders, pipes, sockets and devices)."""
    base = folder.path.parents[2]
    files: list[Path] = []
    refused: list[RefusedLink] = []
    skipped: list[Skipped] = []
    for path in _entries(folder.path, tolerant):
        kind = _kind(path)
        if kind is None:
            continue
        if path.name.startswith("."):
            skipped.append(_hidden(base, path, kind))
        elif kind == "link":  # whatever its name: a link is never a delivery in flight either
            refused.append(RefusedLink.at(base, path))
        elif kind != "file":
            skipped.append(Skipped.at(base, path, NESTED if kind == "folder" else NOT_REGULAR))
        elif path.name.endswith(IN_FLIGHT_SUFFIXES):
            skipped.append(Skipped.at(base, path, IN_FLIGHT))
        else:
            files.append(path)
    return files, refused, skipped


def scan(start: dt.date, end: dt.date, landing: Path | None = None) -> Scan:
    """Every file delivered on a day in [start, end], in a stable order, the links refused, and what
    was skipped (day folders out of the range are not: they are not looked into)."""
    folders, refused, skipped = day_folders(landing, start=start, end=end)
    found = Scan(refused=refused, skipped=skipped)
    for folder in folders:
        files, links, skips = day_files(folder)
        found.deliveries += [Delivery(folder.feed, folder.tenant_id, folder.day, path) for path in files]
        found.refused += links
        found.skipped += skips
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
