"""How the console shows who holds a projection: the lease's fields when the status has
one, a dash when it has none."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from eskit.admin.pages import ProjectionRow
from eskit.projections import ProjectionStatus

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Lease:
    host: str
    pid: int
    since: datetime


@dataclass(frozen=True)
class LeasedStatus:
    name: str
    lease: Lease | None


def row(status: Any) -> ProjectionRow:
    return ProjectionRow(cast(ProjectionStatus, status), "projection", True)


def test_a_status_without_a_lease_is_held_by_nobody_shown() -> None:
    status = ProjectionStatus("p", "live", 1, 1, 0, 0.0)

    assert row(status).held_by == "—"


def test_a_status_with_a_lease_shows_host_pid_and_since() -> None:
    since = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    shown = row(LeasedStatus("p", Lease("worker-1", 4242, since))).held_by

    assert shown == f"worker-1 4242 {since}"


def test_a_lease_of_none_is_shown_as_nobody() -> None:
    assert row(LeasedStatus("p", None)).held_by == "—"
