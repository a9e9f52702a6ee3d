"""The expected-version check every adapter applies before writing."""

from __future__ import annotations

from eskit.errors import ConcurrencyError
from eskit.store.records import ExpectedState, ExpectedVersion

__all__ = ["check_expected_version"]


def check_expected_version(stream_id: str, expected: ExpectedVersion, current: int) -> None:
    """Raise ConcurrencyError unless a stream at ``current`` satisfies ``expected``."""
    if expected is ExpectedState.ANY:
        return
    if expected is ExpectedState.STREAM_EXISTS:
        if current == 0:
            raise ConcurrencyError(stream_id, expected, current)
        return
    wanted = 0 if expected is ExpectedState.NO_STREAM else expected
    if wanted != current:
        raise ConcurrencyError(stream_id, expected, current)


def validate_expected_version(expected: ExpectedVersion) -> None:
    """Reject nonsense before any I/O: a negative or non-integer version."""
    if isinstance(expected, ExpectedState):
        return
    if isinstance(expected, bool) or not isinstance(expected, int) or expected < 0:
        raise ValueError(f"expected_version must be >= 0 or an ExpectedState, got {expected!r}")
