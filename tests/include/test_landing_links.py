"""Nothing outside the landing zone is read: links below the landing root are refused by name, unopened.

The landing root itself may be a link (resolved once); any feed, tenant or day folder or file below it
that is a link fails the run naming it, whatever it points to, and is never followed, opened or hashed:
in `callops run`'s discovery, in the scheduled loads' folder listing and in the landing watch.
"""

from __future__ import annotations

import builtins
import datetime as dt
import io
import os
from pathlib import Path

import pytest

from callops import landing, pipeline, scheduling, warehouse
from tests.conftest import deliver

LINK_REFUSED = "a symbolic link, refused: callops never follows links below the landing root"

DAY = dt.date(2026, 3, 2)
HEADER = "contact_id,queue_id,entered_at,outcome,wait_seconds,talk_seconds,answered_at\n"
ROWS = "c1,q1,2026-03-02 09:00:00,answered,10,100,\nc2,q1,2026-03-02 09:05:00,abandoned,30,,\n"


def query(sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connection(read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture
def never_opened(monkeypatch):
    """Fail the test if Python opens (to read or hash) any path under the folders given to it."""
    guarded: list[Path] = []
    real_io_open, real_os_open = io.open, os.open

    def check(path) -> None:
        if isinstance(path, int):
            return
        resolved = Path(os.fsdecode(path)).resolve()
        for folder in guarded:
            if resolved == folder or folder in resolved.parents:
                raise AssertionError(f"{path} was opened: it is outside the landing zone")

    def io_open(file, *args, **kwargs):
        check(file)
        return real_io_open(file, *args, **kwargs)

    def os_open(path, *args, **kwargs):
        check(path)
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(io, "open", io_open)
    monkeypatch.setattr(builtins, "open", io_open)
    monkeypatch.setattr(os, "open", os_open)
    return guarded


def outside(tmp_path: Path, name: str = "elsewhere") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "calls.csv").write_text(HEADER + ROWS)
    return folder


def test_a_day_folder_that_is_a_link_is_refused_by_name_and_none_of_its_rows_load(home, tmp_path, never_opened):
    elsewhere = outside(tmp_path)
    never_opened.append(elsewhere)
    deliver(home, "stockholm_telco", "2026-03-02", "good.csv", HEADER + "s1,q1,2026-03-02 09:00:00,answered,5,60,\n")
    tenant = home / "landing" / "telephony" / "shanghai_bank"
    tenant.mkdir(parents=True)
    (tenant / "2026-03-02").symlink_to(elsewhere, target_is_directory=True)

    summary = pipeline.load_deliveries("r1", DAY, DAY)

    assert summary["failed"] == [f"landing/telephony/shanghai_bank/2026-03-02: {LINK_REFUSED}"]
    assert query("select tenant_id, contact_id from raw.telephony_contacts") == [("stockholm_telco", "s1")]
    assert query("select action, tenant_id, delivery_date, message from ops.run_files where action = 'failed'") == [
        ("failed", "shanghai_bank", DAY, f"landing/telephony/shanghai_bank/2026-03-02: {LINK_REFUSED}")
    ]


def test_a_file_linked_to_a_file_or_a_pipe_elsewhere_is_refused_unopened(home, tmp_path, never_opened):
    secrets = tmp_path / "etc"
    secrets.mkdir()
    (secrets / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (secrets / "passwd").chmod(0o000)
    os.mkfifo(secrets / "pipe")  # opening it to read would block the load for ever
    never_opened.append(secrets)
    folder = deliver(home, "shanghai_bank", "2026-03-02", "good.csv", HEADER + ROWS).parent
    (folder / "passwd.csv").symlink_to(secrets / "passwd")
    (folder / "pipe.csv").symlink_to(secrets / "pipe")
    (folder / "calls.csv.part").symlink_to(secrets / "passwd")  # a link is never a file still in flight

    summary = pipeline.load_deliveries("r1", DAY, DAY)

    assert sorted(summary["failed"]) == [
        f"landing/telephony/shanghai_bank/2026-03-02/calls.csv.part: {LINK_REFUSED}",
        f"landing/telephony/shanghai_bank/2026-03-02/passwd.csv: {LINK_REFUSED}",
        f"landing/telephony/shanghai_bank/2026-03-02/pipe.csv: {LINK_REFUSED}",
    ]
    assert summary["rows_loaded"] == 2  # the real delivery beside them still loads
    assert query("select file_name from raw.manifest") == [("good.csv",)]  # never hashed or recorded as a file


def test_a_link_to_another_tenants_folder_loads_nothing_as_that_tenant(home):
    deliver(home, "shanghai_bank", "2026-03-02", "calls.csv", HEADER + ROWS)
    (home / "landing" / "telephony" / "variant_tenant").symlink_to(
        home / "landing" / "telephony" / "shanghai_bank", target_is_directory=True
    )
    summary = pipeline.load_deliveries("r1", DAY, DAY)
    assert summary["failed"] == [f"landing/telephony/variant_tenant: {LINK_REFUSED}"]
    assert query("select distinct tenant_id from raw.telephony_contacts") == [("shanghai_bank",)]


def test_a_feed_folder_that_is_a_link_is_refused(home, tmp_path):
    elsewhere = tmp_path / "feed"
    (elsewhere / "shanghai_bank" / "2026-03-02").mkdir(parents=True)
    (elsewhere / "shanghai_bank" / "2026-03-02" / "calls.csv").write_text(HEADER + ROWS)
    (home / "landing").mkdir(parents=True)
    (home / "landing" / "telephony").symlink_to(elsewhere, target_is_directory=True)
    summary = pipeline.load_deliveries("r1", DAY, DAY)
    assert summary["failed"] == [f"landing/telephony: {LINK_REFUSED}"]
    assert summary["rows_loaded"] == 0


def test_the_landing_root_itself_may_be_a_link(home, tmp_path):
    mount = tmp_path / "sftp"
    (mount / "telephony" / "shanghai_bank" / "2026-03-02").mkdir(parents=True)
    (mount / "telephony" / "shanghai_bank" / "2026-03-02" / "calls.csv").write_text(HEADER + ROWS)
    home.mkdir(parents=True)
    (home / "landing").symlink_to(mount, target_is_directory=True)
    summary = pipeline.load_deliveries("r1", DAY, DAY)
    assert summary["failed"] == [] and summary["rows_loaded"] == 2


def test_a_file_swapped_for_a_link_after_it_was_listed_is_refused_unopened(home, tmp_path, never_opened):
    secrets = outside(tmp_path)
    never_opened.append(secrets)
    path = deliver(home, "shanghai_bank", "2026-03-02", "calls.csv", HEADER + ROWS)
    deliveries = landing.find_deliveries(DAY, DAY)
    path.unlink()
    path.symlink_to(secrets / "calls.csv")
    summary = pipeline.load_selected("r1", deliveries)
    assert summary["failed"] == [f"landing/telephony/shanghai_bank/2026-03-02/calls.csv: {LINK_REFUSED}"]
    assert query("select count(*) from raw.telephony_contacts") == [(0,)]


def test_the_scheduled_loads_and_the_landing_watch_refuse_links_by_name(home, tmp_path, never_opened, monkeypatch):
    monkeypatch.setenv("CALLOPS_LANDING_POLL_SECONDS", "0")  # settled at once
    elsewhere = outside(tmp_path)
    never_opened.append(elsewhere)
    deliver(home, "shanghai_bank", "2026-03-02", "calls.csv", HEADER + ROWS)
    tenant = home / "landing" / "telephony" / "stockholm_telco"
    tenant.mkdir(parents=True)
    (tenant / "2026-03-02").symlink_to(elsewhere, target_is_directory=True)
    (home / "landing" / "telephony" / "shanghai_bank" / "2026-03-02" / "x.csv").symlink_to(elsewhere / "calls.csv")

    # a scheduled load's sensor sees the linked day folder (so its load fails naming it, not waiting)
    plan = scheduling.LoadPlan("telephony", "stockholm_telco", "Stockholm", "Europe/Stockholm", "06:00", "")
    assert [f.display for f in plan.files(DAY)] == ["landing/telephony/stockholm_telco/2026-03-02"]
    summary = scheduling.load_day("sched", plan, DAY)
    assert summary["failed"] == [f"landing/telephony/stockholm_telco/2026-03-02: {LINK_REFUSED}"]

    # the landing watch lists every link with the files, and its load names each
    watched = scheduling.landing_files()
    assert sorted(f.display for f in watched) == [
        "landing/telephony/shanghai_bank/2026-03-02/calls.csv",
        "landing/telephony/shanghai_bank/2026-03-02/x.csv",
        "landing/telephony/stockholm_telco/2026-03-02",
    ]
    summary = pipeline.load_selected("watch", [f.delivery() for f in watched])
    assert sorted(summary["failed"]) == [
        f"landing/telephony/shanghai_bank/2026-03-02/x.csv: {LINK_REFUSED}",
        f"landing/telephony/stockholm_telco/2026-03-02: {LINK_REFUSED}",
    ]
    assert query("select tenant_id, count(*) from raw.telephony_contacts group by 1") == [("shanghai_bank", 2)]
