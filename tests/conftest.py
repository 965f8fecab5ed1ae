"""Shared fixtures: every test gets its own CALLOPS_HOME and tenant config."""

from __future__ import annotations

import os
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

# Airflow and GX settings for any test that runs them (STACK_NOTES.md).
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
