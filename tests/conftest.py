"""Shared fixtures: every test gets its own CALLOPS_HOME and tenant config."""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

TEST_CONFIG = textwrap.dedent(
    """
    tenants:
      - id: shanghai_bank
        name: Shanghai test bank
        timezone: Asia/Shanghai
      - id: stockholm_telco
        name: Stockholm test telco
        timezone: Europe/Stockholm
        service_level_seconds: 10
        short_abandon_seconds: 3
      - id: variant_tenant
        name: All abandons count against SL
        timezone: UTC
        service_level_variant: all_abandons_negative
    """
)

# Airflow and GX settings for any test that runs them: no example DAGs, no analytics, no telemetry.
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")
# Never touch ~/airflow: DagBag and anything else Airflow reads config from here.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="callops-tests-airflow-"))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh CALLOPS_HOME with the three test tenants configured."""
    config = tmp_path / "callops.yml"
    config.write_text(TEST_CONFIG)
    data = tmp_path / "data"
    monkeypatch.setenv("CALLOPS_HOME", str(data))
    monkeypatch.setenv("CALLOPS_CONFIG", str(config))
    monkeypatch.setenv("AIRFLOW_HOME", str(data / "airflow"))
    return data


def deliver(home: Path, tenant: str, day: str, name: str, text: str, feed: str = "telephony") -> Path:
    """Drop a file into landing/<feed>/<tenant>/<day>/ as a delivery would."""
    folder = home / "landing" / feed / tenant / day
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


# --- markers: a test that runs dbt, Airflow or Great Expectations says so --------------------------
# `make test-fast` leaves out the tests marked with any of HEAVY_MARKERS (registered in pyproject.toml).
# An unmarked test that reaches dbt, Airflow or Great Expectations through callops fails at once, naming
# the marker it needs, so the fast run stays the unit tests. The doors: callops.dbt.invoke (every dbt
# command), callops.airflow_runner._airflow (every airflow command), callops.quality.gate.run_suite
# (every validation), callops.serving._connect (every PostgreSQL connection). They are guarded once their
# module is imported, from the next test's setup on.
HEAVY_MARKERS = ("dbt", "airflow", "gx", "integration", "postgres")
DOORS = (
    ("callops.dbt", "invoke", "dbt"),
    ("callops.airflow_runner", "_airflow", "airflow"),
    ("callops.quality.gate", "run_suite", "gx"),
    ("callops.serving", "_connect", "postgres"),
)
_running: list[pytest.Item] = []


def _guarded(door, marker: str):
    @functools.wraps(door)
    def guarded(*args, **kwargs):
        item = _running[0] if _running else None
        if item is not None and not any(item.get_closest_marker(name) for name in HEAVY_MARKERS):
            pytest.fail(
                f"{item.nodeid} runs {marker} ({door.__module__}.{door.__name__}) without a marker: "
                f"mark it @pytest.mark.{marker} (make test-fast leaves it out)",
                pytrace=False,
            )
        return door(*args, **kwargs)

    guarded.marker_guard = marker
    return guarded


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before the item's fixtures (module-scoped ones included): remember it, guard the doors imported so far."""
    _running[:] = [item]
    for module_name, name, marker in DOORS:
        module = sys.modules.get(module_name)
        door = getattr(module, name, None)
        if door is not None and not hasattr(door, "marker_guard"):
            setattr(module, name, _guarded(door, marker))
