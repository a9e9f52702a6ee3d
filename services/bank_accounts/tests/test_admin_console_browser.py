"""The admin console in a real browser (Debian's chromium driven by Playwright) against a
real ``eskit serve`` of the bank-account service: every page loads without a JavaScript
error and shows what it should, the log tail is live, a rebuild and a park started from
the pages do what they say, and with API keys a login is needed.

Screenshots of each page are kept in ``artifacts/admin/``.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from bank_accounts.domain import MoneyDeposited
from eskit.store import NO_STREAM, SQLiteEventStore
from eskit.testing.subprocesses import eskit_command, kill_hard

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts" / "admin"
BY_ID = "bank_accounts_by_id"
KEY = "browser-test-key-9876543210"

if not CHROMIUM.exists():
    # `make test` installs it: a browser test that skipped would prove nothing
    pytest.fail(
        f"{CHROMIUM} is not installed: `make test` installs it (apt-get install -y chromium)",
        pytrace=False,
    )

from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright  # noqa: E402

PAGES = [
    ("overview", "/admin/", "Overview", "Head of the log"),
    ("streams", "/admin/streams", "Streams", "BankAccount"),
    ("stream-type", "/admin/streams/type?name=BankAccount", "Streams of BankAccount", "version"),
    ("log", "/admin/log", "Global log", "bank_accounts.AccountOpened"),
    ("projections", "/admin/projections", "Projections", BY_ID),
    ("messaging", "/admin/messaging", "Relay & consumers", "bank_accounts_activity"),
    ("dead-letters", "/admin/dead-letters", "Dead letters", "Parked events of projections"),
    ("sagas", "/admin/sagas", "Sagas", "no saga instances"),
    ("horizon", "/admin/horizon", "Read horizon", "nothing holds readers back"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """``eskit serve`` of bank_accounts, on a port of its own."""

    base: str
    proc: subprocess.Popen[str]
    database_url: str
    keys: str = ""
    account: str = field(default="")

    def post(self, path: str, body: dict[str, object]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys}"} if self.keys else {}
        return httpx.post(self.base + path, json=body, headers=headers, timeout=10)


def start_server(database_url: str, cwd: Path, *, keys: str = "") -> Server:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ESKIT_")},
        "ESKIT_SERVICE": "bank_accounts.service:service",
        "ESKIT_DATABASE_URL": database_url,
        "ESKIT_PORT": str(port),
        "ESKIT_GRPC_PORT": "0",
        "ESKIT_GRPC_QUERY_PORT": "0",
        "ESKIT_API_KEYS": keys,
        "COLUMNS": "200",
    }
    proc = subprocess.Popen(
        [*eskit_command(), "serve", "--migrate"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = Server(f"http://127.0.0.1:{port}", proc, database_url, keys)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.communicate()[0])
        try:
            if httpx.get(f"{server.base}/health/ready", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    kill_hard(proc)
    raise AssertionError("eskit serve did not become ready")


def stop_server(server: Server) -> None:
    server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        kill_hard(server.proc)
        raise


def open_account(server: Server, first_name: str = "Ann") -> str:
    created = server.post(
        "/api/v1/accounts",
        {
            "email": f"{first_name.lower()}@example.com",
            "address": "1 Main St",
            "firstName": first_name,
            "lastName": "Lee",
            "balance": 1000,
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("admin-console")
    server = start_server(f"sqlite:///{folder / 'bank.db'}", folder)
    try:
        server.account = open_account(server)
        yield server
    finally:
        stop_server(server)


@dataclass
class Watched:
    """A page and the JavaScript errors it met."""

    page: Page
    errors: list[str]


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console: {message.text}")

    page.on("console", on_console)
    page.set_default_timeout(15_000)
    yield Watched(page, errors)
    context.close()


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def append_poison(database_url: str) -> int:
    """A deposit to an account never opened, appended by another process's store (as a
    bad writer would); its position."""

    async def append() -> int:
        async with SQLiteEventStore.open(database_url.removeprefix("sqlite:///")) as store:
            appended = await store.append(
                "ghost",
                [MoneyDeposited(amount=5, currency="USD", payment_id="p-ghost")],
                expected_version=NO_STREAM,
                stream_type="BankAccount",
            )
            return appended.position

    with ThreadPoolExecutor(1) as thread:  # Playwright's loop owns this thread
        return thread.submit(asyncio.run, append()).result()


def test_every_page_loads_without_a_javascript_error_and_shows_its_content(
    sqlite_server: Server, watched: Watched
) -> None:
    page = watched.page
    for name, path, heading, shown in PAGES:
        page.goto(sqlite_server.base + path)
        expect(page.locator("h1")).to_have_text(heading)
        expect(page.locator("main")).to_contain_text(shown)
        screenshot(page, name)
    page.goto(f"{sqlite_server.base}/admin/streams/type?name=BankAccount")
    page.get_by_role("link", name=sqlite_server.account).click()
    expect(page.locator("h1")).to_have_text(f"Stream {sqlite_server.account}")
    page.goto(f"{sqlite_server.base}/admin/stream?id={sqlite_server.account}")
    expect(page.locator("#state")).to_contain_text('"first_name": "Ann"')
    screenshot(page, "stream")

    assert watched.errors == []


def test_the_stream_page_travels_to_an_earlier_version(
    sqlite_server: Server, watched: Watched
) -> None:
    account = open_account(sqlite_server, "Bea")
    deposited = sqlite_server.post(
        f"/api/v1/accounts/{account}/deposit", {"amount": 250, "paymentId": "p-bea"}
    )
    assert deposited.status_code == 200, deposited.text
    page = watched.page
    page.goto(f"{sqlite_server.base}/admin/stream?id={account}")
    expect(page.locator("#state")).to_contain_text('"balance": 1250')

    page.fill("input[name=version]", "1")
    page.click("text=Travel")

    expect(page.locator("main")).to_contain_text("time travel")
    expect(page.locator("#state")).to_contain_text('"balance": 1000')
    screenshot(page, "stream-time-travel")
    assert watched.errors == []


def test_a_deposit_appears_live_in_the_log_tail(sqlite_server: Server, watched: Watched) -> None:
    page = watched.page
    page.goto(sqlite_server.base + "/admin/log")
    expect(page.locator("#live")).to_have_text("live")

    deposited = sqlite_server.post(
        f"/api/v1/accounts/{sqlite_server.account}/deposit", {"amount": 7, "paymentId": "p-live"}
    )
    assert deposited.status_code == 200, deposited.text

    row = page.locator("#tail tr.fresh", has_text="bank_accounts.MoneyDeposited")
    expect(row.first).to_contain_text("p-live", timeout=5_000)
    screenshot(page, "log-live")
    assert watched.errors == []


def test_a_rebuild_started_from_the_page_finishes_and_the_page_says_so(
    sqlite_server: Server, watched: Watched
) -> None:
    page = watched.page
    page.goto(sqlite_server.base + "/admin/projections")

    page.locator(f"#projection-{BY_ID}").get_by_role("link", name="Rebuild").click()
    expect(page.locator("h1")).to_have_text(f"Rebuild {BY_ID}?")
    screenshot(page, "confirm-rebuild")
    page.get_by_role("button", name="Confirm").click()

    expect(page).to_have_url(re.compile(r"/admin/projections\?rebuilding="))
    expect(page.locator(f"#rebuild-{BY_ID}")).to_contain_text("done", timeout=15_000)
    expect(page.locator(f"#rebuild-{BY_ID}")).to_contain_text("now at position")
    screenshot(page, "projections-rebuilt")
    assert watched.errors == []


def test_a_park_from_the_page_moves_the_poison_event_to_the_dead_letters(
    sqlite_server: Server, watched: Watched
) -> None:
    bad = append_poison(sqlite_server.database_url)
    page = watched.page
    page.goto(sqlite_server.base + "/admin/projections")
    row = page.locator(f"#projection-{BY_ID}")
    expect(row).to_contain_text("failing", timeout=15_000)  # htmx refreshes the table
    expect(row).to_contain_text(f"at {bad}")
    screenshot(page, "projections-failing")

    row.get_by_role("link", name="Park").click()
    page.get_by_role("button", name="Confirm").click()

    expect(page.locator("main")).to_contain_text(f"at position {bad} (stream ghost)")
    page.goto(sqlite_server.base + "/admin/dead-letters")
    expect(page.locator(f"#{BY_ID}-{bad}")).to_contain_text("ghost")
    screenshot(page, "dead-letters-parked")
    page.goto(sqlite_server.base + "/admin/projections")
    expect(page.locator(f"#projection-{BY_ID}")).to_contain_text("live", timeout=15_000)
    assert watched.errors == []


def test_with_keys_on_a_login_is_needed_and_a_wrong_key_is_refused(
    watched: Watched, tmp_path: Path
) -> None:
    server = start_server(f"sqlite:///{tmp_path / 'bank.db'}", tmp_path, keys=KEY)
    try:
        page = watched.page
        page.goto(server.base + "/admin/projections")
        expect(page.locator("h1")).to_have_text("Log in")

        page.fill("input[name=key]", "not-the-key")
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("main")).to_contain_text("not one of the service")
        screenshot(page, "login-refused")
        # the refusal is a 401 answer, which the browser logs; nothing else went wrong
        assert [e for e in watched.errors if "401 (Unauthorized)" not in e] == []
        watched.errors.clear()

        page.fill("input[name=key]", KEY)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("h1")).to_have_text("Projections")
        expect(page.locator("main")).to_contain_text(BY_ID)
        assert KEY not in page.content()
        cookie = next(c for c in page.context.cookies() if c["name"] == "eskit_admin")
        assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (
            True,
            "Strict",
            "/admin",
        )

        page.get_by_role("button", name="Log out").click()
        expect(page.locator("h1")).to_have_text("Log in")
        assert watched.errors == []
    finally:
        stop_server(server)


def test_every_page_loads_on_postgresql(
    postgres_url: str, watched: Watched, tmp_path: Path
) -> None:
    server = start_server(postgres_url, tmp_path)
    try:
        open_account(server)
        page = watched.page
        for name, path, heading, shown in PAGES:
            page.goto(server.base + path)
            expect(page.locator("h1")).to_have_text(heading)
            expect(page.locator("main")).to_contain_text(shown)
            if name in ("log", "horizon"):
                screenshot(page, f"postgres-{name}")
        assert watched.errors == []
    finally:
        stop_server(server)
