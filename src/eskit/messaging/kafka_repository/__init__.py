"""A repository on Kafka: the topic is the event store, the aggregates live in memory.

``KafkaRepository`` restores every aggregate from its topic at start-up (from snapshots on
``<topic>.snapshots`` when there are some), serves loads from memory and writes each save
to the topic before applying it. It needs the ``kafka`` extra (aiokafka); import it from
here only where Kafka is configured. See ``docs/kafka_repository.md``.
"""

from eskit.messaging.kafka_repository.errors import (
    KafkaRecordError,
    StaleRepositoryError,
    WriterLeaseHeldError,
)
from eskit.messaging.kafka_repository.repository import KafkaRepository
from eskit.messaging.kafka_repository.restore import RestoreProgress, RestoreReport

__all__ = [
    "KafkaRecordError",
    "KafkaRepository",
    "RestoreProgress",
    "RestoreReport",
    "StaleRepositoryError",
    "WriterLeaseHeldError",
]
