"""``eskit relay status``, ``eskit consume`` and ``eskit dead-letters``, run in-process on
real stores and a real broker."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eskit.cli.main import app
from eskit.messaging import OutgoingMessage, Topology
from eskit.messaging.consumer import dead_letter_type
from eskit.messaging.nats_bus import JetStreamBus
from eskit.messaging.relay import Relay
from eskit.store import ANY, SQLiteEventStore
from eskit.testing.brokers import NatsServer
from tests.wallets.domain import Deposited

pytestmark = pytest.mark.e2e
runner = CliRunner()


def invoke(*args: str, **env: str | None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200", **env})
    return result.exit_code, result.output


async def _relay_once(database: Path, bus_url: str) -> None:
    async with SQLiteEventStore.open(database) as store:
        await store.append(
            "w-1",
            [Deposited(amount=5, payment_id="p-1")],
            expected_version=ANY,
            stream_type="Wallet",
        )
        bus = JetStreamBus(bus_url, Topology(prefix="cli"))
        await Relay(store, bus).step()
        await bus.close()


def test_relay_status_shows_each_relays_position_and_lag(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    database = tmp_path / "cli.db"
    asyncio.run(_relay_once(database, nats_server.url))

    code, output = invoke("relay", "status", ESKIT_DATABASE_URL=f"sqlite:///{database}")

    assert code == 0, output
    assert "outbox" in output
    assert "ok" in output


def test_relay_without_a_bus_says_how_to_name_one(tmp_path: Path) -> None:
    code, output = invoke(
        "relay", ESKIT_DATABASE_URL=f"sqlite:///{tmp_path}/cli.db", ESKIT_BUS_URL=None
    )

    assert code == 1
    assert "no bus configured" in output
    assert "ESKIT_BUS_URL" in output


def test_consume_refuses_an_unknown_consumer_naming_the_known_ones(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    code, output = invoke(
        "consume",
        "bogus",
        ESKIT_DATABASE_URL=f"sqlite:///{tmp_path}/cli.db",
        ESKIT_BUS_URL=nats_server.url,
        ESKIT_SERVICE="bank_accounts.service:service",
    )

    assert code == 1
    assert "unknown consumer bogus" in output
    assert "bank_accounts_activity" in output


def test_dead_letters_list_and_replay(tmp_path: Path, nats_server: NatsServer) -> None:
    prefix = f"dl{tmp_path.name[-6:]}".replace("-", "")

    async def park_one() -> None:
        bus = JetStreamBus(nats_server.url, Topology(prefix=prefix))
        await bus.publish(
            [
                OutgoingMessage(
                    message_id="m-1",
                    stream_type=dead_letter_type("bank_accounts_activity"),
                    key="acc-1",
                    body=b"{not json",
                    headers={
                        "eskit-dead-letter-of": "m-1",
                        "eskit-dead-letter-reason": "not_json",
                    },
                )
            ]
        )
        await bus.close()

    asyncio.run(park_one())
    env = {
        "ESKIT_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db",
        "ESKIT_BUS_URL": nats_server.url,
        "ESKIT_BUS_PREFIX": prefix,
        "ESKIT_SERVICE": "bank_accounts.service:service",
    }

    code, output = invoke("dead-letters", "list", "bank_accounts_activity", **env)
    assert code == 0, output
    assert '"not_json"' in output
    assert '"acc-1"' in output

    code, output = invoke("dead-letters", "replay", "bank_accounts_activity", **env)
    assert code == 0, output
    assert "0 dead letter(s) applied" in output  # still not JSON: it stays a dead letter
