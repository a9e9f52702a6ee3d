"""How the console shows who holds a projection: the lease's process, since when, its last
heartbeat and its state; a dash when the status has no lease."""

from datetime import UTC, datetime

import pytest

from eskit.admin.pages import ProjectionRow
from eskit.projections import ProjectionStatus
from eskit.store.leases import LeaseInfo

pytestmark = pytest.mark.unit


def row(lease: LeaseInfo | None) -> ProjectionRow:
    return ProjectionRow(
        ProjectionStatus("p", "live", 1, 1, 0, 0.0, lease=lease), "projection", True
    )


def test_a_status_without_a_lease_is_held_by_nobody_shown() -> None:
    assert row(None).held_by == "—"


def test_a_held_lease_shows_host_pid_since_beat_and_state() -> None:
    since = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    beat = datetime(2026, 1, 2, 3, 9, 0, tzinfo=UTC)
    lease = LeaseInfo("running_elsewhere", "h-1", "worker-1", 4242, since, beat)

    assert row(lease).held_by == (
        "worker-1 pid 4242 since 2026-01-02 03:04:05 UTC, beat 2026-01-02 03:09:00 UTC"
        " (running elsewhere)"
    )


def test_a_lease_nobody_holds_says_so() -> None:
    assert row(LeaseInfo("not_running")).held_by == "not running"
