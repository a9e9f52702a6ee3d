"""The event store on NATS JetStream: one JetStream stream per store, nothing else to run.

See :class:`~eskit.store.jetstream.store.JetStreamEventStore` and ``docs/stores.md``.
"""

from eskit.store.jetstream.store import JetStreamEventStore

__all__ = ["JetStreamEventStore"]
