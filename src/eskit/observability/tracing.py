"""Tracing with OpenTelemetry: one trace follows a command into everything it causes.

eskit makes these spans (see ``docs/operations.md`` for their attributes):

- ``command <Type>``, with ``load``, ``decide`` and ``append`` inside it and each concurrency
  conflict as a span event (``eskit.app.handling``);
- ``queued <Type>``: a queued command handled by a queue worker, the child of the request
  that queued it;
- ``project <name>``: one batch of a projection, saga or subscription; ``saga <name>``: one
  saga step;
- ``publish``: one page of events the relay sends to the bus;
- ``consume <group>``: one batch a bus consumer applies.

HTTP server spans come from FastAPI's own telemetry and gRPC server spans from
``opentelemetry-instrumentation-grpc``.

The trace context travels in event metadata (``traceparent``, ``tracestate``) and, from there,
in the bus headers. Work caused by events of one trace is a child of that trace's span; a
batch of events of several traces starts a trace of its own with a link to each (up to
:data:`MAX_LINKS`).

Nothing is traced until a tracer provider is set: :func:`configure_tracing` sets one from
the standard ``OTEL_*`` variables when they ask for an exporter, and a program may set its
own. Until then each helper here returns at once, without touching OpenTelemetry's context.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = [
    "MAX_LINKS",
    "TRACE_KEYS",
    "configure_tracing",
    "current_trace_ids",
    "inject",
    "span",
    "span_from",
    "tracing_on",
]

log = logging.getLogger(__name__)

MAX_LINKS = 32
"""The most links a batch's span keeps to the traces of its events."""
TRACE_KEYS = ("traceparent", "tracestate")
"""The W3C trace-context keys, in event metadata and in bus headers alike."""

_W3C = TraceContextTextMapPropagator()
_NO_SPAN: AbstractContextManager[Span] = contextlib.nullcontext(trace.INVALID_SPAN)
_cached: tuple[object, Tracer | None] = (None, None)


def _tracer() -> Tracer | None:
    """eskit's tracer, or None while no tracer provider is set (tracing off)."""
    global _cached
    provider = _global_provider()
    if provider is not _cached[0]:
        tracer = None
        if isinstance(provider, trace.TracerProvider) and not isinstance(
            provider, trace.ProxyTracerProvider
        ):
            tracer = provider.get_tracer("eskit")
        _cached = (provider, tracer)
    return _cached[1]


def _provider_set() -> object:
    # the module global itself: get_tracer_provider() looks os.environ up on every call
    # while none is set, which costs more than the work it guards on a hot path
    return trace._TRACER_PROVIDER


_global_provider: Callable[[], object] = (
    _provider_set if hasattr(trace, "_TRACER_PROVIDER") else trace.get_tracer_provider
)
if os.environ.get("OTEL_PYTHON_TRACER_PROVIDER"):
    trace.get_tracer_provider()  # loads the provider that variable names, once


def tracing_on() -> bool:
    """Whether a tracer provider is set, so that eskit's spans are made."""
    return _tracer() is not None


def span(
    name: str,
    attributes: Mapping[str, Any] | None = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    record_errors: bool = True,
) -> AbstractContextManager[Span]:
    """A span named ``name``, current while the ``with`` block runs (a child of the current
    span). With ``record_errors`` false an exception leaving the block neither marks the
    span failed nor is recorded on it: for outcomes that are answers, not faults (a
    refused command)."""
    tracer = _tracer()
    if tracer is None:
        return _NO_SPAN
    return tracer.start_as_current_span(
        name,
        kind=kind,
        attributes=attributes,
        record_exception=record_errors,
        set_status_on_exception=record_errors,
    )


def span_from(
    name: str,
    carriers: Iterable[Mapping[str, Any]],
    attributes: Mapping[str, Any] | None = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
) -> AbstractContextManager[Span]:
    """A span for work caused by what ``carriers`` (event metadata, message headers) came from.

    All of one trace context: the span is its child, in that trace. Several: the span
    starts under the current context with a link to each. None: as :func:`span`.
    """
    tracer = _tracer()
    if tracer is None:
        return _NO_SPAN
    contexts = _contexts(carriers)
    if len(contexts) == 1:
        parent = trace.set_span_in_context(NonRecordingSpan(contexts[0]))
        return tracer.start_as_current_span(name, parent, kind, attributes)
    links = [Link(context) for context in contexts]
    return tracer.start_as_current_span(name, kind=kind, attributes=attributes, links=links)


def _contexts(carriers: Iterable[Mapping[str, Any]]) -> list[SpanContext]:
    """The distinct valid trace contexts ``carriers`` hold, at most MAX_LINKS of them."""
    seen: dict[str, Mapping[str, Any]] = {}
    for carrier in carriers:
        parent = carrier.get("traceparent")
        if isinstance(parent, str) and parent not in seen:
            seen[parent] = carrier
            if len(seen) == MAX_LINKS:
                break
    contexts = []
    for parent, carrier in seen.items():
        state = carrier.get("tracestate")
        given = {"traceparent": parent}
        if isinstance(state, str):
            given["tracestate"] = state
        found = trace.get_current_span(_W3C.extract(given)).get_span_context()
        if found.is_valid:
            contexts.append(found)
    return contexts


def inject(carrier: MutableMapping[str, Any]) -> None:
    """Write the current span's trace context into ``carrier`` (event metadata, message
    headers), replacing any there: the current span is the closest cause. Nothing when no
    span is current."""
    if not trace.get_current_span().get_span_context().is_valid:
        return
    written: dict[str, str] = {}
    _W3C.inject(written)
    carrier.update(written)


def current_trace_ids() -> tuple[str, str] | None:
    """The current span's trace id and span id in hex, or None when there is none."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def configure_tracing(service_name: str) -> bool:
    """Export spans as the standard ``OTEL_*`` variables say; whether tracing is now on.

    Tracing is configured when ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp`` or
    ``console``) or an OTLP endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT``,
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``); ``OTEL_SDK_DISABLED=true`` or
    ``OTEL_TRACES_EXPORTER=none`` keeps it off. The protocol comes from
    ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` / ``OTEL_EXPORTER_OTLP_PROTOCOL`` (``grpc`` or
    ``http/protobuf``, the default); sampling from ``OTEL_TRACES_SAMPLER``; the service name
    from ``OTEL_SERVICE_NAME``, else ``service_name``. A tracer provider the program set
    itself is left alone. Raises ConfigurationError if tracing is asked for but the
    OpenTelemetry SDK is not installed (``pip install eskit[otel]``).
    """
    if tracing_on():
        return True
    exporter_name = _exporter_name()
    if exporter_name is None:
        return False
    from eskit.observability.tracing_sdk import install_provider

    install_provider(service_name, exporter_name)
    log.info("tracing on: spans exported by %s", exporter_name)
    return True


def _exporter_name() -> str | None:
    """The span exporter the environment asks for, or None for no tracing."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    named = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if named:
        return None if named == "none" else named
    endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    return "otlp" if any(os.environ.get(name) for name in endpoints) else None
