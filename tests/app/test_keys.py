"""What every edge shares to send a command: the idempotency scope and the callers' metadata."""

from __future__ import annotations

import pytest

from eskit.app.keys import idempotency_scope
from eskit.app.metadata import caller_metadata
from eskit.domain import Command
from eskit.store import InMemoryEventStore
from tests.wallets.domain import Deposit, OpenWallet, build_handler

pytestmark = pytest.mark.unit


def test_a_scope_differs_when_the_caller_the_method_or_the_target_does() -> None:
    scope = idempotency_scope("api-key:1", "POST", "/wallets/w-1/deposit")
    others = {
        idempotency_scope("api-key:2", "POST", "/wallets/w-1/deposit"),
        idempotency_scope("api-key:1", "PUT", "/wallets/w-1/deposit"),
        idempotency_scope("api-key:1", "POST", "/wallets/w-2/deposit"),
        idempotency_scope("", "api-key:1\nPOST", "/wallets/w-1/deposit"),
    }
    assert scope not in others
    assert len(others) == 4


def test_the_metadata_of_a_call_names_its_request_and_its_caller_if_known() -> None:
    assert caller_metadata("req-1", "api-key:ab") == {
        "correlation_id": "req-1",
        "actor": "api-key:ab",
    }
    assert caller_metadata("req-1") == {"correlation_id": "req-1"}


def test_a_handler_tells_the_commands_that_make_a_new_aggregate() -> None:
    handler = build_handler(InMemoryEventStore())

    assert handler.makes_new(OpenWallet(owner="Ann"))
    assert not handler.makes_new(Deposit(aggregate_id="w", amount=1, payment_id="p"))
    with pytest.raises(TypeError, match="no handler for"):
        handler.makes_new(Command())
