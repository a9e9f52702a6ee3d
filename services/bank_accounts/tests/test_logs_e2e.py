"""The logs of a whole run of the service: ``eskit serve --workers 2`` with JSON logs at DEBUG.

Every kind of request is made, failing ones included, over HTTP and gRPC; then every line
the processes wrote to stderr (the supervisor, the two server processes, the projections'
process) must be one JSON object with the common fields, requests' lines must carry their
request ids, and no API key, password, e-mail address or owner name used in the run may
appear in any line.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import grpc.aio
import httpx
import pytest

from bank_accounts.proto import bank_accounts_pb2 as pb
from bank_accounts.tests.grpc_client import BankAccountsClient, failure
from eskit.testing.subprocesses import eskit_command

pytestmark = pytest.mark.e2e

SERVICE = "bank_accounts.service:service"
FIELDS = ("timestamp", "level", "logger", "message", "process", "process_name")
OWNERS = [("Zelda", "Quistorff", "zelda.quistorff@example.org"), ("Ybor", "Marchetti", "")]
"""Owners opened in the run; the second gets its e-mail address from the test's key."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_serving(proc: subprocess.Popen[bytes], stdout: Path, stderr: Path) -> None:
    """Wait for the supervisor's line saying every process is ready."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(stderr.read_text())
        if stdout.read_text().startswith("serving "):
            return
        time.sleep(0.1)
    raise AssertionError(f"the service did not start: {stderr.read_text()}")


class Run:
    """What the run used that must never be logged, and the request ids it sent."""

    def __init__(self) -> None:
        self.api_key = "key-" + secrets.token_hex(12)
        self.db_password = "pw-" + secrets.token_hex(8)
        marker = secrets.token_hex(4)
        self.emails = [OWNERS[0][2], f"ybor.{marker}@example.net"]
        self.names = [part for first, last, _ in OWNERS for part in (first, last)]
        self.request_ids: dict[str, str] = {}

    def headers(self, label: str, *, key: str | None = None) -> dict[str, str]:
        request_id = self.request_ids.setdefault(label, str(uuid.uuid4()))
        return {"Authorization": f"Bearer {key or self.api_key}", "X-Request-ID": request_id}

    def never_logged(self) -> list[str]:
        return [self.api_key, self.db_password, *self.emails, *self.names]


def exercise_http(base: str, run: Run) -> None:
    api = f"{base}/api/v1/accounts"
    # a connection per request, so the kernel spreads them over both server processes
    with httpx.Client(timeout=10, headers={"Connection": "close"}) as http:
        ids = []
        for (first, last, _), email in zip(OWNERS, run.emails, strict=True):
            body = {
                "email": email,
                "address": "1 Main St",
                "firstName": first,
                "lastName": last,
                "balance": 1000,
            }
            opened = http.post(api, json=body, headers=run.headers(f"open {first}"))
            assert opened.status_code == 201, opened.text
            ids.append(opened.json()["id"])
        paid = http.post(
            f"{api}/{ids[0]}/deposit",
            json={"amount": 5, "paymentId": "p-1"},
            headers=run.headers("deposit"),
        )
        assert paid.status_code == 200, paid.text
        position = paid.headers["ESKIT-Position"]
        answers = {
            "read": http.get(
                f"{api}/{ids[0]}", params={"minPosition": position}, headers=run.headers("read")
            ),
            "search by e-mail": http.get(
                api,
                params={"search": run.emails[0], "minPosition": position},
                headers=run.headers("search by e-mail"),
            ),
            "bad key": http.get(api, headers=run.headers("bad key", key="not-" + run.api_key)),
            "bad body": http.post(
                api,
                json={"email": run.emails[1], "firstName": OWNERS[1][0], "balance": "lots"},
                headers=run.headers("bad body"),
            ),
            "too far ahead": http.get(
                f"{api}/{ids[0]}",
                params={"minPosition": 10**15},
                headers=run.headers("too far ahead"),
            ),
            "too much": http.post(
                f"{api}/{ids[1]}/withdraw",
                json={"amount": 10**9, "paymentId": "p-2"},
                headers=run.headers("too much"),
            ),
            "unknown route": http.get(f"{base}/api/v1/nowhere", headers=run.headers("unknown")),
        }
    statuses = {label: answer.status_code for label, answer in answers.items()}
    assert statuses == {
        "read": 200,
        "search by e-mail": 200,
        "bad key": 401,
        "bad body": 422,
        "too far ahead": 504,  # a server-side failure: logged as an error
        "too much": 409,
        "unknown route": 404,
    }
    assert answers["search by e-mail"].json()["total"] == 1


async def exercise_grpc(port: int, run: Run) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        bank = BankAccountsClient(channel)
        opened = await bank.open(
            email=run.emails[1],
            first_name=OWNERS[1][0],
            last_name=OWNERS[1][1],
            metadata=_metadata(run, "grpc open"),
        )
        assert opened.id
        refused = await failure(
            bank.get_account(
                pb.GetAccountRequest(id=opened.id),
                metadata=_metadata(run, "grpc bad key", key="nope-" + run.api_key),
            )
        )
        assert refused.status is grpc.StatusCode.UNAUTHENTICATED


def _metadata(run: Run, label: str, *, key: str | None = None) -> tuple[tuple[str, str], ...]:
    headers = run.headers(label, key=key)
    return (("authorization", headers["Authorization"]), ("x-request-id", headers["X-Request-ID"]))


def _with_password(url: str, password: str) -> str:
    """``url`` with ``password`` for its user (the embedded server trusts local users, so
    any password does: what matters is that the service is given one)."""
    parts = urlsplit(url)
    user = parts.username or "postgres"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


def test_every_line_of_a_run_is_json_with_its_context_and_nothing_secret(
    tmp_path: Path, postgres_url: str
) -> None:
    run = Run()
    port, grpc_port = free_port(), free_port()
    database = _with_password(postgres_url, run.db_password)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ESKIT_")},
        "ESKIT_SERVICE": SERVICE,
        "ESKIT_DATABASE_URL": database,
        "ESKIT_PORT": str(port),
        "ESKIT_GRPC_PORT": str(grpc_port),
        "ESKIT_GRPC_QUERY_PORT": "0",
        "ESKIT_WORKERS": "2",
        "ESKIT_API_KEYS": run.api_key,
        "ESKIT_CONSISTENCY_TIMEOUT_S": "2",  # reads wait for the projections; the 504 too
        "ESKIT_LOG_FORMAT": "json",
        "ESKIT_LOG_LEVEL": "DEBUG",
    }
    stderr = tmp_path / "stderr.log"
    stdout = tmp_path / "stdout.log"
    with stderr.open("wb") as err, stdout.open("wb") as out:
        proc = subprocess.Popen([*eskit_command(), "serve"], env=env, stdout=out, stderr=err)
    try:
        wait_serving(proc, stdout, stderr)
        exercise_http(f"http://127.0.0.1:{port}", run)
        asyncio.run(exercise_grpc(grpc_port, run))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, stderr.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = stderr.read_text().splitlines()
    records = [_parsed(line) for line in lines]
    _check_fields(records)
    _check_requests(records, run)
    _check_secrets(lines + stdout.read_text().splitlines(), run)


def _parsed(line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"not a JSON line: {line!r}") from exc
    assert isinstance(record, dict), line
    return record


def _check_fields(records: list[dict[str, Any]]) -> None:
    assert len(records) > 20
    for record in records:
        missing = [name for name in FIELDS if name not in record]
        assert not missing, f"{missing} missing in {record}"
        if "trace_id" in record:  # tracing is off in this run; where on, both come together
            assert re.fullmatch(r"[0-9a-f]{32}", record["trace_id"]), record
            assert re.fullmatch(r"[0-9a-f]{16}", record["span_id"]), record
    names = {record["process_name"] for record in records}
    assert {"server-1", "server-2", "projections"} <= names, names  # the supervisor may say nothing
    assert any(record["level"] == "DEBUG" for record in records)


def _check_requests(records: list[dict[str, Any]], run: Run) -> None:
    by_request: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if "request_id" in record:
            by_request.setdefault(record["request_id"], []).append(record)
    for label in run.request_ids:
        if label.startswith("grpc"):
            continue  # gRPC logs no access line; its failures are checked below
        request_id = run.request_ids[label]
        access = [r for r in by_request.get(request_id, []) if r["logger"] == "uvicorn.access"]
        assert len(access) == 1, f"{label}: {by_request.get(request_id)}"
    late = by_request[run.request_ids["too far ahead"]]
    assert any(r["level"] == "ERROR" and r["logger"] == "eskit.http.errors" for r in late), late
    searched = by_request[run.request_ids["search by e-mail"]]
    assert any("search=***" in r["message"] for r in searched), searched
    batches = [r for r in records if r.get("projection") and "handled" in r["message"]]
    assert batches, "no record names a projection"


def _check_secrets(lines: list[str], run: Run) -> None:
    for secret in run.never_logged():
        leaks = [line for line in lines if secret.lower() in line.lower()]
        assert not leaks, f"{secret!r} logged:\n" + "\n".join(leaks[:5])
