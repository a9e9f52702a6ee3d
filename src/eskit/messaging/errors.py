"""The typed errors of messaging."""

from __future__ import annotations

from eskit.errors import EskitError

__all__ = ["BusUnavailableError", "MessageDecodingError"]


class BusUnavailableError(EskitError):
    """The broker did not answer or did not acknowledge: nothing after it counts as sent."""

    code = "bus_unavailable"


class MessageDecodingError(EskitError):
    """A message read from the bus is not one eskit can hand to a handler.

    ``reason`` says which rule it broke (``not_json``, ``missing_header``, ``unknown_type``,
    ``newer_schema``); such a message is dead-lettered, never retried.
    """

    code = "message_decoding_error"

    def __init__(self, message_id: str, reason: str, detail: str) -> None:
        super().__init__(f"message {message_id or '<no id>'}: {reason}: {detail}")
        self.message_id = message_id
        self.reason = reason
