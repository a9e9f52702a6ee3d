"""The typed errors of the Kafka repository."""

from __future__ import annotations

from eskit.errors import CorruptRecordError, EskitError, StoreUnavailableError

__all__ = ["KafkaRecordError", "StaleRepositoryError", "WriterLeaseHeldError"]


class KafkaRecordError(CorruptRecordError):
    """A record on the topic is not an event the repository can fold; it names where it is.

    ``reason`` says which rule it broke: ``missing_header``, ``bad_header``,
    ``foreign_stream_type``, ``undecodable`` (bad JSON, an unknown event type, data that does
    not fit), ``version_gap`` or ``version_conflict``. Nothing is ever skipped silently.
    """

    code = "kafka_record_invalid"

    def __init__(self, topic: str, partition: int, offset: int, reason: str, detail: str) -> None:
        super().__init__(
            f"topic {topic!r} partition {partition} offset {offset}", f"{reason}: {detail}"
        )
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.reason = reason


class StaleRepositoryError(StoreUnavailableError):
    """The repository may differ from its topic: it refuses commands until restored."""

    code = "repository_stale"


class WriterLeaseHeldError(EskitError):
    """Another writer holds the topic's writer lease: one writer per topic."""

    code = "writer_lease_held"

    def __init__(self, topic: str, holder: str, expires_in_s: float) -> None:
        super().__init__(
            f"topic {topic!r} is written by {holder} (its lease runs {expires_in_s:.1f} s "
            "more unless renewed); only one writer per topic"
        )
        self.topic = topic
        self.holder = holder
