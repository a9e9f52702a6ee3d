"""The metrics' instruments: what a call records, read back through the text format."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from eskit.errors import ConcurrencyError, DomainError, NotFoundError, StoreUnavailableError
from eskit.observability import metrics
from eskit.testing.metrics import Scrape

pytestmark = pytest.mark.unit


class BalanceTooLowError(DomainError):
    code = "balance_too_low"


class Handler:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    @metrics.measure_command
    async def handle(self, command: object, *, replay: bool = False) -> str:
        if self.error is not None:
            raise self.error
        return "done"


class PayUnitTest:
    """A command type of this module only: its samples start at zero."""


def scrape() -> Scrape:
    return Scrape(generate_latest().decode())


def count(outcome: str, code: str = "") -> float:
    labels = {"command": "PayUnitTest", "outcome": outcome, "code": code}
    return scrape().value("eskit_commands_total", labels)


@pytest.mark.parametrize(
    ("error", "outcome", "code"),
    [
        (None, "ok", ""),
        (BalanceTooLowError("no"), "refused", "balance_too_low"),
        (NotFoundError("account", "a-1"), "refused", "not_found"),
        (ConcurrencyError("a-1", 1, 2), "conflict", "concurrency_conflict"),
        (StoreUnavailableError("down"), "error", "store_unavailable"),
        (RuntimeError("bug"), "error", "internal_error"),
    ],
)
async def test_a_command_is_counted_by_its_outcome_and_code(
    error: Exception | None, outcome: str, code: str
) -> None:
    before = count(outcome, code)
    timed = scrape().value(
        "eskit_command_duration_seconds_count", {"command": "PayUnitTest", "outcome": outcome}
    )
    handler = Handler(error)
    if error is None:
        assert await handler.handle(PayUnitTest(), replay=True) == "done"
    else:
        with pytest.raises(type(error)):
            await handler.handle(PayUnitTest())
    after = scrape()
    assert count(outcome, code) == before + 1
    assert (
        after.value(
            "eskit_command_duration_seconds_count",
            {"command": "PayUnitTest", "outcome": outcome},
        )
        == timed + 1
    )


def test_a_repeated_append_that_wrote_nothing_is_not_counted() -> None:
    labels = {"stream_type": "UnitTestStream"}
    metrics.record_append("UnitTestStream", 3)
    metrics.record_append("UnitTestStream", 3, deduplicated=True)
    scraped = scrape()
    assert scraped.value("eskit_appends_total", labels) == 1
    assert scraped.value("eskit_events_appended_total", labels) == 3


def test_a_projection_batch_counts_its_events_and_observes_its_duration() -> None:
    metrics.record_projection_batch("unit_test_projection", 5, 0.02)
    metrics.record_projection_batch("unit_test_projection", 0, 0.001)
    scraped = scrape()
    labels = {"projection": "unit_test_projection"}
    assert scraped.value("eskit_projection_events_total", labels) == 5
    assert scraped.value("eskit_projection_batch_duration_seconds_count", labels) == 2
    assert scraped.value("eskit_projection_batch_duration_seconds_sum", labels) == pytest.approx(
        0.021
    )
    assert (
        scraped.value("eskit_projection_batch_duration_seconds_bucket", {**labels, "le": "0.005"})
        == 1
    )


def test_queue_outcomes_count_a_retry_as_retried() -> None:
    before = {
        o: scrape().value("eskit_queue_commands_total", {"outcome": o}) for o in ("done", "retried")
    }
    metrics.record_queue_outcomes(["done", None, "done"])
    after = scrape()
    assert after.value("eskit_queue_commands_total", {"outcome": "done"}) == before["done"] + 2
    assert (
        after.value("eskit_queue_commands_total", {"outcome": "retried"}) == before["retried"] + 1
    )


def test_consumer_messages_are_counted_by_outcome() -> None:
    metrics.record_consumer_batch("unit_test_consumer", handled=4, duplicates=1, held_back=0)
    metrics.record_consumer_dead_letter("unit_test_consumer", "handler_failed")
    scraped = scrape()
    assert (
        scraped.value(
            "eskit_consumer_messages_total",
            {"consumer": "unit_test_consumer", "outcome": "handled"},
        )
        == 4
    )
    assert (
        scraped.value(
            "eskit_consumer_messages_total",
            {"consumer": "unit_test_consumer", "outcome": "duplicate"},
        )
        == 1
    )
    assert (
        "eskit_consumer_messages_total",
        frozenset({("consumer", "unit_test_consumer"), ("outcome", "held_back")}),
    ) not in scraped.samples
    assert (
        scraped.value(
            "eskit_consumer_dead_letters_total",
            {"consumer": "unit_test_consumer", "reason": "handler_failed"},
        )
        == 1
    )


def test_exposition_is_the_text_format_every_family_is_named_eskit() -> None:
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain; version=")
    assert all(name.startswith("eskit_") for name in metrics.family_names())
    assert "# TYPE eskit_commands_total counter" in body.decode()


def test_a_metrics_port_that_is_taken_is_reported_not_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = metrics.start_metrics_server("127.0.0.1", 0)
    assert port
    assert metrics.start_metrics_server("127.0.0.1", port) is None
    assert "cannot serve metrics" in caplog.text
