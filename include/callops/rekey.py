"""``callops rekey``: rotate the pseudonymisation key deliberately.

Every pseudonym in the raw layer was computed with the tenant's key when its file loaded
(callops.pseudonym). A run refuses a key whose fingerprint is not the warehouse's; this
re-pseudonymises the raw layer with the configured key (``CALLOPS_PSEUDONYM_KEY``, or
``secrets/pseudonym.key``, generated when missing), so a caller keeps one pseudonym across old
and new deliveries:

- where the raw layer keeps the clear value beside its pseudonym (the caller numbers of every
  telephony format: ``raw.telephony_contacts.caller_number``, ``raw.queue_log_events.data2``),
  the pseudonym is recomputed in place, in SQL, from it, as the loaders compute it;
- where it keeps only the pseudonym (the phone and personal columns of the CSV contracts: CSAT
  surveys' caller numbers and customer ids, HR's employee numbers and names, marketing's customer
  ids; their clear value is never stored), no old-to-new mapping exists: the delivered file is
  read again from the landing zone with the new key, as a load reads it. A rekey refuses to start,
  changing nothing, while such a file is missing from the landing zone (or is a link there).

Then the marts are rebuilt in full, gated and published, and ``published/versions/`` is removed
(their pseudonyms are the old key's: a rollback across a rekey is refused). The new key's
fingerprint is recorded as ``rekeying`` before the first pseudonym changes and as ``rekey`` once
the raw layer is done: runs are refused in between, and a rekey that stopped half-way is run again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

from callops import landing, pipeline, pseudonym, publish, settings, warehouse
from callops.config import load_config
from callops.load import queue_log, registry, telephony
from callops.load.csv_contract import ContractAdapter

# raw tables that keep the clear value beside its pseudonym: recomputed in place, per tenant
IN_PLACE = {
    "raw.telephony_contacts": telephony.REPSEUDONYMISE_SQL,
    "raw.queue_log_events": queue_log.REPSEUDONYMISE_SQL,
}
FULL_BUILD_REASON = "the pseudonymisation key was rotated (callops rekey)"


class RekeyError(RuntimeError):
    """The rekey could not start or finish; the message says what to do."""


def pseudonym_only_tables() -> tuple[str, ...]:
    """Raw tables holding pseudonyms without their clear values: the CSV contracts with phone or
    personal columns (stored as ``<name>_hash`` only)."""
    return tuple(
        dict.fromkeys(
            table
            for adapter in registry.all_adapters()
            if isinstance(adapter, ContractAdapter) and adapter.contract.has_personal_data
            for table in adapter.RAW_TABLES
        )
    )


def files_to_read_again(con) -> list[tuple[landing.Delivery, str, str | None, dt.datetime | None]]:
    """(delivery in the landing zone, sha256 as loaded, gate status, accepted at) of every loaded file
    with rows in a table that keeps only pseudonyms."""
    tables = pseudonym_only_tables()
    if not tables:
        return []
    with_rows = " union ".join(f"select file_id from {table}" for table in tables)
    rows = con.execute(
        f"""
        select feed, tenant_id, delivery_date, file_name, sha256, gate_status, accepted_at
        from raw.manifest
        where status = 'loaded' and file_id in ({with_rows})
        order by delivery_date, tenant_id, feed, file_name
        """
    ).fetchall()
    root = landing.root()
    return [
        (landing.Delivery(feed, tenant, day, root / feed / tenant / day.isoformat() / name), sha, gate, accepted)
        for feed, tenant, day, name, sha, gate, accepted in rows
    ]


def rekey(announce: Callable[[str], None] = print) -> str:
    """Re-pseudonymise the raw layer with the configured key, rebuild in full, republish, and drop
    the published versions of the old key (module docstring); returns what was done. The caller
    holds the run lock."""
    config = load_config()
    secret = pseudonym.key()
    new = pseudonym.fingerprint(secret)
    if not settings.build_db_path().exists():
        return f"no build warehouse yet: the first run records this key (fingerprint {new[:12]})"
    run_id = dt.datetime.now(dt.UTC).strftime("rekey_%Y%m%dT%H%M%SZ")
    with warehouse.session() as con:
        recorded = pseudonym.recorded_key(con)
        if recorded is not None and recorded[0] == new and recorded[1] != "rekeying":
            return f"the warehouse's pseudonyms are already made with this key (fingerprint {new[:12]}): nothing to do"
        again = files_to_read_again(con)
        unreadable = [problem for delivery, *_ in again if (problem := landing.link_problem(delivery))]
        if unreadable:
            raise RekeyError(
                f"{len(unreadable)} delivered file(s) keep only pseudonyms in the raw layer and must be read "
                "again with the new key, but cannot be: "
                + "; ".join(unreadable)
                + ". Nothing was changed: put them back in the landing zone, or keep the previous key"
            )
        announce(
            f"callops rekey {run_id}: to the key of fingerprint {new[:12]} ({pseudonym.key_source()}), "
            f"from {recorded[0][:12] if recorded else 'a key without fingerprint'}"
        )
        con.execute(
            "insert or replace into ops.runs values (?, null, null, ?, null, 'running', null)",
            [run_id, pipeline.utc_now()],
        )
        pseudonym.record_fingerprint(con, secret, "rekeying")
        pipeline.write_tenants(con, config)
        recomputed = _recompute_in_place(con, secret)
        counts = ", ".join(f"{n:,} rows of {t}" for t, n in recomputed.items())
        announce(f"  recomputed from the clear numbers: {counts}")
        outcomes = []
        for delivery, sha256, gate_status, accepted_at in again:
            outcome = pipeline._load_one(con, config, delivery, run_id, secret, again=True)
            if gate_status == "accepted" and outcome.action == "held":
                _keep_accepted(con, run_id, delivery, sha256, accepted_at, outcome)
            outcomes.append(outcome)
        failed = [o.message for o in outcomes if o.action == "failed"]
        announce(f"  read again from the landing zone: {len(outcomes) - len(failed)} of {len(outcomes)} file(s)")
        detail = {
            "rekey": {"fingerprint": new[:12], "recomputed": recomputed},
            "files": len(outcomes),
            "failed": failed,
            "held": [o.message for o in outcomes if o.action == "held"],
            "rows_loaded": sum(o.rows_loaded for o in outcomes),
            "rows_rejected": sum(o.rows_rejected for o in outcomes),
        }
        pipeline.record_step(con, run_id, "load", "failed" if failed else "success", detail)
        if failed:
            con.execute(
                "update ops.runs set finished_at = ?, status = 'failed', detail = ? where run_id = ?",
                [pipeline.utc_now(), json.dumps({"steps": {"load": "failed"}, "problems": failed}), run_id],
            )
            raise RekeyError(
                f"{len(failed)} file(s) could not be read again with the new key: " + "; ".join(failed)
                + ". The rekey is not finished (runs are refused meanwhile): fix them and run `callops rekey` again"
            )
        pseudonym.record_fingerprint(con, secret, "rekey")
    publish.forget_versions()
    announce("  published/versions/ removed (made with the old key)")
    try:
        pipeline.build_marts(run_id, FULL_BUILD_REASON)
        pipeline.validate_marts(run_id)
        pipeline.publish_marts(run_id)
    except pipeline.DataProblem as problem:
        _close(run_id)
        raise RekeyError(
            f"the raw layer now uses the new key, but nothing was published: {problem}. "
            "The next successful `callops run` publishes the marts"
        ) from None
    notes = _close(run_id)
    return f"done: the marts are rebuilt and published with the new key (fingerprint {new[:12]})" + (
        f"; {notes}" if notes else ""
    )


def _recompute_in_place(con, secret: bytes) -> dict[str, int]:
    """Every tenant's pseudonyms of the tables that keep the clear value, in one transaction."""
    tenants = [
        row[0]
        for row in con.execute(
            "select tenant_id from raw.telephony_contacts union select tenant_id from raw.queue_log_events order by 1"
        ).fetchall()
    ]
    counts = dict.fromkeys(IN_PLACE, 0)
    con.execute("begin transaction")
    try:
        for tenant in tenants:
            pads = pseudonym.pads(pseudonym.tenant_key(tenant, secret))
            for table, sql in IN_PLACE.items():
                counts[table] += con.execute(sql, {**pads, "tenant_id": tenant}).fetchone()[0]
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return counts


def _keep_accepted(con, run_id: str, delivery: landing.Delivery, sha256: str, accepted_at, outcome) -> None:
    """A file `callops accept` let in stays accepted when read again unchanged."""
    current = con.execute("select sha256 from raw.manifest where file_id = ?", [delivery.file_id]).fetchone()
    if current and current[0] == sha256:
        con.execute(
            "update raw.manifest set gate_status = 'accepted', accepted_at = ? where file_id = ?",
            [accepted_at, delivery.file_id],
        )
        con.execute(
            "update ops.run_files set action = 'replaced', message = null where run_id = ? and file_id = ?",
            [run_id, delivery.file_id],
        )
        outcome.action = "replaced"


def _close(run_id: str) -> str | None:
    """Close the rekey's run record (as a run's finish step does); returns its problems, if any."""
    try:
        pipeline.finish_run(run_id)
    except pipeline.DataProblem as problem:
        return str(problem)
    return None
