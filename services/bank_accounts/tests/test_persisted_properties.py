"""Properties over a real store: what is loaded equals the fold of what was stored."""

import asyncio
import contextlib
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bank_accounts import DepositMoney, OpenAccount, WithdrawMoney, build_handler
from eskit.errors import DomainError
from eskit.store import SQLiteEventStore

pytestmark = pytest.mark.integration

payments = st.lists(
    st.tuples(st.booleans(), st.integers(min_value=1, max_value=300)), min_size=1, max_size=40
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(opening=st.integers(min_value=0, max_value=500), ops=payments, every=st.integers(1, 10))
def test_snapshot_load_equals_replay_on_sqlite(
    opening: int, ops: list[tuple[bool, int]], every: int
) -> None:
    async def scenario(path: Path) -> None:
        async with SQLiteEventStore.open(path) as store:
            handler = build_handler(store, snapshot_every=every)
            opened = await handler.handle(
                OpenAccount(
                    email="p@example.com",
                    address="1 Road",
                    first_name="P",
                    last_name="Q",
                    balance=opening,
                )
            )
            account_id = opened.aggregate_id
            for n, (is_deposit, amount) in enumerate(ops):
                kind = DepositMoney if is_deposit else WithdrawMoney
                with contextlib.suppress(DomainError):
                    await handler.handle(
                        kind(aggregate_id=account_id, amount=amount, payment_id=str(n))
                    )
            with_snapshot = await handler.repository.load(account_id)
            plain = build_handler(store).repository
            replayed = await plain.load(account_id)
            assert with_snapshot.model_dump() == replayed.model_dump()
            assert replayed.balance >= 0
            folded = opening
            for record in await store.read_stream(account_id, from_version=2):
                sign = 1 if record.event_type.endswith("Deposited") else -1
                folded += sign * record.data["amount"]
            assert folded == replayed.balance

    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(scenario(Path(folder) / "p.db"))
