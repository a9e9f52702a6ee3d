"""The garbage-collector policy of server processes."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from eskit.serving.gc_policy import freeze_startup_objects

pytestmark = pytest.mark.unit


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # leave the test process as it was


@pytest.mark.usefixtures("unfrozen")
def test_objects_alive_at_startup_leave_the_collected_generations() -> None:
    kept = [{"state": i} for i in range(100)]
    freeze_startup_objects()
    assert gc.get_freeze_count() > 0
    assert not any(obj is kept for obj in gc.get_objects())


@pytest.mark.usefixtures("unfrozen")
def test_cycles_made_after_startup_are_still_collected() -> None:
    freeze_startup_objects()

    class Node:
        other: object = None

    first, second = Node(), Node()
    first.other, second.other = second, first
    del first, second
    assert gc.collect() > 0
