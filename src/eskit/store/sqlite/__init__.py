"""The SQLite adapter: the embedded default store, one file in WAL mode.

``store`` (the event store, its transactions), ``log`` (the event log on a connection),
``sql`` (every statement), ``writer`` (the one writer thread, group commit), ``session``
(the unit of work and committed reads), ``rows`` and ``bookkeeping`` (read models,
checkpoints, parked events), ``watcher`` (commits of other processes), ``values``.
"""

from eskit.store.sqlite.store import SQLiteEventStore

__all__ = ["SQLiteEventStore"]
