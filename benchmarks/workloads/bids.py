"""The bids every contender of ``process.py`` handles: investors, invoices, and who bids on what.

A plan of ``n`` bids comes in groups of ten: six bids each on an invoice of their own (they
finance it) and two pairs of bids on one invoice each (the first handled finances it, the
other is rejected as ``already_financed`` and its reservation released: the compensation).
So eight of every ten bids' sagas complete and two are compensated. The bids of a pair are
next to each other and come from two different investors; bids take turns over
``INVESTORS`` investor accounts, each funded far beyond what it bids.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

__all__ = [
    "CURRENCY",
    "FUNDS",
    "INVESTORS",
    "ISSUER",
    "Bid",
    "Plan",
    "plan",
]

INVESTORS = 100
ISSUER = "issuer-1"
CURRENCY = "EUR"
FUNDS = 10**9
"""Deposited in every investor account: no bid is refused for want of money."""


@dataclass(frozen=True, slots=True)
class Bid:
    bid_id: uuid.UUID
    investor: str
    invoice: str
    amount: int


@dataclass(frozen=True)
class Plan:
    investors: list[str]
    invoices: dict[str, int]
    """Invoice id -> amount."""
    bids: list[Bid]

    @property
    def financed(self) -> int:
        """How many bids finance their invoice (every invoice is financed once)."""
        return len(self.invoices)

    @property
    def compensated(self) -> int:
        """How many bids lose their invoice to another bid."""
        return len(self.bids) - len(self.invoices)


def plan(n: int, *, tag: str = "") -> Plan:
    """``n`` bids (a multiple of ten) over :data:`INVESTORS` investors, as the module says.

    ``tag`` makes the ids of one run differ from another's in the same database.
    """
    if n % 10:
        raise ValueError("bids come in groups of ten")
    investors = [f"investor-{tag}{i:03d}" for i in range(INVESTORS)]
    invoices: dict[str, int] = {}
    bids: list[Bid] = []
    for group in range(n // 10):
        ids = [f"invoice-{tag}{group * 8 + k:05d}" for k in range(8)]
        for k, invoice in enumerate(ids):
            invoices[invoice] = 1_000 + (group * 8 + k) % 500
        for invoice in [*ids[:6], ids[6], ids[6], ids[7], ids[7]]:
            investor = investors[len(bids) % INVESTORS]
            bids.append(Bid(uuid.uuid4(), investor, invoice, invoices[invoice]))
    return Plan(investors, invoices, bids)
