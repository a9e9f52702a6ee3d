"""Reactors: synchronous ones run in the append's transaction and may veto it; asynchronous
ones run after commit, once per event, and never again on a replay or a rebuild.

The asynchronous reactor "sends" a welcome e-mail per wallet opened into an outbox the test
owns and reads.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from eskit.errors import ConfigurationError, DomainError
from eskit.process import AsyncReactor, Reactor, reacts, with_reactors
from eskit.projections import ProjectionContext, ProjectionRunner
from eskit.projections.rebuild import rebuild
from eskit.store import EventStoreBackend, StoredEvent, require_transactions
from tests.wallets.domain import (
    OpenWallet,
    Wallet,
    WalletOpened,
    Withdraw,
    Withdrawn,
    build_handler,
)
from tests.wallets.processes import WelcomeBonus
from tests.wallets.projections import WALLETS, WalletsById

pytestmark = pytest.mark.integration

LIMIT = 500


class WithdrawalOverLimitError(DomainError):
    """A withdrawal larger than a single withdrawal may be."""

    code = "withdrawal_over_limit"

    def __init__(self, amount: int) -> None:
        super().__init__(f"a withdrawal of {amount} is over the limit of {LIMIT}")


class WithdrawalLimit(Reactor):
    """Vetoes any withdrawal above :data:`LIMIT`; remembers what it let pass."""

    name = "withdrawal_limit"

    def __init__(self) -> None:
        super().__init__()
        self.passed: list[int] = []

    @reacts(Withdrawn)
    async def check(self, event: Withdrawn, ctx: ProjectionContext) -> None:
        if event.amount > LIMIT:
            raise WithdrawalOverLimitError(event.amount)
        self.passed.append(event.amount)


class StreamWitness(Reactor):
    """Reads the wallet's stream inside the append's transaction and keeps what it saw."""

    name = "stream_witness"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[list[tuple[int, str]]] = []

    @reacts(Withdrawn)
    async def read(self, event: Withdrawn, ctx: ProjectionContext) -> None:
        records = await ctx.tx.read_stream(ctx.event.stream_id)
        self.seen.append([(r.version, r.event_type) for r in records])


@dataclass(frozen=True)
class Email:
    """A welcome e-mail as the outbox keeps it."""

    to: str
    wallet_id: str
    event_id: uuid.UUID


class WelcomeEmails(AsyncReactor):
    """Sends one welcome e-mail per wallet opened into ``outbox``.

    ``fail_once_at``: the reaction's n-th call (1-based) raises, as a mail server that hangs
    up would; every other call sends.
    """

    name = "welcome_emails"

    def __init__(self, outbox: list[Email], *, fail_once_at: int | None = None) -> None:
        super().__init__()
        self.outbox = outbox
        self.fail_once_at = fail_once_at
        self.calls = 0

    @reacts(WalletOpened)
    async def welcome(self, event: WalletOpened, record: StoredEvent) -> None:
        self.calls += 1
        if self.calls == self.fail_once_at:
            raise ConnectionError("the mail server hung up")
        self.outbox.append(Email(event.owner, record.stream_id, record.event_id))


async def open_wallets(store: EventStoreBackend, *owners: str, balance: int = 0) -> list[str]:
    handler = build_handler(store)
    return [
        (await handler.handle(OpenWallet(owner=owner, balance=balance))).aggregate_id
        for owner in owners
    ]


async def run_until_caught_up(store: EventStoreBackend, runner: ProjectionRunner) -> None:
    async with runner:
        await runner.wait_for(await store.last_position(), timeout_s=10)


# -- synchronous reactors ------------------------------------------------------------------


async def test_a_reactor_vetoing_a_withdrawal_fails_the_command_with_its_typed_error(
    sql_store: EventStoreBackend,
) -> None:
    handler = build_handler(with_reactors(sql_store, [WithdrawalLimit()]))
    wallet_id = (await handler.handle(OpenWallet(owner="Ann", balance=1000))).aggregate_id

    with pytest.raises(WithdrawalOverLimitError) as refused:
        await handler.handle(Withdraw(aggregate_id=wallet_id, amount=600, payment_id="p1"))

    assert refused.value.code == "withdrawal_over_limit"


async def test_a_vetoed_withdrawal_leaves_the_stream_as_it_was(
    sql_store: EventStoreBackend,
) -> None:
    handler = build_handler(with_reactors(sql_store, [WithdrawalLimit()]))
    wallet_id = (await handler.handle(OpenWallet(owner="Ann", balance=1000))).aggregate_id
    before = await sql_store.read_stream(wallet_id)

    with pytest.raises(WithdrawalOverLimitError):
        await handler.handle(Withdraw(aggregate_id=wallet_id, amount=600, payment_id="p1"))

    after = await sql_store.read_stream(wallet_id)
    assert [(r.version, r.event_id) for r in after] == [(r.version, r.event_id) for r in before]
    assert after[-1].version == 1


async def test_a_withdrawal_the_reactor_lets_pass_commits(sql_store: EventStoreBackend) -> None:
    limit = WithdrawalLimit()
    handler = build_handler(with_reactors(sql_store, [limit]))
    wallet_id = (await handler.handle(OpenWallet(owner="Ann", balance=1000))).aggregate_id

    result = await handler.handle(Withdraw(aggregate_id=wallet_id, amount=400, payment_id="p1"))

    assert result.version == 2
    stored = await sql_store.read_stream(wallet_id)
    assert [r.event_type for r in stored] == ["wallets.WalletOpened", "wallets.Withdrawn"]
    assert limit.passed == [400]


async def test_after_a_veto_the_next_command_decides_on_the_stored_wallet(
    sql_store: EventStoreBackend,
) -> None:
    store = with_reactors(sql_store, [WithdrawalLimit()])
    handler = build_handler(store)
    wallet_id = (await handler.handle(OpenWallet(owner="Ann", balance=1000))).aggregate_id
    with pytest.raises(WithdrawalOverLimitError):
        await handler.handle(Withdraw(aggregate_id=wallet_id, amount=600, payment_id="p1"))

    await handler.handle(Withdraw(aggregate_id=wallet_id, amount=100, payment_id="p2"))

    wallet = await build_handler(sql_store, cache_size=0).repository.load(wallet_id)
    assert (wallet.balance, wallet.version, wallet.payments) == (
        900,
        2,
        {"p2": ("withdrawal", 100)},
    )


async def test_a_reactors_reads_in_the_transaction_see_the_events_being_appended(
    sql_store: EventStoreBackend,
) -> None:
    witness = StreamWitness()
    handler = build_handler(with_reactors(sql_store, [witness]))
    wallet_id = (await handler.handle(OpenWallet(owner="Ann", balance=1000))).aggregate_id

    await handler.handle(Withdraw(aggregate_id=wallet_id, amount=10, payment_id="p1"))

    assert witness.seen == [[(1, "wallets.WalletOpened"), (2, "wallets.Withdrawn")]]


# -- asynchronous reactors -----------------------------------------------------------------


async def test_an_async_reactor_reacts_to_each_event_once(sql_store: EventStoreBackend) -> None:
    outbox: list[Email] = []
    wallet_ids = await open_wallets(sql_store, "Ann", "Bob")
    reactor = WelcomeEmails(outbox)

    await run_until_caught_up(
        sql_store, ProjectionRunner(sql_store, [reactor.subscription(sql_store)])
    )
    await run_until_caught_up(
        sql_store, ProjectionRunner(sql_store, [reactor.subscription(sql_store)])
    )

    assert [(e.to, e.wallet_id) for e in outbox] == [("Ann", wallet_ids[0]), ("Bob", wallet_ids[1])]


async def test_a_reaction_failing_mid_batch_is_retried_without_repeating_the_ones_before(
    sql_store: EventStoreBackend,
) -> None:
    outbox: list[Email] = []
    await open_wallets(sql_store, "Ann", "Bob", "Cy")
    reactor = WelcomeEmails(outbox, fail_once_at=2)
    runner = ProjectionRunner(sql_store, [reactor.subscription(sql_store)], retry_backoff_s=0.01)

    await run_until_caught_up(sql_store, runner)

    assert [e.to for e in outbox] == ["Ann", "Bob", "Cy"]
    assert reactor.calls == 4  # Bob's e-mail was tried twice, Ann's once
    assert len({e.event_id for e in outbox}) == 3


async def test_loading_an_aggregate_runs_no_reactor(sql_store: EventStoreBackend) -> None:
    outbox: list[Email] = []
    limit = WithdrawalLimit()
    store = with_reactors(sql_store, [limit])
    handler = build_handler(store, cache_size=0)
    wallet_id = (await handler.handle(OpenWallet(owner="Ann", balance=1000))).aggregate_id
    await handler.handle(Withdraw(aggregate_id=wallet_id, amount=100, payment_id="p1"))
    reactor = WelcomeEmails(outbox)
    await run_until_caught_up(
        sql_store, ProjectionRunner(sql_store, [reactor.subscription(sql_store)])
    )

    loaded: Wallet = await handler.repository.load(wallet_id)
    await handler.repository.history(wallet_id)

    assert loaded.balance == 900
    assert limit.passed == [100]
    assert reactor.calls == 1
    assert len(outbox) == 1


async def test_a_command_handled_again_runs_its_reactor_once(
    sql_store: EventStoreBackend,
) -> None:
    limit = WithdrawalLimit()
    handler = build_handler(with_reactors(sql_store, [limit]))
    wallet_id = (await handler.handle(OpenWallet(owner="Ann", balance=1000))).aggregate_id
    withdraw = Withdraw(aggregate_id=wallet_id, amount=100, payment_id="p1")
    first = await handler.handle(withdraw)

    again = await handler.handle(withdraw, replay=True)

    assert (again.version, again.position) == (first.version, first.position)
    assert limit.passed == [100]


async def test_rebuilding_a_projection_sends_no_email_again(sql_store: EventStoreBackend) -> None:
    outbox: list[Email] = []
    wallet_ids = await open_wallets(sql_store, "Ann", "Bob")
    reactor = WelcomeEmails(outbox)
    await run_until_caught_up(
        sql_store, ProjectionRunner(sql_store, [WalletsById(), reactor.subscription(sql_store)])
    )

    rebuilt = await rebuild(sql_store, WalletsById())
    await run_until_caught_up(
        sql_store, ProjectionRunner(sql_store, [WalletsById(), reactor.subscription(sql_store)])
    )

    assert rebuilt.events == 2
    documents = await WALLETS.all(require_transactions(sql_store, "documents"))
    assert sorted(documents) == sorted(wallet_ids)
    assert [e.to for e in outbox] == ["Ann", "Bob"]
    assert reactor.calls == 2


async def test_a_saga_cannot_be_rebuilt(sql_store: EventStoreBackend) -> None:
    await open_wallets(sql_store, "Ann")

    with pytest.raises(ConfigurationError, match="welcome_bonus cannot be rebuilt"):
        await rebuild(sql_store, WelcomeBonus())


async def test_a_synchronous_reactor_cannot_be_rebuilt(sql_store: EventStoreBackend) -> None:
    with pytest.raises(ConfigurationError, match="withdrawal_limit cannot be rebuilt"):
        await rebuild(sql_store, WithdrawalLimit())


async def test_an_asynchronous_reactor_cannot_be_rebuilt(sql_store: EventStoreBackend) -> None:
    outbox: list[Email] = []
    await open_wallets(sql_store, "Ann")
    reactor = WelcomeEmails(outbox)

    for target in (reactor, reactor.subscription(sql_store)):
        with pytest.raises(ConfigurationError, match="welcome_emails cannot be rebuilt"):
            await rebuild(sql_store, target)  # type: ignore[arg-type]
    assert outbox == []
