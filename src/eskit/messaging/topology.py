"""Where a message goes: topic and subject names made from a prefix and a stream type."""

from __future__ import annotations

import re
from dataclasses import dataclass

from eskit.errors import ConfigurationError

__all__ = ["Topology"]

_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def _escape(token: str) -> str:
    """One subject token: anything but letters, digits, ``_`` and ``-`` as ``~XX``.

    NATS gives ``.``, ``*``, ``>`` and white space meaning inside a subject, so a stream
    id such as ``order.42`` must not reach it as it is.
    """
    return _UNSAFE.sub(lambda m: "".join(f"~{b:02X}" for b in m.group().encode()), token)


@dataclass(frozen=True, slots=True)
class Topology:
    """How stream types map to topics (Kafka) and subjects (NATS).

    With ``single_topic`` unset, each stream type has a topic of its own,
    ``<prefix>.<stream_type>``; set, every message goes to ``<prefix>``. NATS subjects are
    ``<prefix>.<stream_type>.<key>`` either way, so a consumer can filter down to one stream.
    """

    prefix: str = "eskit"
    single_topic: bool = False

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.prefix):
            raise ConfigurationError(
                f"bus prefix {self.prefix!r}: use letters, digits, '_' and '-', "
                "in parts separated by '.'"
            )

    def topic(self, stream_type: str) -> str:
        """The Kafka topic of ``stream_type``'s messages."""
        if self.single_topic:
            return self.prefix
        return f"{self.prefix}.{_escape(stream_type)}"

    def subject(self, stream_type: str, key: str) -> str:
        """The NATS subject of one message."""
        return f"{self.prefix}.{_escape(stream_type)}.{_escape(key)}"

    def subject_filter(self, stream_type: str | None = None) -> str:
        """The NATS subject filter of one stream type's messages, or of all of them."""
        if stream_type is None:
            return f"{self.prefix}.>"
        return f"{self.prefix}.{_escape(stream_type)}.*"

    @property
    def stream_name(self) -> str:
        """The JetStream stream holding every subject under the prefix (no dots allowed)."""
        return self.prefix.replace(".", "_").upper()
