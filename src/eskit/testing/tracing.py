"""Spans in tests: an OpenTelemetry SDK provider that keeps them in memory, then goes away.

OpenTelemetry lets a process set its global tracer provider once; :func:`capture_spans`
sets one for the ``with`` block and takes it back afterwards, so that a test's tracing
does not leak into the tests run after it in the same process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

__all__ = ["SpanTree", "capture_spans"]


@contextlib.contextmanager
def capture_spans() -> Iterator[InMemorySpanExporter]:
    """Trace everything in the block into the exporter it yields (every span, unsampled
    none); tracing is off again afterwards."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _reset_global_provider()
    trace.set_tracer_provider(provider)
    try:
        yield exporter
    finally:
        provider.shutdown()
        _reset_global_provider()


def _reset_global_provider() -> None:
    # OpenTelemetry's own tests reset these private globals the same way: there is no API
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None


class SpanTree:
    """The finished spans of one trace, to look up by name and walk by parent."""

    def __init__(self, spans: Sequence[ReadableSpan], trace_id: int) -> None:
        self.spans = [s for s in spans if s.context is not None and s.context.trace_id == trace_id]
        self._by_id = {s.context.span_id: s for s in self.spans if s.context is not None}

    @classmethod
    def of(cls, spans: Sequence[ReadableSpan], name: str) -> SpanTree:
        """The tree of the trace that holds the one span called ``name``."""
        [found] = [s for s in spans if s.name == name]
        assert found.context is not None
        return cls(spans, found.context.trace_id)

    def named(self, prefix: str) -> list[ReadableSpan]:
        """The spans whose names start with ``prefix``."""
        return [s for s in self.spans if s.name.startswith(prefix)]

    def one(self, prefix: str) -> ReadableSpan:
        """The only span whose name starts with ``prefix``; AssertionError otherwise."""
        found = self.named(prefix)
        assert len(found) == 1, f"{len(found)} spans named {prefix}*: {self.names()}"
        return found[0]

    def parent_of(self, span: ReadableSpan) -> ReadableSpan | None:
        """The span's parent in this trace (None for the root)."""
        return None if span.parent is None else self._by_id.get(span.parent.span_id)

    def root(self) -> ReadableSpan:
        """The span with no parent."""
        [root] = [s for s in self.spans if s.parent is None]
        return root

    def names(self) -> list[str]:
        """Every span's name, in the order they ended."""
        return [s.name for s in self.spans]
