"""The PostgreSQL adapter: the production store (psycopg 3, async, pooled).

``store`` (the event store, its transactions), ``log`` (the event log through an
executor), ``sql`` (every statement, the read horizon among them), ``pool`` (the
connection pool), ``combining`` (appends sharing statements), ``session`` (the unit of
work and committed reads), ``rows`` and ``bookkeeping`` (read models, checkpoints, parked
events), ``notify`` and ``listener`` (telling and hearing other processes of commits).
"""

from eskit.store.postgres.store import PostgresEventStore, normalize_postgres_url

__all__ = ["PostgresEventStore", "normalize_postgres_url"]
