"""FailurePolicy: what it accepts, when it parks, how long it waits between attempts."""

from __future__ import annotations

import pytest

from eskit.projections import FailurePolicy, Projection, Subscription

pytestmark = pytest.mark.unit


def test_stop_is_the_default_of_projections_and_subscriptions() -> None:
    async def handler(batch: object) -> None: ...

    assert Projection.on_failure == FailurePolicy.stop()
    assert Subscription("relay", handler).on_failure == FailurePolicy.stop()
    assert str(FailurePolicy.stop()) == "stop"


def test_stop_never_parks() -> None:
    assert not FailurePolicy.stop().parks_after(10**6)


def test_park_parks_after_its_number_of_failed_attempts() -> None:
    policy = FailurePolicy.park(after=3)
    assert [policy.parks_after(n) for n in (1, 2, 3, 4)] == [False, False, True, True]
    assert str(policy) == "park after 3"


@pytest.mark.parametrize("after", [0, -1])
def test_park_needs_at_least_one_attempt(after: int) -> None:
    with pytest.raises(ValueError, match="after"):
        FailurePolicy.park(after=after)


def test_stop_takes_no_number_of_attempts() -> None:
    with pytest.raises(ValueError, match="after"):
        FailurePolicy("stop", 3)


def test_backoff_must_be_positive() -> None:
    with pytest.raises(ValueError, match="backoff_s"):
        FailurePolicy.park(after=2, backoff_s=0)


def test_retry_waits_double_from_the_runners_backoff_up_to_its_cap() -> None:
    waits = [
        FailurePolicy.stop().retry_in(n, backoff_s=0.1, max_backoff_s=0.5) for n in range(1, 6)
    ]
    assert waits == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])


def test_a_policys_own_backoff_wins_over_the_runners() -> None:
    policy = FailurePolicy.park(after=5, backoff_s=0.01, max_backoff_s=0.03)
    waits = [policy.retry_in(n, backoff_s=1.0, max_backoff_s=30.0) for n in range(1, 5)]
    assert waits == pytest.approx([0.01, 0.02, 0.03, 0.03])


def test_many_attempts_wait_the_cap_without_overflowing() -> None:
    assert FailurePolicy.stop().retry_in(100_000, backoff_s=0.1, max_backoff_s=2.0) == 2.0


def test_a_projection_declares_its_policy_as_a_class_attribute() -> None:
    class Lenient(Projection):
        name = "lenient"
        on_failure = FailurePolicy.park(after=2)

    assert Lenient.on_failure.parks_after(2)
    assert not Projection.on_failure.parks_after(2)
