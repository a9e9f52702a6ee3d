"""Scraping real processes: ``eskit worker`` on its metrics port, and ``eskit serve
--workers 2``, whose ``/metrics`` sums every process of it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from eskit.testing.metrics import Scrape
from tests.serving.processes import Process, free_port, open_wallet, wait_ready

pytestmark = pytest.mark.e2e

OPENED, DEPOSITS = 3, 5


def scrape(url: str) -> Scrape:
    answer = httpx.get(url, timeout=5)
    assert answer.status_code == 200, answer.text
    return Scrape(answer.text)


def eventually(url: str, check: object, timeout_s: float = 20.0) -> Scrape:
    """A scrape of ``url`` for which ``check`` holds, once it does."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            scraped = scrape(url)
            if check(scraped):  # type: ignore[operator]
                return scraped
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the metrics never showed it"
        time.sleep(0.1)


def wallet_workload(base: str) -> None:
    wallets = [open_wallet(base) for _ in range(OPENED)]
    for i in range(DEPOSITS):
        body = {"amount": 1, "payment_id": f"p{i}"}
        answer = httpx.post(f"{base}/wallets/{wallets[i % OPENED]}/deposit", json=body)
        assert answer.status_code == 200, answer.text


def test_a_worker_serves_its_projections_metrics_on_its_port(
    tmp_path: Path, processes: list[Process]
) -> None:
    port, metrics_port = free_port(), free_port()
    env = {"ESKIT_PORT": str(port), "ESKIT_GRPC_PORT": "0"}
    serving = Process(["serve", "--no-projections"], tmp_path, env)
    processes.append(serving)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, serving)
    wallet_workload(base)
    worker_env = {**env, "ESKIT_METRICS_PORT": str(metrics_port), "ESKIT_METRICS_INTERVAL_S": "0.2"}
    worker = Process(["worker"], tmp_path, worker_env)
    processes.append(worker)
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    events = OPENED + DEPOSITS

    def caught_up(s: Scrape) -> bool:
        live = {"projection": "wallets_by_id", "state": "live"}
        return s.value("eskit_projection_state", live) == 1

    scraped = eventually(url, caught_up)
    by_id = {"projection": "wallets_by_id"}
    assert scraped.value("eskit_projection_events_total", by_id) == events
    assert scraped.value("eskit_projection_lag_events", by_id) == 0
    assert scraped.value("eskit_projection_position", by_id) >= events
    assert scraped.value("eskit_store_write_queue_items") == 0
    # the server counted the commands it handled; the worker handled none
    served = scrape(f"{base}/metrics")
    opened = {"command": "OpenWallet", "outcome": "ok", "code": ""}
    assert served.value("eskit_commands_total", opened) == OPENED
    assert scraped.value("eskit_commands_total", opened) == 0
    code, out = worker.terminate()
    assert code == 0, out
    assert f"metrics on http://127.0.0.1:{metrics_port}/metrics" in out
    serving.terminate()


def test_serve_with_two_workers_sums_the_processes_at_any_of_them(
    tmp_path: Path, processes: list[Process]
) -> None:
    port = free_port()
    env = {"ESKIT_PORT": str(port), "ESKIT_GRPC_PORT": "0", "ESKIT_METRICS_INTERVAL_S": "0.2"}
    serving = Process(["serve", "--workers", "2"], tmp_path, env)
    processes.append(serving)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, serving, timeout_s=60)
    wallet_workload(base)
    deposits = {"command": "Deposit", "outcome": "ok", "code": ""}

    def projected(s: Scrape) -> bool:
        by_id = {"projection": "wallets_by_id"}
        return s.value("eskit_projection_events_total", by_id) == OPENED + DEPOSITS

    # whichever process answers, the counts are the sum over all of them
    for _ in range(4):
        with httpx.Client(base_url=base) as fresh:  # a new connection: any process
            scraped = Scrape(fresh.get("/metrics").text)
        assert scraped.value("eskit_commands_total", deposits) == DEPOSITS
    eventually(f"{base}/metrics", projected)
    code, out = serving.terminate()
    assert code == 0, out
