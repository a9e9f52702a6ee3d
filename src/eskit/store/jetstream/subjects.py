"""Where each record of a JetStream store lives: stream, subjects and key-value buckets.

Events go to ``<name>.<stream type>.<stream id>.<1|n>``: a stream's events share
``<name>.*.<stream id>.*`` (its version check), a stream type is one wildcard, and the last
token marks a stream's first event (``1``) apart from the rest (``n``), so the streams in
order of creation are one wildcard too (``<name>.*.*.1``), with no second record to write.
Event ids are made unique store-wide by records on ``<name>-ids.<event id>``, which the
events' wildcard does not match. Names and ids that are not plain subject tokens are
encoded.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass

from eskit.errors import ConfigurationError

__all__ = ["StoreNames", "kv_key", "token", "untoken"]

_PLAIN = re.compile(r"[A-Za-z0-9_-]+")
_ENCODED = "~"  # never part of a plain token, so a token says which kind it is


def token(text: str) -> str:
    """``text`` as one subject token: itself if plain, else ``~`` and its base64url."""
    if _PLAIN.fullmatch(text):
        return text
    return _ENCODED + base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def untoken(value: str) -> str:
    """The text :func:`token` made ``value`` from.

    Raises ValueError if :func:`token` makes ``value`` from no text: a subject the store
    never writes (base64 decoding would drop stray characters, or find a plain id spelled
    encoded) must not pass for a stream's, which has exactly one subject.
    """
    text: str | None = value
    if value.startswith(_ENCODED):
        body = value[1:]
        try:
            text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
            text = None
    if text is None or token(text) != value:
        raise ValueError(f"{value!r} is not a subject token of a JetStream store")
    return text


def kv_key(text: str) -> str:
    """``text`` as a key-value key (keys allow fewer characters than subjects)."""
    return "k" + base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class StoreNames:
    """The names of one store's JetStream stream, subjects and buckets."""

    name: str

    def __post_init__(self) -> None:
        if not _PLAIN.fullmatch(self.name):
            raise ConfigurationError(
                f"a JetStream store's name takes letters, digits, '-' and '_', got {self.name!r}"
            )

    @property
    def stream(self) -> str:
        """The JetStream stream that holds the events and their bookkeeping."""
        return self.name

    @property
    def subjects(self) -> list[str]:
        """Every subject the JetStream stream takes."""
        return [self.events, f"{self.name}-ids.*"]

    @property
    def events(self) -> str:
        """The wildcard of every event."""
        return f"{self.name}.*.*.*"

    def firsts(self, stream_type: str | None = None) -> str:
        """The wildcard of every stream's first event (of one type, if given)."""
        kind = "*" if stream_type is None else token(stream_type)
        return f"{self.name}.{kind}.*.1"

    @property
    def snapshots(self) -> str:
        """The key-value bucket of snapshots."""
        return f"{self.name}-snapshots"

    @property
    def outcomes(self) -> str:
        """The key-value bucket of command outcomes."""
        return f"{self.name}-outcomes"

    def event_subject(self, stream_type: str, stream_id: str, *, first: bool) -> str:
        """The subject of a stream's first event (``first``) or of its later ones."""
        return f"{self.name}.{token(stream_type)}.{token(stream_id)}.{'1' if first else 'n'}"

    def stream_filter(self, stream_id: str) -> str:
        """The events of one stream, whatever its type."""
        return f"{self.name}.*.{token(stream_id)}.*"

    def type_filter(self, stream_type: str) -> str:
        """The events of every stream of one type."""
        return f"{self.name}.{token(stream_type)}.*.*"

    def id_subject(self, event_id: uuid.UUID) -> str:
        """The record that makes ``event_id`` unique."""
        return f"{self.name}-ids.{event_id}"

    def parse_event_subject(self, subject: str) -> tuple[str, str] | None:
        """``(stream type, stream id)`` of an event subject; None for any other subject."""
        parts = subject.split(".")
        if len(parts) != 4 or parts[0] != self.name or parts[3] not in ("1", "n"):
            return None
        try:
            return untoken(parts[1]), untoken(parts[2])
        except ValueError:
            return None
