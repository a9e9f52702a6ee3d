"""``eskit serve`` and ``eskit worker`` as real processes: serve, then stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.serving.processes import ESKIT, Process, free_port, open_wallet, wait_ready

pytestmark = pytest.mark.e2e


def test_serve_defaults_to_sqlite_in_the_working_directory(
    tmp_path: Path, processes: list[Process]
) -> None:
    port = free_port()
    serving = Process(
        ["serve"], tmp_path, {"ESKIT_PORT": str(port), "ESKIT_GRPC_PORT": str(free_port())}
    )
    processes.append(serving)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, serving)
    wallet = open_wallet(base)
    deposited = httpx.post(
        f"{base}/wallets/{wallet}/deposit", json={"amount": 5, "payment_id": "p"}
    )
    position = deposited.headers["ESKIT-Position"]
    got = httpx.get(f"{base}/wallets/{wallet}", params={"minPosition": position})
    assert got.json()["balance"] == 1005
    assert httpx.get(f"{base}/docs").status_code == 200
    code, out = serving.terminate()
    assert code == 0, out
    assert "serving wallets" in out
    assert out.rstrip().endswith("stopped")
    assert (tmp_path / "eskit.db").exists()


def test_serve_on_postgres_with_a_separate_worker(
    tmp_path: Path, postgres_url: str, processes: list[Process]
) -> None:
    port = free_port()
    env = {"ESKIT_DATABASE_URL": postgres_url, "ESKIT_PORT": str(port), "ESKIT_GRPC_PORT": "0"}
    serving = Process(["serve", "--migrate", "--no-projections"], tmp_path, env)
    processes.append(serving)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, serving)
    wallets = [open_wallet(base, balance=100) for _ in range(5)]
    worker = Process(["worker"], tmp_path, env)
    processes.append(worker)
    last = ""
    for i, wallet in enumerate(wallets * 4):
        answer = httpx.post(
            f"{base}/wallets/{wallet}/deposit", json={"amount": 1, "payment_id": str(i)}
        )
        last = answer.headers["ESKIT-Position"]
    # the worker process projects what the serving process wrote: read your writes across them
    found = httpx.get(f"{base}/wallets", params={"minPosition": last}, timeout=10).json()
    assert found["total"] == 5
    assert [item["balance"] for item in found["items"]] == [104] * 5
    code, out = worker.terminate()
    assert code == 0, out
    assert "running wallets_by_id, wallets_search" in out
    code, out = serving.terminate()
    assert code == 0, out


def test_serve_reports_a_bad_service_setting(tmp_path: Path) -> None:
    result = subprocess.run(
        [ESKIT, "serve", "--service", "nowhere:service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 1
    assert "cannot import nowhere" in result.stderr


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_without_a_service_they_say_how_to_name_one(command: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [ESKIT, command],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "COLUMNS": "200", "ESKIT_SERVICE": "", "ESKIT_PROJECTIONS": ""},
    )
    assert result.returncode == 1
    assert "configuration_error" in result.stderr
    assert "--service" in result.stderr
    assert "ESKIT_SERVICE" in result.stderr
    assert not (tmp_path / "eskit.db").exists()  # nothing opened


def test_a_worker_runs_the_named_projections_instead_of_the_services(
    tmp_path: Path, processes: list[Process]
) -> None:
    env = {"ESKIT_PROJECTIONS": "tests.wallets.projections:documents_only"}
    worker = Process(["worker"], tmp_path, env)
    processes.append(worker)
    assert worker.read_line("running") == "running wallets_by_id"
    code, out = worker.terminate()
    assert code == 0, out


async def deposit_then_sigterm(base: str, wallet: str, serving: Process) -> list[int]:
    """300 deposits spread over 0.6 s; SIGTERM at 0.3 s. The ones answered (never a 5xx)."""
    answered: list[int] = []

    async def deposit(http: httpx.AsyncClient, i: int) -> None:
        await asyncio.sleep(i * 0.002)
        try:
            answer = await http.post(
                f"/wallets/{wallet}/deposit", json={"amount": 1, "payment_id": str(i)}
            )
        except httpx.TransportError:
            return  # refused or cut off by the shutdown: the client does not know
        assert answer.status_code < 500, answer.text
        answered.append(i)

    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        load = asyncio.gather(*(deposit(http, i) for i in range(300)))
        await asyncio.sleep(0.3)
        serving.proc.send_signal(signal.SIGTERM)
        await load
    return answered


def test_sigterm_under_load_keeps_what_it_answered(
    tmp_path: Path, processes: list[Process]
) -> None:
    port = free_port()
    env = {"ESKIT_PORT": str(port), "ESKIT_GRPC_PORT": "0", "ESKIT_LOG_LEVEL": "WARNING"}
    serving = Process(["serve"], tmp_path, env)
    processes.append(serving)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, serving)
    wallet = open_wallet(base, balance=0)
    answered = asyncio.run(deposit_then_sigterm(base, wallet, serving))
    code, out = serving.wait()
    assert code == 0, out
    assert 0 < len(answered) < 300

    restarted = Process(["serve"], tmp_path, env)
    processes.append(restarted)
    wait_ready(base, restarted)
    history = httpx.get(f"{base}/wallets/{wallet}/events").json()
    recorded = {int(e["data"]["payment_id"]) for e in history[1:]}
    assert set(answered) <= recorded  # every deposit answered 200 was kept
    head = max(e["position"] for e in history)
    got = httpx.get(f"{base}/wallets/{wallet}", params={"minPosition": head}).json()
    assert got["balance"] == len(recorded)  # the read model caught up exactly
    restarted.terminate()
