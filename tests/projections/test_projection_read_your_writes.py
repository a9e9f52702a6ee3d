"""Read-your-writes: ``wait_for`` and ``wait_for_stream`` on both backends.

* ``wait_for`` a position the log never reaches raises NotCaughtUpError once its bound has
  passed (not before, not long after), naming the projection and how far it got.
* ``wait_for_stream(stream, version)`` returns once that version is visible in the read
  model: a query right after it sees the command's effect, every time.
"""

from __future__ import annotations

import time

import pytest

from eskit.errors import NotCaughtUpError, NotFoundError
from eskit.projections import ProjectionRunner
from eskit.store import EventStoreBackend
from tests.projections.support import AppliedLogProjection, open_wallet
from tests.wallets.domain import Deposit, RenameOwner, build_handler
from tests.wallets.projections import WALLETS, WalletsById

pytestmark = pytest.mark.integration


async def test_wait_for_unreached_position_raises_after_the_bound(
    sql_store: EventStoreBackend,
) -> None:
    """A position never reached: NotCaughtUpError after ``timeout_s``, naming the projection."""
    handler = build_handler(sql_store)
    await handler.handle(open_wallet("acc-1"))
    async with ProjectionRunner(sql_store, [WalletsById(), AppliedLogProjection()]) as runner:
        head = await sql_store.last_position()
        await runner.wait_for(head, timeout_s=5)

        started = time.monotonic()
        with pytest.raises(NotCaughtUpError) as caught:
            await runner.wait_for(head + 1_000, timeout_s=0.3)
        waited = time.monotonic() - started
        assert 0.29 <= waited < 2.0
        error = caught.value
        assert error.name == WalletsById.name
        assert (error.wanted, error.reached, error.timeout_s) == (head + 1_000, head, 0.3)
        assert WalletsById.name in str(error)

        with pytest.raises(NotCaughtUpError) as only:
            await runner.wait_for(head + 1_000, names=[AppliedLogProjection.name], timeout_s=0.1)
        assert only.value.name == AppliedLogProjection.name
        assert AppliedLogProjection.name in str(only.value)

        # a position reached later within the bound is waited for, not refused
        result = await handler.handle(Deposit(aggregate_id="acc-1", amount=5, payment_id="late"))
        await runner.wait_for(result.position, timeout_s=5)


async def test_stopped_runner_is_not_caught_up(sql_store: EventStoreBackend) -> None:
    """Events appended while the runner is stopped: waiting for them is bounded too."""
    handler = build_handler(sql_store)
    runner = ProjectionRunner(sql_store, [WalletsById()])
    await runner.prepare()
    result = await handler.handle(open_wallet("acc-1"))
    with pytest.raises(NotCaughtUpError) as caught:
        await runner.wait_for(result.position, timeout_s=0.2)
    assert caught.value.reached == 0
    async with runner:
        await runner.wait_for(result.position, timeout_s=5)


async def test_wait_for_stream_returns_once_the_version_is_visible(
    sql_store: EventStoreBackend,
) -> None:
    """After ``wait_for_stream`` the document shows the version just written, every time."""
    handler = build_handler(sql_store)
    async with ProjectionRunner(sql_store, [WalletsById()], poll_interval_s=30) as runner:
        opened = await handler.handle(open_wallet("acc-1", balance=0))
        await runner.wait_for_stream("acc-1", opened.version, timeout_s=5)
        doc = await WALLETS.get(runner.store, "acc-1")
        assert doc is not None
        assert doc.body["version"] == 1

        balance = 0
        for n in range(1, 31):
            if n % 5 == 0:
                command: Deposit | RenameOwner = RenameOwner(aggregate_id="acc-1", owner=f"n{n}")
            else:
                command = Deposit(aggregate_id="acc-1", amount=n, payment_id=f"p{n}")
                balance += n
            result = await handler.handle(command)
            await runner.wait_for_stream("acc-1", result.version, timeout_s=5)
            doc = await WALLETS.get(runner.store, "acc-1")
            assert doc is not None
            assert doc.body["version"] == result.version
            assert doc.body["balance"] == balance

        with pytest.raises(NotFoundError):
            await runner.wait_for_stream("acc-1", result.version + 1, timeout_s=0.1)
        with pytest.raises(NotFoundError):
            await runner.wait_for_stream("no-such-wallet", 1, timeout_s=0.1)
