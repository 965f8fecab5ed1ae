"""Seeded random delivery sequences, each step built incrementally and compared with a full build.

The incremental-equals-full test (tests/dbt/test_incremental_build.py) and ``make test-generative`` use
this. A *pool* is a simulated landing zone of two tenants in different zones, across a daylight-saving
change, with every feed; its telephony is also written as intraday chunks (``simulate_chunks``: the
same calls as ``callops simulate --intraday-minutes`` writes them). A *sequence* (``plan_steps``: a
seed's random choice) delivers the pool's files into a fresh ``CALLOPS_HOME`` step by step: new days,
files held back and delivered late, corrected re-deliveries (lines removed), truncated ones (the last
lines cut), a file re-delivered empty, and a file restored to its original content. Some days after
the backfill arrive in chunks: their telephony chunks are delivered in a few batches (what had landed
by a random time of day, then more), each batch a step, the day's other feeds with its last batch; a
chunked day may be followed by its tail (the next delivery day) or be the sequence's last (left
partial), and the other kinds of step apply to chunks too (a rotated log re-sent corrected or cut).

After each step the pipeline runs through its own step functions (``pipeline.load_deliveries``,
``build_marts``, ``validate_marts``), as ``callops run`` does, and its tables are compared with a
*reference*: a fresh ``CALLOPS_HOME`` holding a copy of the landing zone as it now is (every file
delivered so far at its latest content), loaded and built whole. Only the public entry points are
driven, never the incremental macros, so any later rewrite of them is checked the same way.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import dataclasses
import datetime as dt
import os
import random
import re
import shutil
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import duckdb
import yaml

POOL_START = dt.date(2026, 3, 20)
POOL_DAYS = 12  # 2026-03-29 is a 23-hour day in Europe/Stockholm
CALLS_PER_DAY = 40
# The first days arrive together, as a backfill: enough history for a forecast (the same weekday a
# week before), so a later change to one of them reaches the forecasts of the week after.
BACKFILL_DAYS = (7, 9)
# Connect's hourly Firehose files, joined into this many per delivery day (a longer buffer interval):
# fewer files to load at every step's full build, still a contact's versions in several files.
CTR_FILES_PER_DAY = 3
# Intraday: the share of the days after the backfill whose telephony arrives in chunks of CHUNK_MINUTES
# (30 rather than the usual 15: half the files for every step's full build to load, the same batches),
# delivered in CHUNK_BATCHES batches; a chunk's name ends in its local start (``-YYYYMMDD-HHMM``).
CHUNKED_DAY_SHARE = 0.5
CHUNK_MINUTES = 30
CHUNK_BATCHES = (2, 3)
CHUNK_NAME = re.compile(r"-(?P<day>\d{8})-(?P<time>\d{4})$")

CONFIG = (
    "tenants:\n"
    "  - {id: east, name: East, timezone: Asia/Shanghai, service_level_seconds: 10, fcr_window_days: 2}\n"
    "  - {id: west, name: West, timezone: Europe/Stockholm}\n"
)
ZONES = {tenant["id"]: tenant["timezone"] for tenant in yaml.safe_load(CONFIG)["tenants"]}

# Lineage columns: when a row was loaded and by which run. A full build of the same landing zone loads
# every file in one run, so these differ from an incremental history by design; no figure reads them.
LINEAGE_COLUMNS = frozenset({"loaded_at", "run_id"})
LAYERS = ("staging", "intermediate", "marts")


@dataclasses.dataclass(frozen=True)
class Step:
    """One change to the landing zone: ``kind`` and the files (paths relative to the landing root)."""

    kind: str  # deliver | chunks | late | correct | truncate | empty | restore
    files: tuple[str, ...]
    fraction: float = 0.0  # correct: share of lines removed; truncate: share of lines cut from the end
    label: str = ""

    def describe(self) -> str:
        what = self.label or (self.files[0] if len(self.files) == 1 else f"{len(self.files)} files")
        if self.kind == "truncate":
            return f"truncate {what}: the last {self.fraction:.0%} of its lines cut"
        if self.kind == "correct":
            return f"correct {what}: {self.fraction:.0%} of its lines removed"
        if self.kind == "empty":
            return f"re-deliver {what} empty"
        if self.kind == "restore":
            return f"restore {what} to its original content"
        if self.kind == "late":
            return f"deliver late {what}"
        if self.kind == "chunks":
            return f"deliver {what}"
        return f"deliver {what}"


def write_config(root: Path) -> Path:
    path = root / "callops.yml"
    path.write_text(CONFIG)
    return path


# One pseudonym key for the incremental warehouse and its references: each home would make its own.
PSEUDONYM_KEY = "generative-test-key"


@contextlib.contextmanager
def callops_home(home: Path, config: Path) -> Iterator[Path]:
    """``CALLOPS_HOME``, ``CALLOPS_CONFIG`` and the pseudonym key set for the block (read lazily)."""
    names = ("CALLOPS_HOME", "CALLOPS_CONFIG", "CALLOPS_PSEUDONYM_KEY")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(zip(names, (str(home), str(config), PSEUDONYM_KEY), strict=True))
    try:
        yield home
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def simulate_pool(root: Path, seed: int) -> Path:
    """The pool's landing zone: two tenants (queue_log; Connect CTR and agent-state CSV), every feed."""
    from callops.config import load_config
    from callops.simulate.run import simulate

    landing = root / "pool"
    config = write_config(root)
    with callops_home(root / "pool_home", config):
        simulate(
            load_config().tenants, tenants=2, days=POOL_DAYS, start=POOL_START, calls_per_day=CALLS_PER_DAY,
            seed=seed, landing=landing, workers=1, progress=None,
        )  # fmt: skip
    for day in landing.glob("telephony/*/*"):
        ctr = sorted(path for path in day.iterdir() if "-ctr-stream-" in path.name)
        size = max(1, -(-len(ctr) // CTR_FILES_PER_DAY))
        for group in (ctr[number : number + size] for number in range(0, len(ctr), size)):
            with group[0].open("ab") as joined:
                for path in group[1:]:
                    joined.write(path.read_bytes())
                    path.unlink()
    return landing


def simulate_chunks(root: Path, seed: int) -> Path:
    """The pool's telephony (the same calls: same seed) as CHUNK_MINUTES-minute intraday chunks."""
    from callops.config import load_config
    from callops.simulate.run import simulate

    chunks = root / "pool_chunks"
    with callops_home(root / "pool_home", write_config(root)):
        simulate(
            load_config().tenants, tenants=2, days=POOL_DAYS, start=POOL_START, calls_per_day=CALLS_PER_DAY,
            seed=seed, landing=chunks, workers=1, write_feeds=False, intraday_minutes=CHUNK_MINUTES, progress=None,
        )  # fmt: skip
    return chunks


def chunk_start(name: str) -> dt.datetime:
    """When a chunk (``<feed>/<tenant>/<day>/<file>-YYYYMMDD-HHMM``) starts, in UTC: its name gives the
    tenant's local start."""
    match = CHUNK_NAME.search(name)
    local = dt.datetime.strptime(match["day"] + match["time"], "%Y%m%d%H%M")
    return local.replace(tzinfo=zoneinfo.ZoneInfo(ZONES[name.split("/")[1]])).astimezone(dt.UTC)


def _units(pool: Path) -> dict[tuple[str, str], list[str]]:
    """The pool's files by (delivery day, feed/tenant), as paths relative to the landing root."""
    units: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for path in sorted(pool.glob("*/*/*/*")):
        feed, tenant, day = path.parts[-4:-1]
        units[day, f"{feed}/{tenant}"].append(str(path.relative_to(pool)))
    return units


def plan_steps(pool: Path, seed: int, steps: int, chunks: Path | None = None) -> list[Step]:
    """A seed's sequence: the first days delivered, then ``steps`` random changes. With ``chunks`` (the
    pool's telephony as chunks), some days after the first arrive in chunks, a batch a step."""
    rng = random.Random(seed)
    # chunking draws its own numbers: a sequence is the one it was before chunks until its first chunked day
    chunk_rng = random.Random(f"chunks {seed}")
    units = _units(pool)
    chunk_units = _units(chunks) if chunks is not None else {}
    days = sorted({day for day, _ in units})
    withheld: list[tuple[str, str]] = []
    delivered: list[str] = []
    changed: list[str] = []
    sequence: list[Step] = []
    chunked: set[str] = set()
    batches: list[Step] = []  # the chunked day's batches still to come

    def files_of(unit: tuple[str, str]) -> list[str]:
        return chunk_units[unit] if unit[0] in chunked and unit in chunk_units else units[unit]

    def deliver_day(day: str, kind: str = "deliver") -> Step:
        files: list[str] = []
        for unit in sorted(unit for unit in units if unit[0] == day):
            if rng.random() < 0.15:  # held back by the sender, delivered late
                withheld.append(unit)
            else:
                files += files_of(unit)
        delivered.extend(files)
        return Step(kind, tuple(files), label=f"delivery day {day} ({len(files)} files)")

    def chunk_day(day: str) -> list[Step]:
        """A chunked day as batches: the chunks that had landed by a few random times, in order, the
        day's other files with the last batch (the day's tail is the next delivery day)."""
        chunked.add(day)
        files = deliver_day(day).files
        pieces = [name for name in files if CHUNK_NAME.search(name)]
        others = tuple(name for name in files if not CHUNK_NAME.search(name))
        starts = {name: chunk_start(name) for name in pieces}
        times = sorted(set(starts.values()))
        count = min(chunk_rng.randint(*CHUNK_BATCHES), len(times))
        cuts = [times[number] for number in sorted(chunk_rng.sample(range(1, len(times)), max(0, count - 1)))]
        groups = [[] for _ in range(len(cuts) + 1)]  # a chunk goes in the batch of the cuts before its start
        for name in sorted(pieces):
            groups[bisect.bisect_right(cuts, starts[name])].append(name)
        planned = []
        for batch, end in zip(groups[:-1], cuts, strict=True):
            label = f"chunks of delivery day {day} up to {end:%H:%M} UTC ({len(batch)} files)"
            planned.append(Step("chunks", tuple(batch), label=label))
        label = f"the rest of delivery day {day}'s chunks ({len(groups[-1])} files, {len(others)} other files)"
        planned.append(Step("chunks", (*groups[-1], *others), label=label))
        return planned

    first_days = rng.randint(*BACKFILL_DAYS)
    backfill = [deliver_day(day) for day in days[:first_days]]
    files = tuple(name for step in backfill for name in step.files)
    label = f"delivery days {days[0]}..{days[first_days - 1]} ({len(files)} files)"
    sequence.append(Step("deliver", files, label=label))
    upcoming = days[first_days:]
    while len(sequence) < 1 + steps:
        # a chunked day's batches come before the next day, most often next; after its last batch the next
        # delivery day (the day's tail: calls still going at midnight) most often follows
        tail_due = bool(sequence[-1].kind == "chunks" and chunked and not batches)
        next_day = ["deliver"] * (3 if tail_due else 1) * bool(upcoming)
        choices = ["truncate", "correct", "empty"] + (["chunks"] * 4 if batches else next_day)
        choices += ["late"] * bool(withheld) + ["restore"] * bool(changed)
        kind = rng.choice(choices)
        if kind == "deliver" and chunk_units and chunk_rng.random() < CHUNKED_DAY_SHARE:
            batches = chunk_day(upcoming.pop(0))
            kind = "chunks"
        if kind == "chunks":
            sequence.append(batches.pop(0))
        elif kind == "deliver":
            sequence.append(deliver_day(upcoming.pop(0)))
        elif kind == "late":
            unit = withheld.pop(rng.randrange(len(withheld)))
            delivered.extend(files_of(unit))
            sequence.append(Step("late", tuple(files_of(unit)), label=f"{unit[1]} of delivery day {unit[0]}"))
        elif kind == "restore":
            path = changed.pop(rng.randrange(len(changed)))
            sequence.append(Step("restore", (path,)))
        else:
            # telephony files most often: they carry the state that crosses days
            telephony = [path for path in delivered if path.startswith("telephony/")]
            candidates = telephony if telephony and rng.random() < 0.75 else delivered
            path = rng.choice(candidates)
            changed.append(path)
            fraction = round(rng.uniform(0.1, 0.5), 2)
            sequence.append(Step(kind, (path,), fraction))
    return sequence


def apply_step(step: Step, pool: Path, landing: Path, rng: random.Random, chunks: Path | None = None) -> None:
    """Change the landing zone as ``step`` says (a re-delivery rewrites the file in place, as SFTP does);
    chunk files come from ``chunks``."""
    for name in step.files:
        source = (chunks if chunks is not None and CHUNK_NAME.search(name) else pool) / name
        target = landing / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if step.kind in ("deliver", "chunks", "late", "restore"):
            shutil.copyfile(source, target)
            continue
        lines = source.read_bytes().splitlines(keepends=True)
        header = lines[:1] if CHUNK_NAME.sub("", name).endswith(".csv") else []
        body = lines[len(header) :]
        if step.kind == "empty":
            kept: list[bytes] = []
            header = []
        elif step.kind == "truncate":
            kept = body[: round(len(body) * (1 - step.fraction))]
        else:  # correct: a share of the records removed, anywhere in the file
            removed = set(rng.sample(range(len(body)), round(len(body) * step.fraction)))
            kept = [line for number, line in enumerate(body) if number not in removed]
        target.write_bytes(b"".join(header + kept))


def run_pipeline(run_id: str, first: dt.date, last: dt.date) -> tuple[str, str]:
    """``callops run``'s steps on the delivery days [first, last]; returns the build plan and how the
    gate ended (a blocked gate leaves its partitions pending for the next build, as in production)."""
    from callops import pipeline

    pipeline.load_deliveries(run_id, first, last)
    plan = pipeline.build_marts(run_id)["plan"]
    try:
        pipeline.validate_marts(run_id)
    except pipeline.DataProblem as problem:
        return plan, f"gate blocked: {str(problem)[:200]}"
    return plan, "gate passed"


def build_reference(landing: Path, home: Path, config: Path, first: dt.date, last: dt.date) -> Path:
    """A fresh warehouse of ``landing`` as it is now, loaded and built whole; returns its file."""
    from callops import dbt, pipeline, settings

    shutil.rmtree(home, ignore_errors=True)
    with callops_home(home, config):
        shutil.copytree(landing, settings.landing_dir())
        pipeline.load_deliveries("reference", first, last)
        built = dbt.run_models()
        assert built.success, f"the reference build failed: {built.failures or built.error}"
        return settings.build_db_path()


def _table_rows(con: duckdb.DuckDBPyConnection, database: str, schema: str, table: str) -> collections.Counter:
    columns = [
        name
        for (name,) in con.execute(
            "select column_name from duckdb_columns() where database_name = ? and schema_name = ? "
            "and table_name = ? order by column_index",
            [database, schema, table],
        ).fetchall()
        if name not in LINEAGE_COLUMNS
    ]
    selected = ", ".join(f'"{name}"' for name in columns)
    # floats rounded: DuckDB's parallel sums may differ in the last bits between two builds; lists as tuples
    return collections.Counter(
        tuple(
            round(value, 6) if isinstance(value, float) else tuple(value) if isinstance(value, list) else value
            for value in row
        )
        for row in con.execute(f'select {selected} from "{database}"."{schema}"."{table}"').fetchall()
    )


def compare(incremental: Path, reference: Path, layers: tuple[str, ...]) -> dict[str, str]:
    """Table -> how it differs, for every table of ``layers`` in the two warehouses ({} when equal)."""
    differences: dict[str, str] = {}
    con = duckdb.connect()
    try:
        con.execute(f"attach '{incremental}' as incremental (read_only)")
        con.execute(f"attach '{reference}' as reference (read_only)")
        con.execute("set TimeZone = 'UTC'")
        tables = {
            database: {
                (schema, table)
                for schema, table in con.execute(
                    "select schema_name, table_name from duckdb_tables() where database_name = ? "
                    f"and schema_name in ({', '.join('?' * len(layers))})",
                    [database, *layers],
                ).fetchall()
            }
            for database in ("incremental", "reference")
        }
        for schema, table in sorted(tables["incremental"] ^ tables["reference"]):
            where = "incremental" if (schema, table) in tables["incremental"] else "reference"
            differences[f"{schema}.{table}"] = f"only in the {where} build"
        for schema, table in sorted(tables["incremental"] & tables["reference"]):
            ours = _table_rows(con, "incremental", schema, table)
            theirs = _table_rows(con, "reference", schema, table)
            if ours != theirs:
                extra, missing = ours - theirs, theirs - ours
                sample = next(iter(extra or missing))
                differences[f"{schema}.{table}"] = (
                    f"{sum(extra.values())} row(s) only in the incremental build, {sum(missing.values())} only "
                    f"in the full build; e.g. {'incremental' if extra else 'full'}: {sample}"
                )
    finally:
        con.close()
    return differences


@dataclasses.dataclass
class Played:
    """What a sequence did: each step with its build plan and gate, and the first difference found."""

    seed: int
    steps: list[tuple[Step, str, str]] = dataclasses.field(default_factory=list)  # step, plan, gate
    failure: str | None = None

    def describe(self) -> str:
        return "\n".join(
            f"  {number}. {step.describe()}\n     build: {plan}; {gate}"
            for number, (step, plan, gate) in enumerate(self.steps, start=1)
        )


def run_sequence(root: Path, seed: int, steps: int) -> Played:
    """Play seed ``seed``'s sequence, stopping at the first step whose tables differ from a full build.

    Marts are compared after every step, every layer after the last.
    """
    from callops import settings

    pool, chunks = simulate_pool(root, seed), simulate_chunks(root, seed)
    config = write_config(root)
    sequence = plan_steps(pool, seed, steps, chunks)
    rng = random.Random(seed * 7919)
    first = POOL_START - dt.timedelta(days=1)
    last = POOL_START + dt.timedelta(days=POOL_DAYS + 1)
    played = Played(seed)
    with callops_home(root / "incremental", config):
        landing = settings.landing_dir()
        warehouse_file = settings.build_db_path()
    for number, step in enumerate(sequence, start=1):
        apply_step(step, pool, landing, rng, chunks)
        with callops_home(root / "incremental", config):
            plan, gate = run_pipeline(f"step_{number:02d}", first, last)
        played.steps.append((step, plan, gate))
        reference = build_reference(landing, root / "reference", config, first, last)
        layers = LAYERS if number == len(sequence) else ("marts",)
        if differences := compare(warehouse_file, reference, layers):
            listing = "\n".join(f"  {table}: {how}" for table, how in differences.items())
            played.failure = (
                f"seed {seed}: after step {number} the incremental build differs from a full build of the same "
                f"landing zone ({', '.join(layers)} compared)\nsteps:\n{played.describe()}\ndifferences:\n{listing}"
            )
            break
    return played
