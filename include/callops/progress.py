"""Progress of long work: what is happening, how far along, how long it will still take.

`callops run` waits for an Airflow process that does the work, so the work reports through a file:
the task in progress keeps ``CALLOPS_HOME/runs/<run_id>/progress.json`` up to date (its step, files or
dbt nodes done of total, rows loaded) and the CLI reads it while it waits. The file is replaced
atomically (a temp file, then ``os.replace``), at most once a second, so a reader never sees half
of it. A run writes it only when that directory exists: `callops run` creates it, scheduled runs
(`make airflow`) have none and write nothing.

A person sees a line at most every ``PRINT_EVERY_SECONDS``, on stderr, and none for work shorter
than that. Time left is the rate so far carried forward: ``elapsed * (1 - fraction) / fraction``.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import contextvars
import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from callops import settings

PROGRESS_FILE = "progress.json"
PRINT_EVERY_SECONDS = 10.0
WRITE_EVERY_SECONDS = 1.0
# A dbt build without an earlier one to go by counts nodes, which differ widely in cost (a model
# against a not_null test): too little is known before this share of them is done.
ROUGH_ESTIMATE_AFTER = 0.25

STEPS = {
    "load": "deliveries into the build warehouse",
    "build": "dbt build: models and data tests",
    "validate": "Great Expectations mart gate",
    "publish": "writing the published files",
    "serve": "serving the marts from PostgreSQL (when CALLOPS_SERVING_URL is set)",
    "finish": "closing the run record",
}


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def time_left(elapsed: float, fraction: float | None) -> float | None:
    """Seconds still to go when ``fraction`` (0-1) of the work took ``elapsed`` seconds; None before any."""
    if fraction is None or fraction <= 0 or elapsed < 0:
        return None
    if fraction >= 1:
        return 0.0
    return elapsed * (1 - fraction) / fraction


class Every:
    """Says when something is due: at most once per ``seconds``, and not in the first ``seconds``."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.clock = seconds, clock
        self.last = clock()
        self.count = 0

    def due(self) -> bool:
        now = self.clock()
        if now - self.last < self.seconds:
            return False
        self.last = now
        self.count += 1
        return True


# --- the file -------------------------------------------------------------------------------------


def run_dir(run_id: str) -> Path:
    return settings.runs_dir() / run_id


def path_for(run_id: str) -> Path:
    return run_dir(run_id) / PROGRESS_FILE


def write(path: Path, state: dict) -> None:
    """Replace ``path`` with ``state`` as JSON in one step (a reader sees the old or the new file)."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temp.write_text(json.dumps(state, default=str))
    os.replace(temp, path)


def read(path: Path) -> dict | None:
    """The last state written, or None (no file yet, or not one this module wrote)."""
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and "step" in state else None


class Tracker:
    """One step's progress, written to ``path`` (None: kept in memory only) at most every ``every``
    seconds; an update that falls between writes is written when the interval is up, so the file is
    never more than ``every`` seconds behind. Thread-safe (dbt reports from its worker threads).
    Writing is a courtesy: an error writing never reaches the work."""

    def __init__(self, path: Path | None, step: str = "", run_id: str = "", every: float | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.path, self.clock = path, clock
        self.every = WRITE_EVERY_SECONDS if every is None else every
        self.state: dict[str, Any] = {"run_id": run_id, "step": step, "step_started_at": clock()}
        self._lock = threading.RLock()
        self._written_at = -math.inf
        self._timer: threading.Timer | None = None
        self._dbt_times: dict[str, float] = {}
        self._dbt_done_seconds = 0.0

    def update(self, **fields: Any) -> None:
        with self._lock:
            self.state.update(fields)
            wait = self._written_at + self.every - self.clock()
            if wait > 0:
                if self._timer is None and self.path is not None:
                    self._timer = threading.Timer(wait, self.flush)
                    self._timer.daemon = True
                    self._timer.start()
                return
            self._write()

    def flush(self) -> None:
        with self._lock:
            self._write()

    def finish(self, failed: bool = False) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self.state.update(step_finished_at=self.clock(), current=None, failed=failed)
            self._write()

    def _write(self) -> None:
        self._timer = None
        self._written_at = self.clock()
        if self.path is None:
            return
        self.state["updated_at"] = self._written_at
        with contextlib.suppress(OSError):
            write(self.path, self.state)

    # --- what the steps report --------------------------------------------------------------------

    def load_files(self, deliveries: Sequence, load_one: Callable[[Any], Any], workers: int = 1) -> list:
        """``load_one(delivery)`` for each delivery (anything with ``path`` and ``display``, and its
        ``feed`` and ``tenant_id``; its outcome has ``rows_loaded``), counting files and rows; time
        left goes by each kind of file's pace so far (:class:`LoadPace`). ``workers`` > 1: that many
        deliveries at once (``load_one`` must be thread-safe); the outcomes come back in the
        deliveries' order."""
        sizes = []
        for delivery in deliveries:
            try:
                sizes.append(delivery.path.stat().st_size)
            except OSError:
                sizes.append(0)
        kinds = [file_kind(delivery) for delivery in deliveries]
        pace = LoadPace(kinds, sizes)
        rows = done = 0
        self.update(unit="files", done=0, total=len(deliveries), rows=0, fraction=None, basis=LoadPace.BASIS)
        outcomes: list = [None] * len(deliveries)

        def timed(delivery) -> tuple[Any, float]:
            began = self.clock()
            outcome = load_one(delivery)
            return outcome, self.clock() - began

        def finished(index: int, outcome, seconds: float) -> None:
            nonlocal rows, done
            outcomes[index] = outcome
            with self._lock:
                done += 1
                rows += outcome.rows_loaded
                pace.add(kinds[index], sizes[index], seconds)
                self.update(done=done, rows=rows, fraction=pace.fraction())

        if workers <= 1 or len(deliveries) <= 1:
            for index, delivery in enumerate(deliveries):
                self.update(current=delivery.display)
                finished(index, *timed(delivery))
            return outcomes
        with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="callops-load") as pool:
            pending = {pool.submit(timed, delivery): index for index, delivery in enumerate(deliveries)}
            try:
                for future in concurrent.futures.as_completed(pending):
                    index = pending[future]
                    finished(index, *future.result())
                    unfinished = [i for f, i in pending.items() if not f.done()]
                    if unfinished:
                        self.update(current=deliveries[min(unfinished)].display)
            except BaseException:
                for future in pending:  # the step failed (a full disk): the files not started stay unread
                    future.cancel()
                raise
        return outcomes

    def dbt_callbacks(self) -> list[Callable]:
        """dbtRunner callbacks counting finished nodes of total (``ConcurrencyLine.node_count``).

        Time left goes by the previous build's node times (its run_results.json, read now, before
        dbt replaces it) when that build had the same number of nodes; otherwise by node count,
        and only once ``ROUGH_ESTIMATE_AFTER`` of the nodes are done."""
        if self.path is None:
            return []
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            results = json.loads((settings.dbt_work_dir() / "target" / "run_results.json").read_text())["results"]
            self._dbt_times = {r["unique_id"]: float(r["execution_time"] or 0) for r in results}
        return [self.dbt_event]

    def dbt_event(self, event) -> None:
        try:
            name = event.info.name
            if name == "ConcurrencyLine":
                total = int(event.data.node_count)
                if len(self._dbt_times) != total or sum(self._dbt_times.values()) <= 0:
                    self._dbt_times = {}
                self._dbt_done_seconds = 0.0
                basis = "the last build's node times" if self._dbt_times else "node count"
                self.update(unit="nodes", done=0, total=total, fraction=None, basis=basis, current=None)
            elif name == "NodeStart":
                info = event.data.node_info
                self.update(current=f"{info.resource_type} {info.node_name}")
            elif name == "NodeFinished":
                info = event.data.node_info
                if info.materialized == "ephemeral":
                    return
                with self._lock:
                    total = self.state.get("total") or 0
                    done = min(self.state.get("done", 0) + 1, total or math.inf)
                    if self._dbt_times:
                        self._dbt_done_seconds += self._dbt_times.get(info.unique_id, 0.0)
                        fraction = self._dbt_done_seconds / sum(self._dbt_times.values())
                    else:
                        fraction = done / total if total and done >= total * ROUGH_ESTIMATE_AFTER else None
                    self.update(done=done, fraction=fraction)
        except Exception:  # progress is a courtesy: it must never break a build
            return


def file_kind(delivery) -> tuple:
    """Deliveries whose bytes cost about the same to load: one tenant's feed (a tenant's exporter
    writes one format) and one file type (its extension: a contact CSV beside a log)."""
    types = tuple(suffix.lower() for suffix in delivery.path.suffixes if suffix[1:].isalpha())
    return getattr(delivery, "feed", ""), getattr(delivery, "tenant_id", ""), types


class LoadPace:
    """How far along a load of files of several kinds is, by the time it took so far.

    A byte of one format does not cost what a byte of another does (an Amazon Connect JSON record
    against a queue_log line, a small CSV's fixed cost against a large log), so the bytes of mixed
    files say little: each kind's pace is learned from its own files. The time a kind still needs
    is the seconds per byte its loaded files took, times its bytes still to read (per file when
    none of its loaded files had a byte); a kind not started yet is counted at the mean time per
    file so far. :meth:`fraction` is the time spent over that plus the time still needed, the
    share ``time_left`` carries forward (with several workers, the files' times overlap alike)."""

    BASIS = "each kind of file's pace so far"

    def __init__(self, kinds: Sequence, sizes: Sequence[int]) -> None:
        self.files: collections.Counter = collections.Counter(kinds)
        self.bytes: collections.Counter = collections.Counter()
        for kind, size in zip(kinds, sizes, strict=True):
            self.bytes[kind] += size
        self.files_done: collections.Counter = collections.Counter()
        self.bytes_done: collections.Counter = collections.Counter()
        self.seconds: collections.Counter = collections.Counter()

    def add(self, kind, size: int, seconds: float) -> None:
        """One file of ``kind`` and ``size`` bytes loaded in ``seconds``."""
        self.files_done[kind] += 1
        self.bytes_done[kind] += size
        self.seconds[kind] += max(seconds, 0.0)

    def seconds_left(self) -> float | None:
        """Loading seconds the files not loaded yet need (summed over files); None before any is done."""
        done = sum(self.files_done.values())
        if not done:
            return None
        per_file = sum(self.seconds.values()) / done
        left = 0.0
        for kind, files in self.files.items():
            files_left = files - self.files_done[kind]
            if files_left <= 0:
                continue
            if not self.files_done[kind]:
                left += per_file * files_left
            elif self.bytes_done[kind]:
                left += self.seconds[kind] * (self.bytes[kind] - self.bytes_done[kind]) / self.bytes_done[kind]
            else:
                left += self.seconds[kind] / self.files_done[kind] * files_left
        return left

    def fraction(self) -> float | None:
        left = self.seconds_left()
        if left is None:
            return None
        spent = sum(self.seconds.values())
        if spent + left <= 0:  # files that took no measurable time: count them
            return sum(self.files_done.values()) / sum(self.files.values())
        return spent / (spent + left)


# the default, shared by every context outside a step, keeps its state in memory only (path None)
_current: contextvars.ContextVar[Tracker] = contextvars.ContextVar("callops_progress", default=Tracker(None))  # noqa: B039


def current() -> Tracker:
    """The tracker of the step running in this context (one that writes nothing outside a step)."""
    return _current.get()


@contextlib.contextmanager
def step(run_id: str, name: str) -> Iterator[Tracker]:
    """Report step ``name`` of run ``run_id`` to its progress file while the block runs (to no file
    when the run's directory does not exist); code inside reaches the tracker with :func:`current`."""
    path = path_for(run_id)
    tracker = Tracker(path if path.parent.is_dir() else None, step=name, run_id=run_id)
    tracker.flush()
    token = _current.set(tracker)
    try:
        yield tracker
    except BaseException:
        _current.reset(token)
        tracker.finish(failed=True)
        raise
    _current.reset(token)
    tracker.finish()


# --- what a person sees ---------------------------------------------------------------------------


STARTING = "starting Airflow (airflow dags test)"


def describe(state: dict | None, now: float | None = None) -> str:
    """One line from a progress file's state."""
    if not state:
        return STARTING
    now = time.time() if now is None else now
    name = state.get("step") or "?"
    started = float(state.get("step_started_at", now))
    in_step = now - started
    if state.get("step_finished_at") is not None:
        took = float(state["step_finished_at"]) - started
        if state.get("failed"):
            return f"{name} failed after {fmt_seconds(took)}; Airflow retries a fault, else goes on to finish"
        counted = ""
        if state.get("total") is not None:
            counted = f" ({state.get('done', 0):,}/{state['total']:,} {state.get('unit', '')}"
            counted += f", {state.get('rows', 0):,} rows loaded)" if state.get("unit") == "files" else ")"
        return f"{name} done in {fmt_seconds(took)}{counted}; Airflow is starting the next step"
    text = name + (f" ({STEPS[name]})" if name in STEPS else "")
    if state.get("total") is not None:
        text += f": {state.get('done', 0):,}/{state['total']:,} {state.get('unit', '')}"
        if state.get("unit") == "files":
            text += f", {state.get('rows', 0):,} rows loaded"
    if state.get("current"):
        text += f", now {_shorten(state['current'])}"
    text += f"; {fmt_seconds(in_step)} in {name}"
    left = time_left(in_step, state.get("fraction"))
    if left is not None:
        text += f", about {fmt_seconds(left)} left in it (by {state.get('basis', 'the rate so far')})"
    elif state.get("unit") == "nodes" and state.get("done"):
        text += f" (no estimate before {ROUGH_ESTIMATE_AFTER:.0%} of the nodes: no earlier build to go by)"
    return text


def _shorten(text: str, width: int = 90) -> str:
    """``text`` cut in the middle to ``width`` characters (a landing path keeps its tenant, day and
    the end of its file name)."""
    return text if len(text) <= width else text[: width // 2 - 1] + "..." + text[-(width - width // 2 - 2):]


class Watcher:
    """While the block runs, prints ``label [elapsed] <describe(progress file)>`` to ``stream`` every
    ``every`` seconds from a thread; work shorter than ``every`` prints nothing. Before the progress
    file exists (Airflow starting), ``waiting`` is printed once, not at every tick; None: nothing."""

    def __init__(self, path: Path, label: str, stream: TextIO, every: float = PRINT_EVERY_SECONDS,
                 waiting: str | None = STARTING) -> None:
        self.path, self.label, self.stream, self.every, self.waiting = path, label, stream, every, waiting
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.lines = 0
        self._waited = False

    def __enter__(self) -> Watcher:
        self.began = time.time()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def line(self) -> str | None:
        """The line to print now; None while nothing has started and ``waiting`` was said already."""
        now = time.time()
        state = read(self.path)
        if state is None:
            if self._waited or self.waiting is None:
                return None
            self._waited = True
            return f"{self.label} [{fmt_seconds(now - self.began)}] {self.waiting}"
        return f"{self.label} [{fmt_seconds(now - self.began)}] {describe(state, now)}"

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                text = self.line()
            except Exception as error:  # a courtesy: never stop the run over it
                text = f"{self.label}: (no progress: {type(error).__name__}: {error})"
            if text is None:
                continue
            print(text, file=self.stream, flush=True)
            self.lines += 1
