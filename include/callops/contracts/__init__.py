"""What a source delivers and what the raw layer holds: the feeds' contracts.

The loaders (:mod:`callops.load`) read deliveries by these definitions and the simulator
(:mod:`callops.simulate`) writes them by the same ones, as a real source would: both import them from
here, never one another. The build warehouse (:mod:`callops.warehouse`) creates every raw table they
define at each writable connection, so a warehouse upgrades in place.

- :mod:`callops.contracts.csv`: :class:`~callops.contracts.csv.Column` and
  :class:`~callops.contracts.csv.Contract`, a documented CSV layout and its raw table;
- :mod:`callops.contracts.telephony`: the canonical telephony tables, the Asterisk queue_log events
  table, and the contact and agent-state CSVs (which load into the canonical tables);
- :mod:`callops.contracts.qa`, :mod:`callops.contracts.hr`, :mod:`callops.contracts.marketing`: those
  feeds' CSV contracts, each into a raw table of its own.
"""

from __future__ import annotations

from callops.contracts import hr, marketing, qa, telephony


def raw_ddl() -> str:
    """``create table if not exists`` (and later ``add column if not exists``) of every raw table a
    delivery's rows land in."""
    tables = [telephony.RAW_DDL, telephony.AGENT_STATE_DDL, telephony.QUEUE_LOG_DDL]
    tables += [contract.raw_ddl for contract in (*qa.CONTRACTS, *hr.CONTRACTS, *marketing.CONTRACTS)]
    return "\n".join(tables)
