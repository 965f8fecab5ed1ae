"""The QA feed's adapters: its CSV contracts (:mod:`callops.contracts.qa`), each detected by its
header and loaded by the CSV contract engine (:mod:`callops.load.csv_contract`) into its own raw table."""

from __future__ import annotations

from callops.contracts.qa import CONTRACTS
from callops.load.csv_contract import adapters

ADAPTERS = adapters(CONTRACTS)
