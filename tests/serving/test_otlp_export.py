"""``eskit serve`` exports its spans over OTLP when the standard ``OTEL_*`` variables say so,
and exports nothing when they do not."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.serving.processes import Process, free_port, open_wallet, processes, wait_ready

pytestmark = pytest.mark.e2e

__all__ = ["processes"]  # the fixture, used by name


class Collector:
    """An OTLP/HTTP trace receiver on a loopback port: what was exported, as protobuf."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                received.append(request)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()
                self.wfile.write(b"")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self) -> list[tuple[str, str, str]]:
        """(service name, span name, span kind) of every span received."""
        found = []
        for request in self.requests:
            for resource_spans in request.resource_spans:
                service = next(
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                )
                for scope in resource_spans.scope_spans:
                    found += [(service, s.name, str(s.kind)) for s in scope.spans]
        return found


@pytest.fixture
def collector() -> Iterator[Collector]:
    running = Collector()
    yield running
    running.server.shutdown()


def _serve(
    tmp_path: Path, processes: list[Process], collector: Collector, **env: str
) -> tuple[Process, str]:
    """``eskit serve`` exporting to ``collector`` (spans batched for 100 ms), ready; the
    process and its base URL."""
    port = free_port()
    serving = Process(
        ["serve"],
        tmp_path,
        {
            "ESKIT_PORT": str(port),
            "ESKIT_GRPC_PORT": "0",
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            **env,
        },
    )
    processes.append(serving)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, serving)
    return serving, base


def test_serve_exports_its_spans_to_the_otlp_endpoint(
    tmp_path: Path, processes: list[Process], collector: Collector
) -> None:
    serving, base = _serve(tmp_path, processes, collector)
    wallet = open_wallet(base)
    answer = httpx.post(f"{base}/wallets/{wallet}/deposit", json={"amount": 5, "payment_id": "p"})
    assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 15
    while not any(name == "command Deposit" for _, name, _ in collector.spans()):
        assert time.monotonic() < deadline, collector.spans()
        time.sleep(0.1)
    names = {name for _, name, _ in collector.spans()}
    assert {"command OpenWallet", "append", "POST /wallets/{wallet_id}/deposit"} <= names
    assert {service for service, _, _ in collector.spans()} == {"wallets"}
    code, out = serving.terminate()
    assert code == 0, out


def test_otel_sdk_disabled_turns_the_export_off(
    tmp_path: Path, processes: list[Process], collector: Collector
) -> None:
    serving, base = _serve(tmp_path, processes, collector, OTEL_SDK_DISABLED="true")
    open_wallet(base)
    code, out = serving.terminate()  # a provider would flush what it holds on the way out
    assert code == 0, out
    assert collector.requests == []
