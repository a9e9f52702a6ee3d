"""Tracing is configured by the standard OTEL_* variables, and only when they ask for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from eskit.errors import ConfigurationError
from eskit.observability.tracing import configure_tracing, tracing_on

pytestmark = pytest.mark.unit

OTEL_VARIABLES = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"},
        {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"},
        {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},  # a protocol alone names no endpoint
    ],
)
def test_nothing_is_traced_unless_an_exporter_is_asked_for(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert configure_tracing("svc") is False
    assert not tracing_on()


def test_an_unknown_exporter_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "jaeger")
    with pytest.raises(ConfigurationError, match="'jaeger'"):
        configure_tracing("svc")
    assert not tracing_on()


def test_an_unknown_protocol_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    with pytest.raises(ConfigurationError, match="'http/json'"):
        configure_tracing("svc")
    assert not tracing_on()


SCRIPT = """
from opentelemetry import trace
from eskit.observability.tracing import configure_tracing, span
assert configure_tracing("checkout")
with span("command Pay", {"eskit.command.type": "Pay"}):
    pass
trace.get_tracer_provider().shutdown()
"""


def test_the_console_exporter_prints_spans_under_the_service_name() -> None:
    environment = {"OTEL_TRACES_EXPORTER": "console"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={**_inherited(), **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    printed = json.loads(done.stdout)
    assert printed["name"] == "command Pay"
    assert printed["attributes"] == {"eskit.command.type": "Pay"}
    assert printed["resource"]["attributes"]["service.name"] == "checkout"


def _inherited() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
