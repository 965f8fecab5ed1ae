"""Tenant configuration: ``callops.yml`` (path overridable with ``CALLOPS_CONFIG``).

Each tenant is one client brand served by the center. ``id``, ``name`` and
``timezone`` are required; every other setting has a default (docs/configuration.md).
Secrets never live in this file (the pseudonymisation key is an env var).
"""

from __future__ import annotations

import codecs
import dataclasses
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from callops import settings

# At most 40 characters: the tenant's PostgreSQL role, callops_tenant_<tenant_id>, fits the 63 bytes of a name.
TENANT_ID_MAX_LENGTH = 40
TENANT_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

# Service-level formulas callops can publish (docs/kpis.md, "Service level").
# A_t answered within T, Ab_t abandoned within T, Ab_s short abandons, O offered, A answered.
SERVICE_LEVEL_VARIANTS = {
    "exclude_short_abandons": "A_t / (O - Ab_s)  (callops default)",
    "abandons_within_threshold_positive": "(A_t + Ab_t) / O",
    "ignore_abandons": "A_t / A",
    "all_abandons_negative": "A_t / O",
    "exclude_abandons_within_threshold": "A_t / (O - Ab_t)",
}


# An alert rule's key left out of callops.yml takes its default, derived from the tenant's targets
# (Tenant.__post_init__); an explicit null turns the rule off (None).
ALERT_DEFAULT = float("-inf")


class ConfigError(ValueError):
    """callops.yml is missing, unreadable or breaks a rule; the message names file and key."""


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    timezone: str
    service_level_seconds: int = 20
    short_abandon_seconds: int = 5
    service_level_target: float = 0.8
    service_level_variant: str = "exclude_short_abandons"
    interval_minutes: int = 30
    fcr_window_days: int = 7
    reject_threshold: float = 0.01
    roi_pause_threshold: float = 1.0
    cdr_usegmtime: bool = False  # Asterisk CDRs written with cdr.conf usegmtime=yes (UTC, not local time)
    planned_shrinkage_rate: float = 0.3  # staffing plan's shrinkage where schedules do not measure it
    answer_rate_target: float = 0.95
    abandon_rate_target: float = 0.05  # at most
    csat_target: float = 0.8
    qa_score_target: float = 0.85
    vip_service_level_seconds: int = 10  # the VIP segment's own, stricter service level
    vip_service_level_target: float = 0.9
    # The mart gate's volume band: a day's offered contacts against the median of the same weekday
    # over the previous four weeks; outside x/÷ warning ratio it warns, outside x/÷ blocking ratio
    # nothing is published (a truncated or doubled delivery looks like this).
    volume_warning_ratio: float = 1.5
    volume_blocking_ratio: float = 3.0
    # Scheduling (Airflow, docs/operations.md "Scheduling with Airflow"): local times ("HH:MM", tenant's zone) on the
    # day after a delivery day. A feed with an arrival time gets a scheduled load DAG whose sensor waits
    # for that day's folder from then on; "" leaves the feed to the landing watch alone. By
    # publish_deadline the day's marts must be published, else a deadline alert ("" for none).
    telephony_arrival: str = "02:00"
    qa_arrival: str = ""
    hr_arrival: str = ""
    marketing_arrival: str = ""
    publish_deadline: str = "08:00"
    # Text encoding of the tenant's deliveries: "auto" tells UTF-8 from GB18030 by content; a codec name
    # (utf-8, gb18030, cp1251, cp1252, latin-1, ...) reads every file with that codec (legacy single-byte
    # exports content cannot tell apart). Stored as Python's canonical name of the codec.
    encoding: str = "auto"
    # Service alerts (DECISIONLOG "Service alerts: rules and episodes"): a queue-interval with at least
    # alert_min_offered offered stints breaches a rule when its service level (VIP service level) is
    # below, or its abandon rate (ASA) above, the threshold. Left out: the default from the targets
    # (service_level_target - 0.10, vip_service_level_target - 0.10, 2 x abandon_rate_target,
    # 2 x service_level_seconds); null: the rule is off.
    alert_min_offered: int = 20
    alert_service_level_rate: float | None = ALERT_DEFAULT
    alert_vip_service_level_rate: float | None = ALERT_DEFAULT
    alert_abandon_rate: float | None = ALERT_DEFAULT
    alert_asa_seconds: float | None = ALERT_DEFAULT
    # The tenant's own webhook for its service alerts (callops.service_alerts), besides the center's
    # CALLOPS_ALERT_WEBHOOK_URL: an http(s) URL, or None. Never written to the warehouse (PRIVATE_KEYS).
    alert_webhook_url: str | None = None

    def __post_init__(self) -> None:
        defaults = {
            "alert_service_level_rate": max(round(self.service_level_target - 0.10, 6), 0.0),
            "alert_vip_service_level_rate": max(round(self.vip_service_level_target - 0.10, 6), 0.0),
            "alert_abandon_rate": min(round(2 * self.abandon_rate_target, 6), 1.0),
            "alert_asa_seconds": float(2 * self.service_level_seconds),
        }
        for key, value in defaults.items():
            if getattr(self, key) == ALERT_DEFAULT:
                object.__setattr__(self, key, value)


TENANT_KEYS = tuple(field.name for field in dataclasses.fields(Tenant))
# Feeds a tenant may schedule (callops.load.registry.FEED_MODULES; not imported here: it loads DuckDB).
SCHEDULED_FEEDS = ("telephony", "qa", "hr", "marketing")
ARRIVAL_KEYS = tuple(f"{feed}_arrival" for feed in SCHEDULED_FEEDS)
TIME_KEYS = (*ARRIVAL_KEYS, "publish_deadline")
TIME_PATTERN = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
REQUIRED_KEYS = ("id", "name", "timezone")
RATE_KEYS = (
    "service_level_target",
    "reject_threshold",
    "planned_shrinkage_rate",
    "answer_rate_target",
    "abandon_rate_target",
    "csat_target",
    "qa_score_target",
    "vip_service_level_target",
)
# Settings kept out of raw.tenants and so of every warehouse table and of the build's fingerprint
# (callops.incremental): a webhook URL may carry a token, and changing it changes no figure.
PRIVATE_KEYS = ("alert_webhook_url",)
ALERT_RULE_KEYS = (
    "alert_service_level_rate",
    "alert_vip_service_level_rate",
    "alert_abandon_rate",
    "alert_asa_seconds",
)


@dataclass(frozen=True)
class Config:
    path: Path
    tenants: tuple[Tenant, ...]

    def tenant(self, tenant_id: str) -> Tenant | None:
        return next((t for t in self.tenants if t.id == tenant_id), None)

    @property
    def tenant_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.tenants)


def load_config(path: Path | None = None) -> Config:
    path = path or settings.config_path()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (set CALLOPS_CONFIG to its path)") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("tenants"), list):
        raise ConfigError(f"{path}: expected a top-level 'tenants:' list")
    tenants = tuple(_parse_tenant(path, index, entry) for index, entry in enumerate(document["tenants"]))
    if not tenants:
        raise ConfigError(f"{path}: 'tenants:' is empty")
    seen: set[str] = set()
    for tenant in tenants:
        if tenant.id in seen:
            raise ConfigError(f"{path}: tenant id '{tenant.id}' appears twice")
        seen.add(tenant.id)
    return Config(path=path, tenants=tenants)


def _parse_tenant(path: Path, index: int, entry: object) -> Tenant:
    where = f"{path}: tenants[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping of settings")
    unknown = sorted(set(entry) - set(TENANT_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(TENANT_KEYS)}")
    missing = [key for key in REQUIRED_KEYS if entry.get(key) in (None, "")]
    if missing:
        raise ConfigError(f"{where}: missing required setting(s) {', '.join(missing)}")
    where = f"{path}: tenant '{entry['id']}'"
    values = {}
    for field in dataclasses.fields(Tenant):
        if field.name not in entry:
            continue
        if field.name in TIME_KEYS:
            values[field.name] = _coerce_time(where, field.name, entry[field.name])
            continue
        if field.name == "encoding":
            values[field.name] = _coerce_encoding(where, entry[field.name])
            continue
        if field.name == "alert_webhook_url":
            values[field.name] = _coerce_webhook_url(where, entry[field.name])
            continue
        if field.name in ALERT_RULE_KEYS and entry[field.name] is None:
            values[field.name] = None  # the rule is off
            continue
        values[field.name] = _coerce(where, field.name, entry[field.name], field.type)
    tenant = Tenant(**values)
    _validate(where, tenant)
    return tenant


def _coerce(where: str, key: str, value: object, type_name: str) -> object:
    if type_name == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{where}: '{key}' must be a string, got {value!r}")
        return value
    if type_name == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: '{key}' must be true or false, got {value!r}")
        return value
    if type_name == "float | None":
        type_name = "float"
    if type_name == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: '{key}' must be a whole number, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: '{key}' must be a number, got {value!r}")
    return float(value)


def _coerce_time(where: str, key: str, value: object) -> str:
    """A local time "HH:MM" (or "" / null: none). YAML 1.1 reads an unquoted 8:30 as the base-60
    number 510; such a value is turned back into the time it was written as."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        value = f"{value // 60:02d}:{value % 60:02d}"
    if not isinstance(value, str):
        raise ConfigError(f"{where}: '{key}' must be a local time \"HH:MM\" or \"\", got {value!r}")
    text = value.strip()
    if len(text) == 4 and text[1] == ":":
        text = "0" + text
    if text and not TIME_PATTERN.match(text):
        raise ConfigError(f"{where}: '{key}' must be a local time \"HH:MM\" (00:00-23:59) or \"\", got {value!r}")
    return text


def _coerce_encoding(where: str, value: object) -> str:
    """``auto``, or the canonical name of a text codec Python has (``CP1251`` -> ``cp1251``)."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        name = codecs.lookup(value.strip()).name if isinstance(value, str) else None
        b"a".decode(name or "", "replace")  # a bytes-to-bytes codec (base64, zlib) is no text encoding
    except LookupError:
        name = None
    if not name:
        raise ConfigError(
            f"{where}: 'encoding' must be auto or a text encoding (utf-8, gb18030, cp1251, cp1252, ...), "
            f"got {value!r}"
        )
    return name


def _coerce_webhook_url(where: str, value: object) -> str | None:
    """An http:// or https:// URL with a host, or None ("" or null: no webhook of the tenant's own). The
    error never quotes the value: a webhook URL often carries its token."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    rule = f"{where}: 'alert_webhook_url' must be an http:// or https:// URL (or null for none)"
    if not isinstance(value, str):
        raise ConfigError(f"{rule}, got {type(value).__name__} {value!r}")
    text = value.strip()
    try:
        parts = urllib.parse.urlsplit(text)
        host = parts.hostname
    except ValueError:
        raise ConfigError(f"{rule}, got a value that is not a URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        got = f"scheme '{parts.scheme}'" if parts.scheme else "no scheme"
        raise ConfigError(f"{rule}, got a URL with {got}")
    if not host:
        raise ConfigError(f"{rule}, got a URL without a host")
    if any(character.isspace() for character in text):
        raise ConfigError(f"{rule}, got a URL with a space in it")
    return text


def _validate(where: str, tenant: Tenant) -> None:
    if len(tenant.id) > TENANT_ID_MAX_LENGTH:
        raise ConfigError(
            f"{where}: id is {len(tenant.id)} characters, at most {TENANT_ID_MAX_LENGTH} (its PostgreSQL role "
            "callops_tenant_<id> must fit 63 bytes)"
        )
    if not TENANT_ID_PATTERN.match(tenant.id):
        raise ConfigError(
            f"{where}: id must be lowercase letters, digits and '_' starting with a letter "
            "(it names landing folders and appears in every mart)"
        )
    try:
        ZoneInfo(tenant.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: timezone '{tenant.timezone}' is not an IANA time zone") from None
    for key in RATE_KEYS:
        if not 0 <= getattr(tenant, key) <= 1:
            raise ConfigError(f"{where}: '{key}' is a rate between 0 and 1, got {getattr(tenant, key)}")
    for key in ("alert_service_level_rate", "alert_vip_service_level_rate", "alert_abandon_rate"):
        if getattr(tenant, key) is not None and not 0 <= getattr(tenant, key) <= 1:
            raise ConfigError(
                f"{where}: '{key}' is a rate between 0 and 1 (or null: the rule is off), got {getattr(tenant, key)}"
            )
    if tenant.alert_asa_seconds is not None and tenant.alert_asa_seconds <= 0:
        raise ConfigError(
            f"{where}: 'alert_asa_seconds' must be > 0 (or null: the rule is off), got {tenant.alert_asa_seconds}"
        )
    if tenant.alert_min_offered < 1:
        raise ConfigError(f"{where}: 'alert_min_offered' must be a whole number >= 1, got {tenant.alert_min_offered}")
    if tenant.roi_pause_threshold < 0:
        raise ConfigError(f"{where}: 'roi_pause_threshold' must be >= 0")
    for key in ("service_level_seconds", "vip_service_level_seconds"):
        if getattr(tenant, key) <= 0:
            raise ConfigError(f"{where}: '{key}' must be > 0")
    if not 1 < tenant.volume_warning_ratio <= tenant.volume_blocking_ratio:
        raise ConfigError(
            f"{where}: volume ratios must satisfy 1 < volume_warning_ratio <= volume_blocking_ratio, got "
            f"{tenant.volume_warning_ratio} and {tenant.volume_blocking_ratio}"
        )
    if tenant.planned_shrinkage_rate >= 1:
        raise ConfigError(f"{where}: 'planned_shrinkage_rate' must be below 1")
    if tenant.short_abandon_seconds < 0:
        raise ConfigError(f"{where}: 'short_abandon_seconds' must be >= 0")
    if tenant.interval_minutes not in (15, 30):
        raise ConfigError(f"{where}: 'interval_minutes' must be 15 or 30, got {tenant.interval_minutes}")
    if tenant.fcr_window_days < 1:
        raise ConfigError(f"{where}: 'fcr_window_days' must be >= 1")
    if tenant.publish_deadline:
        late = [key for key in ARRIVAL_KEYS if getattr(tenant, key) and getattr(tenant, key) >= tenant.publish_deadline]
        if late:
            raise ConfigError(
                f"{where}: 'publish_deadline' {tenant.publish_deadline} must be later than every arrival time "
                f"(both are local times of the day after the delivery day): {', '.join(late)}"
            )
    if tenant.service_level_variant not in SERVICE_LEVEL_VARIANTS:
        raise ConfigError(
            f"{where}: 'service_level_variant' must be one of {', '.join(SERVICE_LEVEL_VARIANTS)}, "
            f"got '{tenant.service_level_variant}'"
        )
