"""The log formats, the context fields and the redaction of eskit.observability.logs."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from pydantic import BaseModel, ValidationError

from eskit.logcontext import context_fields, log_context
from eskit.observability.logs import (
    configure_logging,
    logging_handler,
    redact_query,
    secrets_of,
)
from eskit.settings import EskitSettings

pytestmark = pytest.mark.unit


class Captured:
    """A logger of its own whose records are written, as eskit writes them, to a buffer."""

    def __init__(self, log_format: str, secrets: list[str]) -> None:
        self.buffer = io.StringIO()
        self.handler = logging_handler(log_format, secrets=secrets, stream=self.buffer)  # type: ignore[arg-type]
        self.logger = logging.getLogger(f"tests.logs.{id(self)}")
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self.handler)

    def lines(self) -> list[str]:
        return self.buffer.getvalue().splitlines()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]

    def close(self) -> None:
        self.logger.removeHandler(self.handler)


@pytest.fixture
def json_log() -> Iterator[Captured]:
    captured = Captured("json", ["key-of-the-admin", "pg-secret-pw"])
    yield captured
    captured.close()


@pytest.fixture
def text_log() -> Iterator[Captured]:
    captured = Captured("text", [])
    yield captured
    captured.close()


def test_a_json_record_has_time_level_logger_message_and_process(json_log: Captured) -> None:
    json_log.logger.warning("disk %s full", "nearly")
    [record] = json_log.records()
    assert record["level"] == "WARNING"
    assert record["logger"] == json_log.logger.name
    assert record["message"] == "disk nearly full"
    assert record["process"] > 0
    assert record["process_name"] == "MainProcess"
    assert record["timestamp"].endswith("+00:00")


def test_bound_context_fields_are_in_the_records_logged_inside_the_block(
    json_log: Captured,
) -> None:
    with log_context(request_id="req-1", projection="balances"):
        json_log.logger.info("inside")
    json_log.logger.info("after")
    inside, after = json_log.records()
    assert (inside["request_id"], inside["projection"]) == ("req-1", "balances")
    assert "request_id" not in after
    assert "projection" not in after


def test_an_inner_binding_wins_and_is_undone_on_exit() -> None:
    with log_context(stream_id="a", position=1):
        with log_context(position=2, correlation_id=None):
            assert dict(context_fields()) == {"stream_id": "a", "position": 2}
        assert dict(context_fields()) == {"stream_id": "a", "position": 1}
    assert dict(context_fields()) == {}


def test_binding_an_unknown_field_raises_value_error() -> None:
    with pytest.raises(ValueError, match="request_idd"):
        log_context(request_idd="x")


def test_a_field_passed_with_extra_is_kept_over_the_bound_one(json_log: Captured) -> None:
    with log_context(stream_id="bound"):
        json_log.logger.info("explicit", extra={"stream_id": "given"})
    assert json_log.records()[0]["stream_id"] == "given"


async def test_context_follows_a_request_into_its_tasks_and_not_into_others() -> None:
    seen: dict[str, object] = {}

    async def request(name: str) -> None:
        with log_context(request_id=name):
            await asyncio.sleep(0)
            child = asyncio.create_task(asyncio.sleep(0, result=context_fields()))
            seen[name] = (await child)["request_id"]

    await asyncio.gather(request("one"), request("two"))
    assert seen == {"one": "one", "two": "two"}


def test_records_inside_a_span_carry_its_trace_and_span_ids(json_log: Captured) -> None:
    tracer = TracerProvider().get_tracer("tests")
    with tracer.start_as_current_span("work") as span:
        json_log.logger.info("traced")
    json_log.logger.info("untraced")
    traced, untraced = json_log.records()
    context = span.get_span_context()
    assert traced["trace_id"] == format(context.trace_id, "032x")
    assert traced["span_id"] == format(context.span_id, "016x")
    assert "trace_id" not in untraced


def test_known_secrets_never_reach_the_line(json_log: Captured) -> None:
    json_log.logger.error("login with %s failed", "key-of-the-admin")
    json_log.logger.error("cannot connect to postgresql://app:pg-secret-pw@db/events")
    assert "key-of-the-admin" not in json_log.buffer.getvalue()
    assert "pg-secret-pw" not in json_log.buffer.getvalue()
    assert json_log.records()[1]["message"] == "cannot connect to postgresql://app:***@db/events"


@pytest.mark.parametrize(
    ("message", "leaked"),
    [
        ("header Authorization: Bearer abc.def-123", "abc.def-123"),
        ("header authorization: basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("nats://relay:unlisted-pw@broker:4222 refused", "unlisted-pw"),
        ("dsn host=db user=app password=unlisted-pw", "unlisted-pw"),
        ("no account for ann.lee+bank@example.co.uk", "ann.lee+bank@example.co.uk"),
    ],
)
def test_patterns_of_secrets_and_e_mail_addresses_are_redacted(
    json_log: Captured, message: str, leaked: str
) -> None:
    json_log.logger.info(message)
    assert leaked not in json_log.buffer.getvalue()
    assert "***" in json_log.records()[0]["message"]


class Owner(BaseModel):
    name: str
    age: int


def test_input_values_quoted_by_a_validation_error_are_redacted_in_tracebacks(
    json_log: Captured,
) -> None:
    name = "Zelda Quist"
    try:
        Owner.model_validate({"name": name, "age": name})
    except ValidationError:
        json_log.logger.exception("handler failed")
    [record] = json_log.records()
    assert "ValidationError" in record["exc_info"]
    assert "Zelda Quist" not in json_log.buffer.getvalue()


def test_secrets_shorter_than_four_characters_are_not_searched_for() -> None:
    captured = Captured("json", ["abc"])
    try:
        captured.logger.info("abcdef")
        assert captured.records()[0]["message"] == "abcdef"
    finally:
        captured.close()


def test_the_access_log_keeps_parameter_names_but_not_their_values() -> None:
    assert (
        redact_query("/api/v1/accounts?q=ann@x.com&limit=5") == "/api/v1/accounts?q=***&limit=***"
    )
    buffer = io.StringIO()
    handler = logging_handler("json", stream=buffer)
    access = logging.makeLogRecord(
        {
            "name": "uvicorn.access",
            "msg": '%s - "%s %s HTTP/%s" %d',
            "args": ("127.0.0.1:5000", "GET", "/search?q=zelda%40quist.io", "1.1", 200),
            "levelno": logging.INFO,
            "levelname": "INFO",
        }
    )
    handler.handle(access)
    assert json.loads(buffer.getvalue())["message"] == (
        '127.0.0.1:5000 - "GET /search?q=*** HTTP/1.1" 200'
    )


def test_a_text_line_ends_with_the_context_fields(text_log: Captured) -> None:
    with log_context(projection="balances", stream_id="acc-1", position=7):
        text_log.logger.info("parked")
    [line] = text_log.lines()
    assert line.endswith(
        f"INFO MainProcess {text_log.logger.name}: parked [stream_id=acc-1 position=7"
        " projection=balances]"
    )


def test_a_text_line_without_context_has_no_brackets(text_log: Captured) -> None:
    text_log.logger.info("plain")
    assert text_log.lines()[0].endswith(": plain")


def test_the_secrets_of_settings_are_the_api_keys_and_the_urls_passwords() -> None:
    settings = EskitSettings(
        _env_file=None,  # type: ignore[call-arg]
        api_keys="first-key,second-key",  # type: ignore[arg-type]
        database_url="postgresql://app:db-pw@db/events",
        bus_url="nats://relay:bus-pw@broker:4222",
    )
    assert secrets_of(settings) == ["first-key", "second-key", "db-pw", "bus-pw"]
    query = settings.model_copy(update={"database_url": "postgresql:///e?password=q-pw"})
    assert "q-pw" in secrets_of(query)


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Put the root logger, warnings and the except hooks back as they were."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    hooks = (sys.excepthook, threading.excepthook)
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    sys.excepthook, threading.excepthook = hooks
    logging.captureWarnings(False)


@pytest.mark.usefixtures("root_logging")
def test_configuring_again_replaces_eskit_handler_and_keeps_the_others() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    settings = EskitSettings(_env_file=None, log_format="json", log_level="DEBUG")  # type: ignore[call-arg]
    first, second = io.StringIO(), io.StringIO()
    configure_logging(settings, stream=first)
    configure_logging(settings, stream=second)
    added = [h for h in root.handlers if h not in before]
    assert len(added) == 1
    assert root.level == logging.DEBUG
    logging.getLogger("tests.logs.root").debug("once")
    assert first.getvalue() == ""
    assert json.loads(second.getvalue())["message"] == "once"


@pytest.mark.usefixtures("root_logging")
def test_warnings_and_uncaught_exceptions_become_records() -> None:
    settings = EskitSettings(_env_file=None, log_format="json")  # type: ignore[call-arg]
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("mind the gap", UserWarning, stacklevel=1)
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        sys.excepthook(RuntimeError, exc, exc.__traceback__)
    warned, uncaught = (json.loads(line) for line in stream.getvalue().splitlines())
    assert warned["logger"] == "py.warnings"
    assert "mind the gap" in warned["message"]
    assert uncaught["level"] == "CRITICAL"
    assert "RuntimeError: boom" in uncaught["exc_info"]
