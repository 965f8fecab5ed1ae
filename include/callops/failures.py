"""Failures that say why: a full disk, and the channel that carries a step's failure to `callops run`.

A full disk fails whichever write meets it first, deep inside DuckDB, dbt or Great Expectations, with
that library's error; and on that disk neither the build warehouse (``ops.run_steps``) nor the Airflow
log can record it. So:

- each pipeline step turns a disk-full error into :class:`DiskFull`, which says what the step was doing
  and how much room is left where: "no space left on device while writing the published files, 0.4 MB
  free under /srv/callops/published" (:func:`writing`); the task then fails without retrying;
- `callops run` hands its Airflow process the write end of a pipe (:class:`Channel`, passed as
  ``CALLOPS_FAILURE_FD``): each step of ``callops_pipeline`` writes there whether it failed and why
  (:func:`report`). A pipe lives in memory, so the command can name the step and the cause whatever the
  disk let the warehouse and the log record.

Nothing here needs the disk: the message is built from the error and ``statvfs``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

FAILURE_FD_ENV = "CALLOPS_FAILURE_FD"
REPORT_CHARS = 2000  # of a reported message: a report stays one atomic pipe write

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# How DuckDB, SQLite and dbt word it once the OSError itself is gone (dbt and DuckDB keep only text).
DISK_FULL_TEXTS = ("no space left on device", "disk quota exceeded", "database or disk is full")
QUOTED_PATH = re.compile(r"""["'](/[^"']+)["']""")


class DiskFull(RuntimeError):
    """No space left on device while ``doing`` something; the message says what, and the room left where."""

    def __init__(self, doing: str, path: Path | str) -> None:
        self.doing, self.path = doing, nearest_dir(Path(path))
        super().__init__(f"no space left on device while {doing}, {free_text(self.path)} free under {self.path}")


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    """``error`` and the errors it was raised from or while handling."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def is_disk_full(error: BaseException | None) -> bool:
    """``error`` (or one it came from) is a full disk or an exceeded quota, as an OSError or in words."""
    for link in _chain(error):
        if isinstance(link, DiskFull) or (isinstance(link, OSError) and link.errno in DISK_FULL_ERRNOS):
            return True
        if any(text in str(link).lower() for text in DISK_FULL_TEXTS):
            return True
    return False


def where(error: BaseException, default: Path) -> Path:
    """Where the failed write went: ``default`` (the directory the step writes), unless the error names a
    path outside it (the OSError's, a copy's destination; else the last absolute path quoted in the
    message, as DuckDB's ``Could not write file "/…/build.duckdb.wal"``): then that path."""
    for link in _chain(error):
        if isinstance(link, OSError) and (link.filename2 or link.filename):
            found = Path(os.fsdecode(link.filename2 or link.filename))
        elif quoted := QUOTED_PATH.findall(str(link)):
            found = Path(quoted[-1])
        else:
            continue
        return default if found.absolute().is_relative_to(default.absolute()) else found
    return default


def disk_full(error: BaseException, doing: str, default: Path) -> DiskFull | None:
    """The :class:`DiskFull` ``error`` is or came from; a new one (``doing``, where it wrote) for another
    disk-full error; None when the disk is not the cause."""
    for link in _chain(error):
        if isinstance(link, DiskFull):
            return link
    return DiskFull(doing, where(error, default)) if is_disk_full(error) else None


@contextlib.contextmanager
def writing(doing: str, path: Path, keep: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Raise :class:`DiskFull` (``doing``: what the block does, "writing the published files"; ``path``:
    where it writes when the error does not say) for a disk-full error inside the block. ``keep``:
    errors passed on as they are (a data problem whose text quotes a delivery is no full disk)."""
    try:
        yield
    except (DiskFull, *keep):
        raise
    except Exception as error:
        full = disk_full(error, doing, path)
        if full is None:
            raise
        raise full from error


def nearest_dir(path: Path) -> Path:
    """``path`` when it is a directory, else the nearest existing directory above it."""
    path = path.absolute()
    while not path.is_dir() and path != path.parent:
        path = path.parent
    return path


def free_mb(path: Path) -> float:
    """MiB free for this user on the file system holding ``path``."""
    return shutil.disk_usage(nearest_dir(path)).free / (1 << 20)


def free_text(path: Path) -> str:
    """``free_mb`` as "0.4 MB" (one decimal below 10) or "1,234 MB"; "? MB" when it cannot be read."""
    try:
        free = free_mb(path)
    except OSError:
        return "? MB"
    return f"{free:.1f} MB" if free < 10 else f"{free:,.0f} MB"


# --- the failure channel --------------------------------------------------------------------------


@dataclass(frozen=True)
class Reported:
    """A step's failure as it reported it: why, and whether the build warehouse has it too (the step
    recorded it in ``ops.run_steps`` or ``ops.runs``, where the run summary shows it)."""

    message: str
    recorded: bool = False


def report(step: str, message: str | None, recorded: bool = False) -> None:
    """Tell the `callops run` waiting on this process that ``step`` failed (``message``: why; ``recorded``:
    the build warehouse has it too) or, with None, that it succeeded (a retried fault is then no longer
    a failure). Nothing outside `callops run`; a report that cannot be written is dropped (it never
    fails the step)."""
    descriptor = os.environ.get(FAILURE_FD_ENV)
    if not descriptor:
        return
    text = message if message is None else message[:REPORT_CHARS]
    line = json.dumps({"step": step, "message": text, "recorded": recorded})
    with contextlib.suppress(OSError, ValueError):
        os.write(int(descriptor), (line + "\n").encode("utf-8"))


class Channel:
    """The pipe `callops run` gives its Airflow process: pass ``fd`` to the child (``pass_fds``, and its
    number in ``CALLOPS_FAILURE_FD``), then, once the child has exited, :meth:`received` says which steps
    failed and why. The write end does not block: should the pipe ever fill (64 KiB of reports), a
    report is dropped rather than the run stalled."""

    def __init__(self) -> None:
        self._read, self.fd = os.pipe()
        os.set_blocking(self.fd, False)

    def received(self) -> dict[str, Reported]:
        """step -> its failure, for each step whose last report is a failure, in the order reported.
        Closes the pipe: call it once the child is gone."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        chunks = []
        if self._read >= 0:
            with os.fdopen(self._read, "rb") as pipe:
                self._read = -1
                while chunk := pipe.read(1 << 16):
                    chunks.append(chunk)
        last: dict[str, Reported | None] = {}
        for line in b"".join(chunks).decode("utf-8", errors="replace").splitlines():
            with contextlib.suppress(ValueError, TypeError, KeyError):
                item = json.loads(line)
                last.pop(item["step"], None)
                last[str(item["step"])] = item["message"] and Reported(str(item["message"]), bool(item["recorded"]))
        return {step: failure for step, failure in last.items() if failure}

    def close(self) -> None:
        """Close what :meth:`received` did not (a run that never started)."""
        for descriptor in (self.fd, self._read):
            if descriptor >= 0:
                with contextlib.suppress(OSError):
                    os.close(descriptor)
        self.fd = self._read = -1
