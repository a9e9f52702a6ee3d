"""The wallets' processes: a saga that pays a welcome bonus into every wallet opened, and the
wallets' service with that saga and a command queue beside its projections.

``ESKIT_SERVICE=tests.wallets.processes:service``: the service of ``tests.wallets.service``
plus the saga ``welcome_bonus`` (run beside the projections, never rebuilt) and a command
queue over the wallets' commands.
"""

from __future__ import annotations

import dataclasses

from pydantic import BaseModel

from eskit.process import CommandDispatcher, CommandQueue, Saga, SagaInstance, on
from eskit.serving import Service, ServiceParts
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend
from tests.wallets import service as wallets
from tests.wallets.domain import Deposit, Deposited, WalletOpened, build_handler

__all__ = ["BONUS", "BONUS_PAYMENT", "BonusState", "WelcomeBonus", "service"]

BONUS = 10
"""What a new wallet is given."""
BONUS_PAYMENT = "welcome-bonus"
"""The payment id of the bonus: paid once per wallet, however often the saga asks."""


class BonusState(BaseModel):
    """What the saga remembers of a wallet: the bonus it asked for."""

    bonus: int = 0


class WelcomeBonus(Saga[BonusState]):
    """Pays :data:`BONUS` into each wallet opened; completed once the deposit is seen."""

    name = "welcome_bonus"
    state_type = BonusState

    @on(WalletOpened, starts=True)
    def opened(self, saga: SagaInstance[BonusState], event: WalletOpened) -> None:
        """Ask for the bonus."""
        saga.state.bonus = BONUS
        saga.send(Deposit(aggregate_id=saga.correlation_id, amount=BONUS, payment_id=BONUS_PAYMENT))
        saga.step, saga.reason = "paying", "waiting for the bonus deposit"

    @on(Deposited)
    def deposited(self, saga: SagaInstance[BonusState], event: Deposited) -> None:
        """The bonus arrived (other deposits change nothing)."""
        if event.payment_id == BONUS_PAYMENT:
            saga.step = "paid"
            saga.complete("bonus paid")


def _build(store: EventStoreBackend, settings: EskitSettings) -> ServiceParts:
    dispatcher = CommandDispatcher.of([build_handler(store)])
    queue = CommandQueue(store, dispatcher, max_waiting=settings.queue_max_waiting)
    parts = wallets.service.build(store, settings)
    return dataclasses.replace(parts, processes=[WelcomeBonus()], queue=queue)


service = Service(name="wallets", build=_build, title="Wallets, with a welcome bonus")
"""The wallets' service with the welcome-bonus saga and a command queue."""
