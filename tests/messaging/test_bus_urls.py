"""ESKIT_BUS_URL picks the bus and its timings; a wrong one is refused with what is wrong."""

from __future__ import annotations

import re

import pytest

from eskit.errors import ConfigurationError
from eskit.messaging import InProcessBus
from eskit.messaging.kafka_bus import KafkaBus
from eskit.messaging.nats_bus import JetStreamBus
from eskit.messaging.urls import open_bus

pytestmark = pytest.mark.unit


def test_each_scheme_opens_its_bus_with_the_timings_in_the_query() -> None:
    assert isinstance(open_bus(""), InProcessBus)
    kafka = open_bus("kafka://a:9092,b:9092?session_timeout=2.5&timeout=3")
    assert isinstance(kafka, KafkaBus)
    assert (kafka.bootstrap_servers, kafka.session_timeout_s, kafka.timeout_s) == (
        "a:9092,b:9092",
        2.5,
        3.0,
    )
    nats = open_bus("nats://127.0.0.1:4222?ack_wait=5")
    assert isinstance(nats, JetStreamBus)
    assert (nats.url, nats.ack_wait_s, nats.timeout_s) == ("nats://127.0.0.1:4222", 5.0, 10.0)


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("amqp://x", "expected kafka://"),
        ("kafka://", "at least one host:port"),
        (
            "kafka://a:1?ack_wait=5",
            "unknown option 'ack_wait' (expected: session_timeout, timeout)",
        ),
        ("nats://a:1?ack_wait=soon", "ack_wait='soon' is not a number of seconds"),
        ("nats://a:1?timeout=0", "timeout must be above 0"),
    ],
)
def test_a_wrong_url_is_refused_naming_what_is_wrong(url: str, names: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(names)):
        open_bus(url)
