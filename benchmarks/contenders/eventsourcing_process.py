"""The peer: the bid chain as process applications of the ``eventsourcing`` library (9.5).

``eventsourcing.system`` runs a chain of reactions as applications that follow each other's
notification logs: a ``ProcessApplication``'s policy turns each event it follows into new
events of its own aggregates, recorded atomically with a tracking row (the position it
processed). The bid chain is two of them in a loop, ``System(pipes=[[Accounts, Invoices,
Accounts]])``, run by the library's ``MultiThreadedRunner`` (a thread per follower, prompted
when its leader records) on its PostgreSQL persistence at default settings (every insert
takes ``LOCK TABLE … IN EXCLUSIVE MODE``; no aggregate cache):

* ``Accounts`` (investor accounts): the command ``bid`` reserves funds (``FundsReserved``);
  its policy commits them on ``Invoice.Financed`` and releases them on ``Invoice.BidRejected``;
* ``Invoices``: its policy answers ``FundsReserved`` with ``Financed`` or ``BidRejected``.

No queue sits in front of the chain: the library has none, a command is a method call that
records its events before it returns. So a bid is accepted once ``FundsReserved`` is
recorded, where eskit accepts it when it is queued. A command to a process application
takes the application's processing lock, as its policy does: otherwise a bid and the
commitment of an earlier bid of the same investor race, and the loser's version conflict
stops the runner's thread (the library does not retry it). Everything else is the
library's defaults, as its documentation shows process applications.
"""

from __future__ import annotations

import threading
import time
import uuid
from functools import singledispatchmethod
from typing import Any

from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Recording
from eventsourcing.system import MultiThreadedRunner, ProcessApplication, System
from eventsourcing.utils import get_topic

from workloads.bids import FUNDS, Plan

__all__ = ["Accounts", "EsInvestor", "EsInvoice", "Invoices", "peer_runner"]


def stream_uuid(name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, name)


class EsInvestor(Aggregate):
    """An investor's money: available, and reserved for open bids."""

    @staticmethod
    def create_id(name: str) -> uuid.UUID:
        return stream_uuid(name)

    @event("Opened")
    def __init__(self, name: str, available: int) -> None:
        self.name = name
        self.available = available
        self.reserved: dict[str, tuple[str, int]] = {}

    @event("FundsReserved")
    def reserve(self, bid_id: str, invoice_id: str, amount: int) -> None:
        self.available -= amount
        self.reserved[bid_id] = (invoice_id, amount)

    def commit(self, bid_id: str) -> None:
        if bid_id in self.reserved:
            invoice_id, amount = self.reserved[bid_id]
            self._committed(bid_id=bid_id, invoice_id=invoice_id, amount=amount)

    def release(self, bid_id: str, reason: str) -> None:
        if bid_id in self.reserved:
            invoice_id, amount = self.reserved[bid_id]
            self._released(bid_id=bid_id, invoice_id=invoice_id, amount=amount, reason=reason)

    @event("FundsCommitted")
    def _committed(self, bid_id: str, invoice_id: str, amount: int) -> None:
        del self.reserved[bid_id]

    @event("FundsReleased")
    def _released(self, bid_id: str, invoice_id: str, amount: int, reason: str) -> None:
        del self.reserved[bid_id]
        self.available += amount


class EsInvoice(Aggregate):
    """An invoice for sale: financed by the first bid of its amount."""

    @staticmethod
    def create_id(name: str) -> uuid.UUID:
        return stream_uuid(name)

    @event("PutForSale")
    def __init__(self, name: str, amount: int) -> None:
        self.name = name
        self.amount = amount
        self.financed_by: str | None = None

    def finance(self, bid_id: str, investor_id: str, amount: int) -> None:
        if self.financed_by is None and amount == self.amount:
            self._financed(bid_id=bid_id, investor_id=investor_id, amount=amount)
        elif bid_id != self.financed_by:
            self._rejected(bid_id=bid_id, investor_id=investor_id, reason="already_financed")

    @event("Financed")
    def _financed(self, bid_id: str, investor_id: str, amount: int) -> None:
        self.financed_by = bid_id

    @event("BidRejected")
    def _rejected(self, bid_id: str, investor_id: str, reason: str) -> None:
        pass


_Financed: Any = EsInvoice.Financed  # type: ignore[attr-defined]
_Rejected: Any = EsInvoice.BidRejected  # type: ignore[attr-defined]
_Reserved: Any = EsInvestor.FundsReserved  # type: ignore[attr-defined]
_FINAL: tuple[type[Any], ...] = (
    EsInvestor.FundsCommitted,  # type: ignore[attr-defined]
    EsInvestor.FundsReleased,  # type: ignore[attr-defined]
)


class Accounts(ProcessApplication[uuid.UUID]):
    """Investor accounts: bids reserve funds; the invoices' answers commit or release them."""

    topics = (get_topic(_Financed), get_topic(_Rejected))

    def __init__(self, env: Any = None) -> None:
        super().__init__(env)
        self.ended: dict[str, float] = {}
        """Bid id -> when its final event was recorded (perf_counter)."""
        self._ended_lock = threading.Lock()

    def open(self, investors: list[str]) -> None:
        with self.processing_lock:
            self.save(*(EsInvestor(name=i, available=FUNDS) for i in investors))

    def bid(self, investor: str, bid_id: str, invoice: str, amount: int) -> None:
        with self.processing_lock:
            account: EsInvestor = self.repository.get(stream_uuid(investor))
            account.reserve(bid_id=bid_id, invoice_id=invoice, amount=amount)
            self.save(account)

    @singledispatchmethod
    def policy(self, domain_event: Any, processing_event: ProcessingEvent[uuid.UUID]) -> None:
        """Events of other types: nothing to do."""

    @policy.register(_Financed)
    def _financed(self, domain_event: Any, processing_event: ProcessingEvent[uuid.UUID]) -> None:
        account: EsInvestor = self.repository.get(uuid.UUID(domain_event.investor_id))
        account.commit(domain_event.bid_id)
        processing_event.collect_events(account)

    @policy.register(_Rejected)
    def _rejected(self, domain_event: Any, processing_event: ProcessingEvent[uuid.UUID]) -> None:
        account: EsInvestor = self.repository.get(uuid.UUID(domain_event.investor_id))
        account.release(domain_event.bid_id, domain_event.reason)
        processing_event.collect_events(account)

    def _notify(self, recordings: list[Recording[uuid.UUID]]) -> None:
        super()._notify(recordings)  # after the record committed: prompt the followers
        now = time.perf_counter()
        with self._ended_lock:
            for recording in recordings:
                if isinstance(recording.domain_event, _FINAL):
                    self.ended.setdefault(recording.domain_event.bid_id, now)


class Invoices(ProcessApplication[uuid.UUID]):
    """Invoices: each reservation for one is answered by Financed or BidRejected."""

    topics = (get_topic(_Reserved),)

    def put_for_sale(self, invoices: dict[str, int]) -> None:
        with self.processing_lock:
            self.save(*(EsInvoice(name=i, amount=a) for i, a in invoices.items()))

    def financed(self) -> int:
        """How many invoices were financed (for the run's check)."""
        topics = [get_topic(_Financed)]
        return len(self.recorder.select_notifications(start=None, limit=10**9, topics=topics))

    @singledispatchmethod
    def policy(self, domain_event: Any, processing_event: ProcessingEvent[uuid.UUID]) -> None:
        """Events of other types: nothing to do."""

    @policy.register(_Reserved)
    def _reserved(self, domain_event: Any, processing_event: ProcessingEvent[uuid.UUID]) -> None:
        invoice: EsInvoice = self.repository.get(stream_uuid(domain_event.invoice_id))
        invoice.finance(domain_event.bid_id, str(domain_event.originator_id), domain_event.amount)
        processing_event.collect_events(invoice)


SYSTEM = System(pipes=[[Accounts, Invoices, Accounts]])


def peer_runner(env: dict[str, str], bids: Plan) -> MultiThreadedRunner[uuid.UUID]:
    """The system started, its investors opened and funded and its invoices for sale."""
    runner: MultiThreadedRunner[uuid.UUID] = MultiThreadedRunner(SYSTEM, env=env)
    runner.start()
    runner.get(Accounts).open(bids.investors)
    runner.get(Invoices).put_for_sale(bids.invoices)
    return runner
