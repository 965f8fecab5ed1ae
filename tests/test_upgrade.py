"""A CALLOPS_HOME built by the previous release upgrades in place at its next run, with no manual step.

The previous release's code (``PREVIOUS_RELEASE``, taken from this repository's history with ``git
archive``) loads, builds, gates and publishes three days in a child process. This release then runs on
the same home with two new days and a corrected re-delivery: its new columns are added and filled, the
build is full (the project changed), and every table of every layer equals a full build of the same
landing zone made by this release alone.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import duckdb
import pytest

from callops import pipeline, publish, settings
from tests import generative

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
# The last commit of the previous release (round 1: landed, CI passed).
PREVIOUS_RELEASE = "c533dff"

OLD_RUN = """
import datetime as dt, sys
import callops
from callops import pipeline
assert callops.__file__.startswith(sys.argv[1]), callops.__file__
first, last = dt.date.fromisoformat(sys.argv[2]), dt.date.fromisoformat(sys.argv[3])
pipeline.load_deliveries("previous_release", first, last)
pipeline.build_marts("previous_release")
pipeline.validate_marts("previous_release")
pipeline.publish_marts("previous_release")
pipeline.finish_run("previous_release")
"""


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory) -> Path:
    """The previous release's source tree."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout: the previous release's code comes from the repository's history")
    target = tmp_path_factory.mktemp("previous_release")
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", PREVIOUS_RELEASE],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    archive_path = target / "release.tar"
    archive_path.write_bytes(archive)
    with tarfile.open(archive_path) as tar:
        tar.extractall(target / "src", filter="data")
    return target / "src"


def _deliver(pool: Path, landing: Path, days: list[dt.date]) -> None:
    for path in sorted(pool.glob("*/*/*/*")):
        if dt.date.fromisoformat(path.parent.name) in days:
            target = landing / path.relative_to(pool)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def test_a_home_of_the_previous_release_upgrades_at_its_next_run(previous_release, tmp_path):
    pool = generative.simulate_pool(tmp_path, seed=5)
    config = generative.write_config(tmp_path)
    home = tmp_path / "home"
    days = [generative.POOL_START + dt.timedelta(days=number) for number in range(generative.POOL_DAYS + 1)]
    first, last = days[0] - dt.timedelta(days=1), days[-1] + dt.timedelta(days=1)

    with generative.callops_home(home, config):
        landing = settings.landing_dir()
        _deliver(pool, landing, days[:3])
        old = subprocess.run(
            [sys.executable, "-c", OLD_RUN, str(previous_release), first.isoformat(), last.isoformat()],
            env=dict(os.environ, PYTHONPATH=str(previous_release / "include")),
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert old.returncode == 0, old.stderr[-3000:]
        with duckdb.connect(str(settings.build_db_path()), read_only=True) as con:
            old_columns = {name for (name,) in con.execute(
                "select column_name from duckdb_columns() where schema_name = 'raw' and table_name = 'manifest'"
            ).fetchall()}  # fmt: skip
        assert "rows_superseded" not in old_columns  # really built by the previous release

        # the next run, by this release: two new days and a corrected re-delivery of the first day
        _deliver(pool, landing, days[3:5])
        corrected = sorted((landing / "telephony" / "east").rglob("queue_log*"))[0]
        lines = corrected.read_bytes().splitlines(keepends=True)
        corrected.write_bytes(b"".join(lines[: len(lines) * 2 // 3]))
        pipeline.load_deliveries("upgraded", first, last)
        built = pipeline.build_marts("upgraded")
        pipeline.validate_marts("upgraded")
        pipeline.publish_marts("upgraded")
        pipeline.finish_run("upgraded")
        upgraded = settings.build_db_path()
        published = settings.published_db_path()
        tenant_files = publish.tenant_files()

    assert built["plan"].startswith("full build"), built["plan"]
    with duckdb.connect(str(upgraded), read_only=True) as con:
        counted = con.execute(
            "select rows_superseded is null, count(*) from raw.manifest where status = 'loaded' group by 1 order by 1"
        ).fetchall()
    # files the previous release loaded keep unknown counts; files this release loaded have them
    assert [known for known, _ in counted] == [False, True] and all(count > 0 for _, count in counted)
    with duckdb.connect(str(published), read_only=True) as con:
        published_columns = {name for (name,) in con.execute(
            "select column_name from duckdb_columns() where schema_name = 'marts' and table_name = 'run_deliveries'"
        ).fetchall()}  # fmt: skip
    assert {"rows_superseded", "rows_skipped"} <= published_columns
    # the previous release published the center file alone: each tenant now has its own, its rows only
    with duckdb.connect(str(published), read_only=True) as con:
        by_tenant = dict(con.execute("select tenant_id, count(*) from marts.rpt_daily_kpis group by 1").fetchall())
    assert sorted(path.stem for path in tenant_files) == sorted(by_tenant)
    for path in tenant_files:
        with duckdb.connect(str(path), read_only=True) as con:
            assert con.execute("select tenant_id, count(*) from marts.rpt_daily_kpis group by 1").fetchall() == [
                (path.stem, by_tenant[path.stem])
            ]

    reference = generative.build_reference(landing, tmp_path / "reference", config, first, last)
    assert generative.compare(upgraded, reference, generative.LAYERS) == {}
