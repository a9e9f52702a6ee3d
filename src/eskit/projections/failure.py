"""What a projection does when a handler keeps failing on one event: stop, or park it.

::

    class AccountSearch(Projection):
        name = "account_search"
        on_failure = FailurePolicy.park(after=5)

Either way the runner retries the failing event with exponential backoff (``backoff_s``,
doubling up to ``max_backoff_s``; None takes the runner's ``retry_backoff_s`` and
``max_backoff_s``). Under ``stop`` (the default) it retries until the handler succeeds or an
operator parks the event (``eskit projections park``): for views that must never skip an
event. Under ``park`` the event is moved to the dead letters after ``after`` failed attempts,
with the error, and the projection goes on without it: for views where one bad event must not
hold back every other change. A parked event is never skipped silently: it is listed by
``eskit projections dead-letters``, counted in the status, and logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["FailureAction", "FailurePolicy"]

FailureAction = Literal["stop", "park"]


@dataclass(frozen=True, slots=True)
class FailurePolicy:
    """How a projection meets an event its handler fails on. Build with :meth:`stop` or
    :meth:`park`."""

    action: FailureAction = "stop"
    after: int | None = None
    """Failed attempts after which the event is parked (``park`` only)."""
    backoff_s: float | None = None
    """The wait before the first retry (None: the runner's ``retry_backoff_s``)."""
    max_backoff_s: float | None = None
    """The longest wait between retries (None: the runner's ``max_backoff_s``)."""

    def __post_init__(self) -> None:
        if self.action == "park" and (self.after is None or self.after < 1):
            raise ValueError("park needs after >= 1 failed attempts")
        if self.action == "stop" and self.after is not None:
            raise ValueError("stop retries until parked by hand: it takes no 'after'")
        for name in ("backoff_s", "max_backoff_s"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0")

    @classmethod
    def stop(
        cls, *, backoff_s: float | None = None, max_backoff_s: float | None = None
    ) -> FailurePolicy:
        """Retry the failing event until it succeeds or an operator parks it."""
        return cls("stop", None, backoff_s, max_backoff_s)

    @classmethod
    def park(
        cls, after: int = 3, *, backoff_s: float | None = None, max_backoff_s: float | None = None
    ) -> FailurePolicy:
        """Retry the failing event, park it after ``after`` failed attempts, and go on."""
        return cls("park", after, backoff_s, max_backoff_s)

    def parks_after(self, attempts: int) -> bool:
        """Whether an event that failed ``attempts`` times in a row is to be parked now."""
        return self.action == "park" and self.after is not None and attempts >= self.after

    def retry_in(self, attempts: int, *, backoff_s: float, max_backoff_s: float) -> float:
        """Seconds to wait before the next attempt, after ``attempts`` failed ones.

        ``backoff_s`` and ``max_backoff_s`` are the runner's, used where the policy sets none.
        """
        first = self.backoff_s if self.backoff_s is not None else backoff_s
        cap = self.max_backoff_s if self.max_backoff_s is not None else max_backoff_s
        doublings = min(max(attempts - 1, 0), 62)  # past the cap long before; no overflow
        return float(min(first * 2**doublings, cap))

    def __str__(self) -> str:
        return f"park after {self.after}" if self.action == "park" else "stop"
