"""Clear personal data stays private: owner-only whatever the umask, except the published file.

`callops run` under a permissive umask (0o022, 0o000) leaves every path under warehouse/, secrets/,
airflow/, runs/, alerts/, dbt/, data_docs/ and tmp/ (and published/versions/) without group or other
permissions, and published/callops.duckdb readable by others (0644). A CALLOPS_HOME an earlier
release left readable is fixed at its next command.
"""

from __future__ import annotations

import gzip
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from callops import cli
from tests.conftest import TEST_CONFIG, deliver

CALLOPS = str(Path(sys.executable).parent / "callops")
PRIVATE = ("warehouse", "secrets", "airflow", "runs", "alerts", "dbt", "data_docs", "tmp")
HEADER = "contact_id,queue_id,entered_at,outcome,wait_seconds,talk_seconds,caller_number\n"
CALLS = (
    "c1,cards,2026-03-01 09:00:00,answered,10,200,+8613800000001\n"
    "c2,cards,2026-03-01 09:05:00,answered,30,100,+8613800000002\n"
)


def readable_by_others(home: Path) -> list[str]:
    """Every path under the private folders (and published/versions/) with a group or other bit."""
    found = []
    for top in [home / name for name in PRIVATE] + [home / "published" / "versions"]:
        if not top.exists():
            continue
        for path in [top, *top.rglob("*")]:
            mode = path.lstat().st_mode
            if not stat.S_ISLNK(mode) and mode & 0o077:
                found.append(f"{path.relative_to(home)} {stat.filemode(mode)}")
    return found


@pytest.mark.integration
@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_callops_run_keeps_everything_owner_only_but_the_published_file(tmp_path, umask):
    (tmp_path / "callops.yml").write_text(TEST_CONFIG)
    home = tmp_path / "data"
    env = dict(os.environ, CALLOPS_HOME=str(home), CALLOPS_CONFIG=str(tmp_path / "callops.yml"))
    env.pop("AIRFLOW_HOME", None)
    env.pop("CALLOPS_PSEUDONYM_KEY", None)  # generated into secrets/
    deliver(home, "shanghai_bank", "2026-03-01", "contacts.csv", HEADER + CALLS)
    # a gzipped delivery is decompressed into tmp/ while it loads
    folder = home / "landing" / "telephony" / "stockholm_telco" / "2026-03-01"
    folder.mkdir(parents=True)
    (folder / "contacts.csv.gz").write_bytes(
        gzip.compress((HEADER + "s1,care,2026-03-01 10:00:00,answered,9,120,+46701234567\n").encode())
    )

    done = subprocess.run(
        [CALLOPS, "run", "--start", "2026-03-01", "--end", "2026-03-01"],
        env=env, capture_output=True, text=True, timeout=600, preexec_fn=lambda: os.umask(umask),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("warehouse/build.duckdb", "secrets/pseudonym.key", "airflow/airflow.db", "dbt/target", "tmp"):
        assert (home / name).exists(), name
    assert any((home / "runs").iterdir()) and any((home / "data_docs").iterdir())
    assert readable_by_others(home) == []
    assert stat.S_IMODE((home / "published" / "callops.duckdb").stat().st_mode) == 0o644
    assert stat.S_IMODE((home / "published").stat().st_mode) == 0o755


def test_a_home_an_earlier_release_left_readable_is_fixed_at_the_next_command(home, capsys):
    old = os.umask(0o022)
    try:
        for name in ("warehouse/build.duckdb", "secrets/pseudonym.key", "airflow/airflow.db", "airflow/logs/a/b.log",
                     "runs/run_1.log", "alerts/alerts.jsonl", "dbt/target/manifest.json", "data_docs/r/index.html",
                     "published/versions/callops.20260101T000000Z.duckdb"):
            path = home / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x")
            path.chmod(0o644)
            path.parent.chmod(0o755)
        (home / "published" / "callops.duckdb").write_text("x")
        (home / "published" / "callops.duckdb").chmod(0o600)
        (home / "secrets").chmod(0o755)
        assert readable_by_others(home)

        # any command: this one opens nothing of the home
        assert cli.main(["erlang", "--calls", "10", "--interval-s", "1800", "--aht-s", "180", "--target-sl", "0.8",
                         "--answer-within-s", "20"]) == 0
    finally:
        os.umask(old)
    assert readable_by_others(home) == []
    assert stat.S_IMODE((home / "published" / "callops.duckdb").stat().st_mode) == 0o644
    assert stat.S_IMODE((home / "warehouse" / "build.duckdb").stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "secrets").stat().st_mode) == 0o700
