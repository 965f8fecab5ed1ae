"""Keyed pseudonyms (HMAC-SHA256) for personal data, computed inside DuckDB.

Phone numbers and customer ids never leave the private build warehouse in
clear: staging and marts see only ``hmac_sha256(key, normalised value)``. The
key comes from ``CALLOPS_PSEUDONYM_KEY``; without it, callops generates one
once and keeps it in ``CALLOPS_HOME/secrets/pseudonym.key`` (mode 0600), so
pseudonyms stay stable between runs. Each tenant gets its own key derived from
it (``tenant_key``: HMAC-SHA256(key, "tenant:" + tenant id)), so the same
caller of two client brands has unrelated pseudonyms and one tenant's
published data cannot be joined to another's. DuckDB has no ``hmac()``: the standard
construction ``H((K ^ opad) || H((K ^ ipad) || m))`` is written in SQL with the
padded keys passed as parameters (vectorised, no Python per row), and agrees
byte for byte with Python's ``hmac``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from callops import settings

KEY_ENV = "CALLOPS_PSEUDONYM_KEY"
BLOCK_SIZE = 64  # SHA-256 block size in bytes

# Caller ids that mean "no number" (withheld, anonymous): they get no pseudonym.
WITHHELD = ("anonymous", "unknown", "private", "withheld", "restricted", "unavailable", "blocked")


def key_path() -> Path:
    return settings.home() / "secrets" / "pseudonym.key"


def key() -> bytes:
    configured = os.environ.get(KEY_ENV)
    if configured:
        return configured.encode()
    path = key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def tenant_key(tenant_id: str, secret: bytes | None = None) -> bytes:
    """The tenant's own pseudonymisation key, derived from the configured key."""
    secret = secret if secret is not None else key()
    return hmac.new(secret, f"tenant:{tenant_id}".encode(), hashlib.sha256).digest()


def pads(secret: bytes | None = None) -> dict[str, str]:
    """Hex of the key XOR ipad / opad, the parameters of :func:`hmac_sql`."""
    secret = secret if secret is not None else key()
    if len(secret) > BLOCK_SIZE:
        secret = hashlib.sha256(secret).digest()
    secret = secret.ljust(BLOCK_SIZE, b"\0")
    return {
        "hmac_ipad": bytes(b ^ 0x36 for b in secret).hex(),
        "hmac_opad": bytes(b ^ 0x5C for b in secret).hex(),
    }


def hmac_sql(expression: str) -> str:
    """SQL for hex HMAC-SHA256 of a varchar expression; needs the parameters of :func:`pads`."""
    return (
        f"sha256(unhex($hmac_opad) || unhex(sha256(unhex($hmac_ipad) || encode({expression}))))"
    )


def phone_sql(expression: str) -> str:
    """A phone number reduced to ``+``/digits; null when withheld or not a number."""
    cleaned = rf"regexp_replace(trim({expression}), '[\s\-\(\)\./]', '', 'g')"
    withheld = ", ".join(f"'{w}'" for w in WITHHELD)
    return (
        f"case when lower(trim({expression})) in ({withheld}) then null "
        rf"when regexp_full_match({cleaned}, '\+?\d{{3,}}') then {cleaned} else null end"
    )
