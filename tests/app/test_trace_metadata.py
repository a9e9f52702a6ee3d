"""Events carry the W3C trace context of the span that wrote them, and only then."""

from __future__ import annotations

import pytest
from opentelemetry import trace

from eskit.app.metadata import command_metadata
from eskit.domain.commands import Command

pytestmark = pytest.mark.unit


class Rename(Command):
    name: str


def test_metadata_carries_the_current_span_as_traceparent() -> None:
    context = trace.SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=False,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    with trace.use_span(trace.NonRecordingSpan(context)):
        metadata = command_metadata(Rename(aggregate_id="a-1", name="Ada"))
    assert metadata["traceparent"] == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_metadata_has_no_trace_keys_outside_a_trace() -> None:
    metadata = command_metadata(Rename(aggregate_id="a-1", name="Ada"))
    assert "traceparent" not in metadata
    assert "tracestate" not in metadata
