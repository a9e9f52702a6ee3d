"""Given / when / then for aggregates, in users' own unit tests.

::

    scenario = AggregateScenario(BankAccount)
    scenario.given(opened(balance=100)).when(lambda a: a.withdraw(30, "w-1")).then(
        MoneyWithdrawn(amount=30, currency="USD", payment_id="w-1")
    )
    scenario.given(opened(balance=10)).when(lambda a: a.withdraw(30, "w-1")).then_raises(
        InsufficientFundsError
    )

``given`` folds past events into a fresh aggregate, ``when`` runs one decision on it, and
``then`` compares the events it recorded, in order. Nothing touches a store.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from eskit.domain.aggregate import Aggregate
from eskit.domain.events import Event

__all__ = ["AggregateScenario"]

A = TypeVar("A", bound=Aggregate)
E = TypeVar("E", bound=BaseException)


class AggregateScenario(Generic[A]):
    """Scenarios against one aggregate type."""

    def __init__(self, aggregate_type: type[A], aggregate_id: str = "scenario") -> None:
        self.aggregate_type = aggregate_type
        self.aggregate_id = aggregate_id

    def given(self, *history: Event) -> _Given[A]:
        """Start from an aggregate that has already lived through ``history``."""
        aggregate = self.aggregate_type(id=self.aggregate_id)
        aggregate.apply_all(history)
        return _Given(aggregate)


@dataclass(frozen=True)
class _Given(Generic[A]):
    aggregate: A

    def when(self, decision: Callable[[A], Any]) -> _When[A]:
        """Run ``decision`` on the aggregate; if it returns an aggregate (a factory that
        creates one), that aggregate's events are the outcome."""
        try:
            returned = decision(self.aggregate)
        except Exception as exc:
            return _When(self.aggregate, exc)
        outcome = returned if isinstance(returned, Aggregate) else self.aggregate
        return _When(outcome, None)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _When(Generic[A]):
    aggregate: A
    error: Exception | None

    def then(self, *expected: Event) -> A:
        """Assert the decision recorded exactly ``expected``, in order; returns the aggregate."""
        if self.error is not None:
            raise AssertionError(f"expected events, but the decision raised {self.error!r}")
        recorded = list(self.aggregate.pending_events)
        if recorded != list(expected):
            raise AssertionError(
                "recorded events differ from the expected ones:\n"
                f"  recorded: {recorded!r}\n  expected: {list(expected)!r}"
            )
        return self.aggregate

    def then_nothing(self) -> A:
        """Assert the decision succeeded and recorded no event."""
        return self.then()

    def then_raises(self, error_type: type[E], match: str | None = None) -> E:
        """Assert the decision raised ``error_type`` (with a message matching ``match``)."""
        if self.error is None:
            raise AssertionError(
                f"expected {error_type.__name__}, but the decision recorded "
                f"{list(self.aggregate.pending_events)!r}"
            )
        if not isinstance(self.error, error_type):
            raise AssertionError(f"expected {error_type.__name__}, got {self.error!r}")
        if match is not None and not re.search(match, str(self.error)):
            raise AssertionError(f"{self.error!r} does not match {match!r}")
        return self.error
