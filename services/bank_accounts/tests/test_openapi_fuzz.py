"""Schemathesis over the HTTP API's OpenAPI schema, against the real service on a socket.

The service (SQLite store, projections in-process) runs under uvicorn in a thread of its
own, with its own event loop, on a free loopback port, and schemathesis calls every
operation with generated requests, valid and invalid, over HTTP. The schema is the app's
own, built at import so that each operation is a test of its own (and checked to be what
the running service serves). A few real accounts are seeded, and most generated account
ids are pointed at one of them, so commands and reads reach existing accounts, not only
404s. Generation is derandomized: every run sends the same cases.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import hypothesis
import pytest
import schemathesis
import uvicorn
from schemathesis import checks
from schemathesis.core.result import Ok

from bank_accounts.service import service
from eskit.serving import ServiceRuntime
from eskit.settings import EskitSettings
from eskit.store import SQLiteEventStore

pytestmark = [pytest.mark.integration, pytest.mark.serial]

CONSISTENCY_TIMEOUT_S = 0.25
"""How long a read waits for ``minVersion``/``minPosition``: short, as the fuzzer often asks
for versions and positions that do not exist (and so waits the whole bound)."""


class _Server(uvicorn.Server):
    """uvicorn, telling another thread when it listens."""

    def __init__(self, config: uvicorn.Config, listening: threading.Event) -> None:
        super().__init__(config)
        self.listening = listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


class LiveService:
    """The service under uvicorn in a thread with its own event loop, on a free port."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.base_url = ""
        self._ready = threading.Event()
        self._server: _Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="live-service", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(30) or not self._thread.is_alive():
            self.stop()
            raise RuntimeError("the service did not start") from self._failure

    def stop(self) -> None:
        if self._server is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(setattr, self._server, "should_exit", True)
        self._thread.join(30)
        assert not self._thread.is_alive(), "the service did not stop"
        if self._failure is not None:
            raise self._failure

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._failure = exc
        finally:
            self._ready.set()  # if it never started, start() must not wait in vain

    async def _serve(self) -> None:
        settings = EskitSettings(
            database_url="memory://", consistency_timeout_s=CONSISTENCY_TIMEOUT_S
        )
        async with (
            SQLiteEventStore.open(self.db_path) as store,
            ServiceRuntime(service, store, settings, grpc_address=None, grace_s=2) as runtime,
        ):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("127.0.0.1", 0))
                host, port = sock.getsockname()
                self.base_url = f"http://{host}:{port}"
                config = uvicorn.Config(
                    runtime.app, lifespan="off", log_level="warning", timeout_graceful_shutdown=5
                )
                self._loop = asyncio.get_running_loop()
                self._server = _Server(config, self._ready)
                await self._server.serve(sockets=[sock])


@pytest.fixture(scope="module")
def live_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    live = LiveService(tmp_path_factory.mktemp("fuzz") / "events.db")
    live.start()
    try:
        yield live
    finally:
        live.stop()


SEEDED = [
    {"email": "ann@example.com", "firstName": "Ann", "lastName": "Lee", "balance": 0},
    {"email": "bob@example.com", "firstName": "Bob", "lastName": "Ray", "balance": 1_000},
    {"email": "cy@example.com", "firstName": "Cy", "lastName": "Young", "balance": 10**12},
]


def service_openapi() -> dict[str, Any]:
    """The service's OpenAPI document, from its app built over a store never opened."""
    settings = EskitSettings(database_url="memory://")
    unopened = SQLiteEventStore("never-opened.db")
    return ServiceRuntime(service, unopened, settings, grpc_address=None).app.openapi()


OPENAPI = service_openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)


def operation_paths() -> dict[str, str]:
    """The path of each operation, by label (``POST /api/v1/accounts``)."""
    paths = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        paths[result.ok().label] = result.ok().path
    return paths


OPERATIONS = operation_paths()
WITH_ACCOUNT_ID = [label for label, path in OPERATIONS.items() if "{account_id}" in path]
FED_FROM_THE_BUS = {"GET /api/v1/accounts/{account_id}/activity"}
"""Operations whose read model a bus fills: the fuzzed service runs without one, so they
answer 404 for every account."""


@pytest.fixture(scope="module")
def seeded_ids(live_service: LiveService) -> dict[str, list[str]]:
    """Real accounts, three for each operation on an account, each deposited into once.

    Each operation has accounts of its own: generated payment ids are short and repeat
    (``"0"``), and a deposit's id would make every later withdrawal of that id on the same
    account a ``payment_conflict``.
    """
    ids: dict[str, list[str]] = {}
    with httpx.Client(base_url=live_service.base_url, timeout=10) as http:
        for label in WITH_ACCOUNT_ID:
            for n, body in enumerate(SEEDED):
                opened = http.post("/api/v1/accounts", json={"address": f"{n} Main St", **body})
                assert opened.status_code == 201, opened.text
                account_id = opened.json()["id"]
                deposit = {"amount": 5, "paymentId": "seed"}
                paid = http.post(f"/api/v1/accounts/{account_id}/deposit", json=deposit)
                assert paid.status_code == 200, paid.text
                ids.setdefault(label, []).append(account_id)
    return ids


def aim_at_a_seeded_account(case: schemathesis.Case[Any], ids: list[str]) -> None:
    """Replace most valid generated account ids with a seeded account's, so that commands
    and reads reach a real account and not only 404; invalid ids are left alone (a negative
    case is about them). The choice is a function of the generated id: reproducible."""
    given = (case.path_parameters or {}).get("account_id")
    if not ids or not (isinstance(given, str) and 1 <= len(given) <= 200):
        return
    choice = zlib.crc32(given.encode("utf-8", "surrogatepass")) % (len(ids) + 1)
    if choice < len(ids):  # else: keep the generated id, most likely a missing account
        case.path_parameters = {**(case.path_parameters or {}), "account_id": ids[choice]}


def test_the_schema_is_the_one_the_service_serves(live_service: LiveService) -> None:
    served = httpx.get(f"{live_service.base_url}/openapi.json", timeout=10)
    assert served.json() == OPENAPI


# -- what the fuzzer found, or could only find by luck, pinned down -------------------------


def test_a_405_lists_every_method_of_the_path(live_service: LiveService) -> None:
    with httpx.Client(base_url=live_service.base_url, timeout=10) as http:
        for method, path, allowed in (
            ("OPTIONS", "/api/v1/accounts", "GET, POST"),
            ("DELETE", "/api/v1/accounts/some-id", "GET"),
            ("GET", "/api/v1/accounts/some-id/deposit", "POST"),
        ):
            answer = http.request(method, path)
            assert answer.status_code == 405, (method, path)
            assert answer.headers["Allow"] == allowed, (method, path)
            assert answer.json()["error"]["code"] == "method_not_allowed"


def test_versions_positions_and_moments_no_store_holds_are_invalid(
    live_service: LiveService, seeded_ids: dict[str, list[str]]
) -> None:
    account_id = next(iter(seeded_ids.values()))[0]
    too_big = 2**63  # SQLite cannot bind it
    with httpx.Client(base_url=live_service.base_url, timeout=10) as http:
        for path, params in (
            (f"/api/v1/accounts/{account_id}", {"atVersion": too_big}),
            (f"/api/v1/accounts/{account_id}", {"minVersion": too_big}),
            (f"/api/v1/accounts/{account_id}", {"minPosition": too_big}),
            (f"/api/v1/accounts/{account_id}/events", {"minPosition": too_big}),
            ("/api/v1/accounts", {"minPosition": too_big}),
            # ISO-8601 with an offset, but before the year 1 (or after 9999) in UTC
            (f"/api/v1/accounts/{account_id}", {"asOf": "0001-01-01T00:00:00+14:00"}),
            (f"/api/v1/accounts/{account_id}", {"asOf": "9999-12-31T23:59:59-14:00"}),
        ):
            answer = http.get(path, params=params)
            assert answer.status_code == 422, (path, params, answer.text)
            assert answer.json()["error"]["code"] == "validation_error"
        largest = http.get(f"/api/v1/accounts/{account_id}", params={"atVersion": too_big - 1})
        assert largest.status_code == 404, largest.text


async def test_nul_characters_are_invalid_on_both_backends(client: httpx.AsyncClient) -> None:
    # PostgreSQL cannot store a NUL in text: refused up front (422), on SQLite alike
    body = {
        "email": "a@b.example",
        "address": "1 Lane",
        "firstName": "A",
        "lastName": "B",
        "balance": 1,
    }
    opened = await client.post("/api/v1/accounts", json=body)
    assert opened.status_code == 201, opened.text
    account = f"/api/v1/accounts/{opened.json()['id']}"
    for method, path, payload in (
        ("POST", "/api/v1/accounts", {**body, "firstName": "A\x00"}),
        ("POST", "/api/v1/accounts", {**body, "email": "a\x00@b.example"}),
        ("POST", f"{account}/deposit", {"amount": 1, "paymentId": "p\x00"}),
        ("PUT", f"{account}/email", {"email": "b@c.example\x00"}),
        ("GET", "/api/v1/accounts/a%00b", None),
        ("GET", "/api/v1/accounts?search=a%00b", None),
        ("GET", "/api/v1/accounts/a%00b/events", None),
        ("POST", "/api/v1/accounts/a%00b/withdraw", {"amount": 1, "paymentId": "p"}),
    ):
        answer = await client.request(method, path, json=payload)
        assert answer.status_code == 422, (method, path, answer.text)
        assert answer.json()["error"]["code"] == "validation_error"
    history = await client.get(f"{account}/events")
    assert [event["version"] for event in history.json()] == [1]


# -- the fuzzing --------------------------------------------------------------------------


def server_error_unless_the_read_asked_for_the_future(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> bool | None:
    """No answer is a 5xx, except the one a client asks for.

    ``minVersion``/``minPosition`` make a read wait (here for ``CONSISTENCY_TIMEOUT_S``) until
    the read model holds that version or position; a version or position nobody wrote yet
    can only end in 504 ``not_caught_up``, which is the documented answer and no server
    error. A 504 is accepted only then: when the asked version is beyond the account's
    (its number of events) or the asked position beyond the store's head (``/health/ready``),
    checked after the answer. Requests are sequential, so nothing was written in between.
    Any other 5xx, and a 504 for a version or position that exists, fails.
    """
    if response.status_code < 500:
        return None
    if response.status_code == 504 and _asked_for_the_future(case, response):
        return None
    raise AssertionError(f"server error {response.status_code}: {response.text[:500]}")


def _asked_for_the_future(case: schemathesis.Case[Any], response: schemathesis.Response) -> bool:
    body = response.json()
    if body.get("error", {}).get("code") != "not_caught_up":
        return False
    url = urlsplit(str(response.request.url))
    base = f"{url.scheme}://{url.netloc}"
    query = case.query or {}
    with httpx.Client(base_url=base, timeout=10) as http:
        min_position = _as_int(query.get("minPosition"))
        if min_position is not None:
            head = http.get("/health/ready").json()["position"]
            if min_position > head:
                return True
        min_version = _as_int(query.get("minVersion"))
        account_id = (case.path_parameters or {}).get("account_id")
        if min_version is not None and account_id is not None:
            events = http.get(f"/api/v1/accounts/{quote(str(account_id), safe='')}/events")
            version = len(events.json()) if events.status_code == 200 else 0
            if min_version > version:
                return True
    return False


def _as_int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


CHECKS = [
    server_error_unless_the_read_asked_for_the_future,  # not_a_server_error, but for 504 above
    checks.status_code_conformance,  # every status answered is documented
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,  # every body matches its documented model
    checks.negative_data_rejection,  # schema-invalid requests get a 4xx
    checks.unsupported_method,  # undeclared methods get 405 with Allow
    checks.allow_header_conformance,  # and Allow lists exactly the declared methods
]
"""The checks run on every answer.

Not ``positive_data_acceptance``: the API rightly refuses some schema-valid requests, for
rules a JSON schema does not say: an e-mail address must look like one, ``atVersion`` and
``asOf`` exclude each other and ``minVersion`` and ``minPosition`` (422
``conflicting_parameters``), and money is never a float (JSON Schema counts ``954.0`` as an
integer; the API answers 422). Every status answered must be declared for its operation
(``status_code_conformance``): 405, 415 and each route's errors included. ``missing_required_header``, ``ignored_auth``,
``use_after_free`` and ``ensure_resource_availability`` have nothing to check here (no
required headers, no security schemes, no DELETE, no OpenAPI links).
"""

CALLS: Counter[tuple[str, int]] = Counter()
"""Answers per operation and status, for the coverage test (shrinking counts too)."""


@hypothesis.settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
@schema.parametrize()
def test_api(
    case: schemathesis.Case[Any], live_service: LiveService, seeded_ids: dict[str, list[str]]
) -> None:
    aim_at_a_seeded_account(case, seeded_ids.get(case.operation.label, []))
    response = case.call(base_url=live_service.base_url, timeout=30)
    CALLS[case.operation.label, response.status_code] += 1
    case.validate_response(
        response, checks=CHECKS, transport_kwargs={"base_url": live_service.base_url}
    )


def test_every_operation_was_exercised() -> None:
    """Every operation got many cases, some of them answered 2xx; those on an account
    also reached a missing one (404)."""
    if not CALLS:
        pytest.skip("counts the cases of test_api: run the whole module")
    for label in OPERATIONS:
        answers = Counter({status: n for (op, status), n in CALLS.items() if op == label})
        assert answers.total() >= 10, (label, answers)
        if label not in FED_FROM_THE_BUS:
            assert any(200 <= status < 300 for status in answers), (label, answers)
        if label in WITH_ACCOUNT_ID:
            assert answers[404], (label, answers)
