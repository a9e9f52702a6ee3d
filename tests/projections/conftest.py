"""Fixtures of the projection tests: fresh stores on demand, on SQLite and on PostgreSQL.

``sql_store`` (from the top-level conftest) gives one store per test. Property tests need a
fresh store per *example*; ``fresh_stores`` opens as many as asked, each on a database of
its own, on the backend the test is parametrized with.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.projections.support import FreshStores


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def fresh_stores(request: pytest.FixtureRequest) -> FreshStores:
    """Fresh stores of each backend in turn (PostgreSQL starts only when needed)."""
    if request.param == "sqlite":
        return FreshStores("sqlite", None)
    return FreshStores("postgres", request.getfixturevalue("postgres_server"))


@pytest.fixture(params=["sqlite", "postgres"])
def worker_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh database of each backend (for tests that start processes)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path.resolve()}/events.db"
    else:
        yield request.getfixturevalue("postgres_url")
