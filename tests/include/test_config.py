from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from callops import settings
from callops.config import ConfigError, Tenant, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "callops.yml"
    path.write_text(textwrap.dedent(text))
    return path


def test_defaults_fill_every_optional_setting(tmp_path):
    config = load_config(write(tmp_path, "tenants:\n  - {id: a, name: A, timezone: Europe/Paris}\n"))
    tenant = config.tenant("a")
    assert tenant == Tenant(id="a", name="A", timezone="Europe/Paris")
    assert (tenant.service_level_seconds, tenant.short_abandon_seconds) == (20, 5)
    assert (tenant.service_level_target, tenant.service_level_variant) == (0.8, "exclude_short_abandons")
    assert (tenant.interval_minutes, tenant.fcr_window_days) == (30, 7)
    assert (tenant.reject_threshold, tenant.roi_pause_threshold) == (0.01, 1.0)


def test_repository_config_is_valid():
    config = load_config(settings.project_dir() / "callops.yml")
    assert len(config.tenants) >= 2


def test_callops_config_env_overrides_path(tmp_path, monkeypatch):
    path = write(tmp_path, "tenants:\n  - {id: only_me, name: X, timezone: UTC}\n")
    monkeypatch.setenv("CALLOPS_CONFIG", str(path))
    assert load_config().tenant_ids == ("only_me",)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{name: A, timezone: UTC}", "missing required setting(s) id"),
        ("{id: a, name: A}", "missing required setting(s) timezone"),
        ("{id: a, name: A, timezone: Mars/Olympus}", "not an IANA time zone"),
        ("{id: A-1, name: A, timezone: UTC}", "id must be lowercase"),
        # callops_tenant_<id>, its PostgreSQL role (callops.serving), fits PostgreSQL's 63-byte names
        (f"{{id: {'a' * 41}, name: A, timezone: UTC}}", "id is 41 characters, at most 40"),
        ("{id: a, name: A, timezone: UTC, service_level_target: 80}", "rate between 0 and 1"),
        ("{id: a, name: A, timezone: UTC, interval_minutes: 20}", "must be 15 or 30"),
        ("{id: a, name: A, timezone: UTC, service_level_variant: best}", "must be one of"),
        ("{id: a, name: A, timezone: UTC, sla_seconds: 20}", "unknown setting(s) sla_seconds"),
        ("{id: a, name: A, timezone: UTC, service_level_seconds: '20'}", "must be a whole number"),
        ("{id: a, name: A, timezone: UTC, cdr_usegmtime: 'yes'}", "must be true or false"),
        ("{id: a, name: A, timezone: UTC, encoding: klingon}", "tenant 'a': 'encoding' must be auto or a text"),
        ("{id: a, name: A, timezone: UTC, encoding: base64}", "tenant 'a': 'encoding' must be auto or a text"),
    ],
)
def test_bad_settings_are_named(tmp_path, entry, message):
    path = write(tmp_path, f"tenants:\n  - {entry}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert message in str(raised.value)
    assert str(path) in str(raised.value)


def test_a_tenant_id_of_40_characters_is_accepted(tmp_path):
    path = write(tmp_path, f"tenants:\n  - {{id: {'a' * 40}, name: A, timezone: UTC}}\n")
    assert load_config(path).tenant_ids == ("a" * 40,)
    assert len(f"callops_tenant_{'a' * 40}".encode()) <= 63


def test_duplicate_tenant_ids_are_refused(tmp_path):
    path = write(tmp_path, "tenants:\n  - {id: a, name: A, timezone: UTC}\n  - {id: a, name: B, timezone: UTC}\n")
    with pytest.raises(ConfigError, match="appears twice"):
        load_config(path)


def test_missing_file_says_where_it_looked(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yml")


def test_encoding_is_auto_unless_set_and_stored_by_its_codec_name(tmp_path):
    path = write(
        tmp_path,
        """
        tenants:
          - {id: a, name: A, timezone: UTC}
          - {id: b, name: B, timezone: UTC, encoding: Windows-1251}
          - {id: c, name: C, timezone: UTC, encoding: GBK}
        """,
    )
    config = load_config(path)
    assert [config.tenant(t).encoding for t in ("a", "b", "c")] == ["auto", "cp1251", "gbk"]


def test_alert_rules_default_from_the_targets_and_null_turns_one_off(tmp_path):
    path = write(
        tmp_path,
        """\
        tenants:
          - {id: a, name: A, timezone: UTC}
          - {id: b, name: B, timezone: UTC, service_level_target: 0.9, vip_service_level_target: 0.95,
             abandon_rate_target: 0.03, service_level_seconds: 15, alert_min_offered: 5}
          - {id: c, name: C, timezone: UTC, alert_service_level_rate: 0.6, alert_vip_service_level_rate: null,
             alert_abandon_rate: null, alert_asa_seconds: null}
        """,
    )
    a, b, c = load_config(path).tenants
    assert (a.alert_min_offered, a.alert_service_level_rate, a.alert_vip_service_level_rate) == (20, 0.7, 0.8)
    assert (a.alert_abandon_rate, a.alert_asa_seconds) == (0.1, 40.0)
    assert (b.alert_min_offered, b.alert_service_level_rate, b.alert_vip_service_level_rate) == (5, 0.8, 0.85)
    assert (b.alert_abandon_rate, b.alert_asa_seconds) == (0.06, 30.0)
    assert c.alert_service_level_rate == 0.6
    assert (c.alert_vip_service_level_rate, c.alert_abandon_rate, c.alert_asa_seconds) == (None, None, None)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("alert_service_level_rate: 70", "tenant 'a': 'alert_service_level_rate' is a rate between 0 and 1"),
        ("alert_vip_service_level_rate: -0.1", "tenant 'a': 'alert_vip_service_level_rate' is a rate between 0"),
        ("alert_abandon_rate: 1.5", "tenant 'a': 'alert_abandon_rate' is a rate between 0 and 1"),
        ("alert_asa_seconds: 0", "tenant 'a': 'alert_asa_seconds' must be > 0"),
        ("alert_asa_seconds: 'slow'", "tenant 'a': 'alert_asa_seconds' must be a number"),
        ("alert_min_offered: 0", "tenant 'a': 'alert_min_offered' must be a whole number >= 1"),
        ("alert_min_offered: null", "tenant 'a': 'alert_min_offered' must be a whole number"),
        ("alert_min_offered: 2.5", "tenant 'a': 'alert_min_offered' must be a whole number"),
    ],
)
def test_bad_alert_rules_are_named(tmp_path, entry, message):
    path = write(tmp_path, f"tenants:\n  - {{id: a, name: A, timezone: UTC, {entry}}}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert message in str(raised.value)
    assert str(path) in str(raised.value)
