"""The simulator's intraday chunks (``--intraday-minutes``) and surge (``--surge-*``)."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from callops import cli
from callops.config import Tenant
from callops.simulate.model import O_IVR, QUEUES, Params, Surge, plan_tenant, simulate_day
from callops.simulate.run import simulate

TENANTS = (
    Tenant("shanghai_bank", "Shanghai", "Asia/Shanghai"),  # asterisk_queue_log
    Tenant("stockholm_telco", "Stockholm", "Europe/Stockholm"),  # amazon_connect_ctr (+ agent-state CSV)
    Tenant("ny_utility", "New York", "America/New_York"),  # callops_contact_csv (+ agent-state CSV)
    Tenant("utc_tenant", "UTC", "UTC"),  # asterisk_cdr (+ agent-state CSV)
)
DAY = dt.date(2026, 3, 3)  # a Tuesday
CHUNK = re.compile(r"^(?P<name>.+)-(?P<day>\d{8})-(?P<time>\d{4})$")


def _files(folder: Path) -> dict[str, list[str]]:
    return {path.name: path.read_text().splitlines(keepends=True) for path in sorted(folder.iterdir())}


def _has_header(name: str) -> bool:
    return name.startswith(("contacts_", "agent_states_"))


def _written_at(name: str, line: str) -> dt.datetime | None:
    """When the source wrote a line, for the formats where the line says it (aware datetime)."""
    if name.startswith("queue_log"):
        return dt.datetime.fromtimestamp(int(line.split("|")[0]), dt.UTC)
    if name.startswith("agent_states_"):
        return max(dt.datetime.fromisoformat(value) for value in next(csv.reader([line])) if "T" in value)
    return None


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("intraday")
    kwargs = dict(tenants=4, days=2, start=DAY, calls_per_day=300, seed=4, write_feeds=False, progress=None)
    simulate(TENANTS, landing=root / "whole", workers=1, **kwargs)
    simulate(TENANTS, landing=root / "chunked", workers=2, intraday_minutes=15, **kwargs)
    return root / "whole", root / "chunked"


def test_every_line_of_a_whole_day_file_is_in_exactly_one_chunk_of_the_same_folder(landed):
    whole_root, chunked_root = landed
    folders = sorted(p.relative_to(whole_root) for p in whole_root.glob("telephony/*/*"))
    assert len(folders) >= 8
    assert folders == sorted(p.relative_to(chunked_root) for p in chunked_root.glob("telephony/*/*"))
    for folder in folders:
        whole = _files(whole_root / folder)
        chunks: dict[str, list[str]] = collections.defaultdict(list)
        for name, lines in _files(chunked_root / folder).items():
            match = CHUNK.match(name)
            assert match, name
            if _has_header(match["name"]):
                assert lines[0] == whole[match["name"]][0], name  # every CSV chunk has the header
                lines = lines[1:]
            assert lines, f"{folder}/{name}: an empty window has no chunk"
            chunks[match["name"]] += lines
        assert set(chunks) == set(whole), folder
        for name, lines in whole.items():
            body = lines[1:] if _has_header(name) else lines
            assert collections.Counter(chunks[name]) == collections.Counter(body), f"{folder}/{name}"


def test_a_chunk_holds_what_was_written_in_its_local_window(landed):
    _, chunked_root = landed
    checked = collections.Counter()
    for path in sorted(chunked_root.glob("telephony/*/*/*")):
        match = CHUNK.match(path.name)
        zone = ZoneInfo(next(t.timezone for t in TENANTS if t.id == path.parts[-3]))
        begin = dt.datetime.strptime(match["day"] + match["time"], "%Y%m%d%H%M").replace(tzinfo=zone)
        assert int(match["time"][2:]) % 15 == 0
        lines = path.read_text().splitlines()[1 if _has_header(match["name"]) else 0:]
        if match["name"].startswith("contacts_"):  # a contact's rows once it ended: all of them in one chunk
            rows = list(csv.DictReader([path.read_text().splitlines()[0], *lines]))
            ended: dict[str, dt.datetime] = {}
            for row in rows:
                at = dt.datetime.fromisoformat(row["ended_at"])
                ended[row["contact_id"]] = max(ended.get(row["contact_id"], at), at)
            stamps = list(ended.values())
        else:
            stamps = [at for line in lines if (at := _written_at(match["name"], line)) is not None]
        for at in stamps:
            local = at.astimezone(zone).replace(tzinfo=None)
            assert begin.replace(tzinfo=None) <= local < begin.replace(tzinfo=None) + dt.timedelta(minutes=15), path
            checked[match["name"].split("_")[0].split("-")[0]] += 1
    assert checked["queue"] > 500 and checked["contacts"] > 300 and checked["agent"] > 100, checked
    contacts = [
        (p.name, row["contact_id"]) for p in chunked_root.glob("telephony/ny_utility/*/contacts_*")
        for row in csv.DictReader(p.read_text().splitlines())
    ]
    by_contact = collections.defaultdict(set)
    for name, contact in contacts:
        by_contact[contact].add(name)
    assert all(len(names) == 1 for names in by_contact.values())  # no contact split across chunks


def test_the_night_still_goes_to_the_next_delivery_day(landed):
    _, chunked_root = landed
    tail = [p.name for p in (chunked_root / "telephony" / "shanghai_bank" / "2026-03-05").iterdir()]
    assert tail and all(name.startswith("queue_log-20260305-20260305-00") for name in tail)


def _plan(params: Params, calls: float = 3000):
    tenant = TENANTS[1]
    return plan_tenant(tenant, 0, 1, calls_per_day=calls, seed=9, start=DAY, end=DAY + dt.timedelta(days=1),
                       params=params)


def _general_entries(calls, begin: int, end: int) -> int:
    first = (calls.stint_no == 0) & (calls.outcome != O_IVR) & (calls.queue == QUEUES.index("general"))
    return int((first & (calls.entered >= begin) & (calls.entered < end)).sum())


@pytest.mark.parametrize("factor", [3.0, 0.5])
def test_a_surge_multiplies_the_queues_arrivals_in_its_window_on_the_last_day_only(factor):
    plain, surged = _plan(Params()), _plan(Params(surge=Surge("general", 10 * 60, 60, factor)))
    last = DAY + dt.timedelta(days=1)
    zone = ZoneInfo(TENANTS[1].timezone)
    begin = int(dt.datetime.combine(last, dt.time(10), tzinfo=zone).timestamp())
    end = begin + 3600
    assert np.array_equal(simulate_day(plain, DAY).arrival, simulate_day(surged, DAY).arrival)  # the baseline
    before, after = simulate_day(plain, last), simulate_day(surged, last)
    assert _general_entries(before, begin, end) > 150
    ratio = _general_entries(after, begin, end) / _general_entries(before, begin, end)
    assert factor * 0.8 < ratio < factor * 1.2, ratio
    outside = (before.queue_entry < begin) | (before.queue_entry >= end)
    outside_after = (after.queue_entry < begin) | (after.queue_entry >= end)
    assert np.array_equal(before.queue_entry[outside], after.queue_entry[outside_after])  # the rest of the day


@pytest.mark.parametrize(("options", "message"), [
    (["--surge-queue", "sales", "--surge-start", "10:00", "--surge-minutes", "30"],
     "no queue 'sales': a simulated tenant's queues are general, vip, billing"),
    (["--surge-queue", "vip", "--surge-start", "10:00", "--surge-minutes", "30", "--surge-factor", "0"],
     "the surge factor must be above 0, not 0"),
    (["--surge-queue", "vip", "--surge-start", "23:30", "--surge-minutes", "45"],
     "the surge 23:30 + 45 minutes ends at 24:15, past midnight: it must end by 24:00"),
    (["--surge-start", "10:00"], "--surge-start, --surge-minutes and --surge-factor need --surge-queue"),
    (["--intraday-minutes", "0"], "--intraday-minutes must be 1-1440, not 0"),
    (["--intraday-minutes", "15", "--overlap-minutes", "5"], "not with --intraday-minutes"),
])
def test_bad_intraday_and_surge_options_are_refused_with_the_rule(home, capsys, options, message):
    code = cli.main(["simulate", "--tenants", "1", "--days", "1", "--start", "2026-03-02", "--workers", "1", *options])
    assert code == 2
    assert message in capsys.readouterr().out
    assert not (home / "landing").exists()


def test_the_cli_writes_chunks_and_a_surge(home):
    assert cli.main(["simulate", "--tenants", "1", "--days", "1", "--start", "2026-03-02", "--calls-per-day", "300",
                     "--workers", "1", "--telephony-only", "--intraday-minutes", "30", "--surge-queue", "general",
                     "--surge-start", "09:00", "--surge-minutes", "60", "--surge-factor", "2"]) == 0
    names = [p.name for p in (home / "landing" / "telephony" / "shanghai_bank" / "2026-03-02").iterdir()]
    assert "queue_log-20260302-20260302-0930" in names
    assert all(CHUNK.match(name) and name[-2:] in ("00", "30") for name in names)
