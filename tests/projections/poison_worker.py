"""What the worker processes of the cross-process park tests run (``--projections`` names
them): projections that refuse the deposit paid as ``poison``. One stops there and would wait
30 s between attempts, so only a park seen while it waits lets it go on sooner; the other
parks the event itself after two attempts."""

from __future__ import annotations

from eskit.projections import FailurePolicy, Projection
from eskit.store import StoredEvent
from tests.projections.support import AppliedLog, RecordingProjection

POISON_WORKER_LOG = AppliedLog("test_poison_worker_applied")
NAME = "test_poison_worker"


class PoisonWorkerView(RecordingProjection):
    """Refuses the poison deposit until it is parked."""

    name = NAME
    applied = POISON_WORKER_LOG
    read_models = (POISON_WORKER_LOG,)
    on_failure = FailurePolicy.stop(backoff_s=30.0, max_backoff_s=30.0)

    def check(self, record: StoredEvent) -> None:
        """Raise on the poison event."""
        if record.data.get("payment_id") == "poison":
            raise RuntimeError("the worker refuses poison payments")


def projections() -> list[Projection]:
    """The worker's projections."""
    return [PoisonWorkerView()]


PARKING_WORKER_LOG = AppliedLog("test_parking_worker_applied")
PARKING_NAME = "test_parking_worker"


class ParkingWorkerView(RecordingProjection):
    """Refuses the poison deposit; its policy parks it after two attempts."""

    name = PARKING_NAME
    applied = PARKING_WORKER_LOG
    read_models = (PARKING_WORKER_LOG,)
    on_failure = FailurePolicy.park(after=2, backoff_s=0.05)

    def check(self, record: StoredEvent) -> None:
        """Raise on the poison event."""
        if record.data.get("payment_id") == "poison":
            raise RuntimeError("the worker refuses poison payments")


def parking_projections() -> list[Projection]:
    """The projections of the worker whose policy parks."""
    return [ParkingWorkerView()]
