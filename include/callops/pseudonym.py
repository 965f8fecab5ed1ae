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

The key never changes silently: the build warehouse keeps its fingerprint
(``ops.pseudonym_key``: HMAC-SHA256(key, "callops key fingerprint"), never the
key, nor a plain hash a short key could be guessed from). A load whose key has
another fingerprint, or finds the key file gone, stops before opening any
delivery (:func:`checked_key`); ``callops rekey`` rotates the key deliberately.
A warehouse built before fingerprints adopts the current key's at its next load.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from callops import settings

KEY_ENV = "CALLOPS_PSEUDONYM_KEY"
FINGERPRINT_MESSAGE = b"callops key fingerprint"
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


def configured_key() -> bytes | None:
    """The key from ``CALLOPS_PSEUDONYM_KEY`` or the key file; None when there is neither (nothing generated)."""
    configured = os.environ.get(KEY_ENV)
    if configured:
        return configured.encode()
    try:
        return key_path().read_text().strip().encode()
    except FileNotFoundError:
        return None


def key_source() -> str:
    return KEY_ENV if os.environ.get(KEY_ENV) else str(key_path())


def fingerprint(secret: bytes) -> str:
    """Identifies a key without revealing it: HMAC-SHA256(key, "callops key fingerprint"), hex."""
    return hmac.new(secret, FINGERPRINT_MESSAGE, hashlib.sha256).hexdigest()


class KeyChanged(RuntimeError):
    """The key is not the one the warehouse's pseudonyms were made with (or it is missing)."""


def recorded_key(con) -> tuple[str, str] | None:
    """(fingerprint, how) of the key the warehouse's pseudonyms are made with (``how``: ``rekeying``
    while a `callops rekey` to it has not finished); None before any (a new warehouse, or one built
    before fingerprints were kept)."""
    import duckdb

    try:
        row = con.execute(
            "select fingerprint, how from ops.pseudonym_key order by recorded_at desc limit 1"
        ).fetchone()
    except duckdb.CatalogException:  # a read-only look at a warehouse of an earlier release
        return None
    return (row[0], row[1]) if row else None


REKEY_HINT = (
    "restore the previous key ({source}), or rotate to the new one deliberately with `callops rekey` "
    "(it re-pseudonymises the raw layer with the new key, rebuilds and republishes)"
)


def key_problem(recorded: tuple[str, str] | None) -> str | None:
    """Why the configured key must not be used on a warehouse whose key is ``recorded`` (:func:`recorded_key`)."""
    if recorded is None:
        return None
    recorded, how = recorded
    if how == "rekeying":
        return (
            f"a `callops rekey` to the key of fingerprint {recorded[:12]} did not finish: the raw layer holds "
            "pseudonyms of two keys. Nothing was loaded: run `callops rekey` again with that key"
        )
    current = configured_key()
    if current is None:
        return (
            f"the pseudonymisation key changed: {key_path()} is missing and {KEY_ENV} is not set, but the "
            f"warehouse's pseudonyms were made with the key of fingerprint {recorded[:12]}; a new key would give "
            "every caller a second pseudonym. Nothing was loaded: "
            + REKEY_HINT.format(source=f"{KEY_ENV}, or the file {key_path()}")
        )
    if fingerprint(current) != recorded:
        return (
            f"the pseudonymisation key changed: the key in {key_source()} has fingerprint "
            f"{fingerprint(current)[:12]}, the warehouse's pseudonyms were made with the key of fingerprint "
            f"{recorded[:12]}; loading with it would give every caller a second pseudonym. Nothing was loaded: "
            + REKEY_HINT.format(source=f"{KEY_ENV}, or the file {key_path()}")
        )
    return None


def record_fingerprint(con, secret: bytes, how: str) -> None:
    con.execute(
        "insert into ops.pseudonym_key values (?, now()::timestamp, ?)", [fingerprint(secret), how]
    )


def checked_key(con) -> bytes:
    """The key to pseudonymise with, checked against the warehouse's (``con``: read-write): raises
    :class:`KeyChanged` when it differs or is missing; a warehouse without a fingerprint adopts it."""
    recorded = recorded_key(con)
    if problem := key_problem(recorded):
        raise KeyChanged(problem)
    secret = key()
    if recorded is None:
        loaded = con.execute("select count(*) from raw.manifest where status = 'loaded'").fetchone()[0]
        record_fingerprint(con, secret, "adopted" if loaded else "first")
    return secret


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
