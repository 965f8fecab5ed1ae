"""What the telephony adapters share beyond the canonical tables they load into
(:mod:`callops.contracts.telephony`)."""

from __future__ import annotations

from callops import pseudonym

# `callops rekey`: a tenant's pseudonyms recomputed (with its pads) from the clear numbers kept beside
# them, as every telephony adapter computes them when it loads.
REPSEUDONYMISE_SQL = (
    "update raw.telephony_contacts "
    f"set caller_id_hash = {pseudonym.hmac_sql(pseudonym.phone_sql('caller_number'))} "
    "where tenant_id = $tenant_id"
)
