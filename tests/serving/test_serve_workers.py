"""``eskit serve --workers N``: several server processes on one port, projections apart."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.serving.processes import Process, free_port, open_wallet, wait_ready

pytestmark = pytest.mark.e2e


def children_of(pid: int) -> dict[int, str]:
    """The live child processes of ``pid`` and their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found[int(entry.name)] = cmdline
    return found


def spawned(pid: int) -> set[int]:
    return {child for child, cmd in children_of(pid).items() if "spawn_main" in cmd}


def wait_for(condition: object, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def start(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[Process, str]:
    port = free_port()
    serving = Process(
        ["serve", "--workers", "2", *args], tmp_path, {**env, "ESKIT_PORT": str(port)}
    )
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, serving, timeout_s=60)
    return serving, base


async def withdraw_all(base: str, wallet: str, count: int, amount: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count)  # one connection each: spread over processes
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        return await asyncio.gather(
            *(
                http.post(
                    f"/wallets/{wallet}/withdraw",
                    json={"amount": amount, "payment_id": f"w{i}"},
                )
                for i in range(count)
            )
        )


def test_two_server_processes_on_postgres_share_the_work_and_lose_nothing(
    tmp_path: Path, postgres_url: str, processes: list[Process]
) -> None:
    env = {"ESKIT_DATABASE_URL": postgres_url, "ESKIT_GRPC_PORT": str(free_port())}
    serving, base = start(tmp_path, env, "--migrate")
    processes.append(serving)
    wait_for(lambda: len(spawned(serving.proc.pid)) == 3)  # two servers, the projections
    wallet = open_wallet(base, balance=1000)

    answers = asyncio.run(withdraw_all(base, wallet, 50, 100))

    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 10 + [409] * 40, [a.text for a in answers if a.status_code != 200]
    refused = {a.json()["error"]["code"] for a in answers if a.status_code == 409}
    assert refused == {"insufficient_funds"}
    last = max(int(a.headers["ESKIT-Position"]) for a in answers if a.status_code == 200)
    got = httpx.get(f"{base}/wallets/{wallet}", params={"minPosition": last}).json()
    assert (got["balance"], got["version"]) == (0, 11)
    code, out = serving.terminate(timeout_s=40)
    assert code == 0, out
    assert "2 server processes" in out
    assert out.rstrip().endswith("stopped")


def test_a_killed_server_process_is_replaced_and_the_service_goes_on(
    tmp_path: Path, postgres_url: str, processes: list[Process]
) -> None:
    env = {"ESKIT_DATABASE_URL": postgres_url, "ESKIT_GRPC_PORT": "0"}
    serving, base = start(tmp_path, env, "--migrate")
    processes.append(serving)
    wait_for(lambda: len(spawned(serving.proc.pid)) == 3)
    wallet = open_wallet(base, balance=0)
    time.sleep(5)  # past the supervisor's crash-loop window
    before = spawned(serving.proc.pid)
    victim = max(before)  # started last: a server process

    os.kill(victim, signal.SIGKILL)
    last = ""
    for i in range(20):  # served by the other process meanwhile, or queued for the new one
        answer = httpx.post(
            f"{base}/wallets/{wallet}/deposit",
            json={"amount": 1, "payment_id": f"p{i}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        last = answer.headers["ESKIT-Position"]
    wait_for(
        lambda: len(spawned(serving.proc.pid)) == 3 and victim not in spawned(serving.proc.pid)
    )

    got = httpx.get(f"{base}/wallets/{wallet}", params={"minPosition": last}).json()
    assert (got["balance"], got["version"]) == (20, 21)
    code, out = serving.terminate(timeout_s=40)
    assert code == 0, out
    assert f"(pid {victim}) exited with status -9" in out


def test_two_server_processes_on_sqlite_read_their_writes(
    tmp_path: Path, processes: list[Process]
) -> None:
    serving, base = start(tmp_path, {"ESKIT_GRPC_PORT": "0"})
    processes.append(serving)
    wallets = [open_wallet(base, balance=10) for _ in range(4)]
    last = ""
    with httpx.Client(base_url=base, timeout=30) as http:
        for i, wallet in enumerate(wallets * 5):
            answer = http.post(
                f"/wallets/{wallet}/deposit", json={"amount": 1, "payment_id": f"p{i}"}
            )
            assert answer.status_code == 200, answer.text
            last = answer.headers["ESKIT-Position"]
    found = httpx.get(f"{base}/wallets", params={"minPosition": last}, timeout=10).json()
    assert [item["balance"] for item in found["items"]] == [15] * 4
    code, out = serving.terminate(timeout_s=40)
    assert code == 0, out


def test_a_server_process_that_cannot_start_stops_the_whole_service(tmp_path: Path) -> None:
    port = free_port()
    serving = Process(
        ["serve", "--workers", "2", "--service", "nowhere:service"],
        tmp_path,
        {"ESKIT_PORT": str(port), "ESKIT_GRPC_PORT": "0"},
    )
    code, out = serving.wait(timeout_s=60)
    assert code == 1, out
    assert "cannot import nowhere" in out
    assert "a server process failed" in out


def test_a_console_session_made_by_one_server_process_is_good_on_every_other(
    tmp_path: Path, processes: list[Process]
) -> None:
    env = {"ESKIT_GRPC_PORT": "0", "ESKIT_API_KEYS": "console-key-for-workers"}
    serving, base = start(tmp_path, env)
    processes.append(serving)
    wait_for(lambda: len(spawned(serving.proc.pid)) == 3)
    login = httpx.post(
        f"{base}/admin/login", data={"key": "console-key-for-workers", "next": "/"}, timeout=10
    )
    assert login.status_code == 303, login.text
    cookie = login.cookies["eskit_admin"]

    # a connection each: the kernel spreads them over both server processes, and a
    # process with a secret of its own would refuse about half of them
    statuses = [
        httpx.get(f"{base}/admin/", cookies={"eskit_admin": cookie}, timeout=10).status_code
        for _ in range(20)
    ]

    assert statuses == [200] * 20
    code, _ = serving.terminate()
    assert code == 0
