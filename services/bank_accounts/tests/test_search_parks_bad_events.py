"""One account's bad event does not keep every other account out of search, on both backends.

An account whose balance passed 64 bits (written before the domain refused such deposits)
cannot be kept by the search index: the index parks that event after five attempts, lists
it in the dead letters, and every later change of other accounts reaches search again.
"""

from __future__ import annotations

import httpx
import pytest

from bank_accounts.domain import AccountOpened, MoneyDeposited
from bank_accounts.tests.support import ACCOUNTS, account_body, position_of
from eskit.projections.dead_letters import dead_letters
from eskit.serving import ServiceRuntime
from eskit.store import EventStoreBackend, require_transactions

pytestmark = pytest.mark.integration

SEARCH = "bank_accounts_search"


async def account_past_64_bits(store: EventStoreBackend) -> int:
    """An account at 2**62 and a deposit of 2**62, appended as an old version allowed; the
    deposit's position."""
    opened = AccountOpened(
        email="rich@example.com",
        address="1 Hill",
        first_name="Rich",
        last_name="Rogers",
        balance=2**62,
        currency="USD",
        status="active",
    )
    deposit = MoneyDeposited(amount=2**62, currency="USD", payment_id="p-big")
    appended = await store.append(
        "rich", [opened, deposit], expected_version=0, stream_type="BankAccount"
    )
    return appended.position


async def test_search_parks_an_unstorable_balance_and_other_accounts_reach_it(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    bad = await account_past_64_bits(runtime.store)
    created = await client.post(ACCOUNTS, json=account_body(firstName="Zed", email="zed@ex.com"))
    assert created.status_code == 201, created.text

    found = await client.get(
        ACCOUNTS, params={"search": "zed", "minPosition": position_of(created)}
    )
    assert found.status_code == 200, found.text
    assert [item["firstName"] for item in found.json()["items"]] == ["Zed"]

    (letter,) = await dead_letters(require_transactions(runtime.store, "test"), SEARCH)
    assert (letter.position, letter.stream_id) == (bad, "rich")
    assert "after 5 attempts" in letter.error
    assert runtime.runner is not None
    states = {status.name: status for status in await runtime.runner.status()}
    search = states[SEARCH]
    assert (search.state, search.parked, search.policy) == ("live", 1, "park after 5")
    assert states["bank_accounts_by_id"].state == "live"  # the balance fits its documents
