"""The OpenTelemetry SDK's part of tracing (``eskit[otel]``): a tracer provider that exports.

Imported only when the environment asks for tracing, so that a process without the SDK
(or without tracing) never loads it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from opentelemetry import trace

from eskit.errors import ConfigurationError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["install_provider"]


def install_provider(service_name: str, exporter_name: str) -> None:
    """Set a tracer provider that batches spans to the exporter ``exporter_name`` names
    (``otlp`` or ``console``); ConfigurationError if it cannot."""
    try:
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ConfigurationError(
            "tracing is configured (OTEL_* variables) but the OpenTelemetry SDK is missing: "
            "pip install 'eskit[otel]'"
        ) from exc
    exporter: SpanExporter
    if exporter_name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        exporter = ConsoleSpanExporter()
    elif exporter_name == "otlp":
        exporter = _otlp_exporter()
    else:
        raise ConfigurationError(
            f"OTEL_TRACES_EXPORTER={exporter_name!r}: eskit knows 'otlp', 'console' and 'none'"
        )
    # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, which win
    defaults = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service_name}
    provider = TracerProvider(resource=Resource.create(defaults))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)


def _otlp_exporter() -> SpanExporter:
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    try:
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        elif protocol == "http/protobuf":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
                OTLPSpanExporter,
            )
        else:
            raise ConfigurationError(
                f"OTLP protocol {protocol!r}: eskit knows 'grpc' and 'http/protobuf'"
            )
    except ImportError as exc:
        raise ConfigurationError(
            "OTLP export is configured but its exporter is missing: pip install 'eskit[otel]'"
        ) from exc
    return OTLPSpanExporter()
