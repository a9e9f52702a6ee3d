"""The admin console over the bank-account service, on SQLite and PostgreSQL: its pages,
keyset paging, time travel, login with API keys, and its actions (park, replay, rebuild)."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from bank_accounts.domain import MoneyDeposited
from bank_accounts.tests.support import (
    ACCOUNTS,
    RuntimeFactory,
    deposit,
    http_client,
    open_account,
)
from eskit.admin import streams as stream_pages
from eskit.projections.dead_letters import dead_letters
from eskit.serving import ServiceRuntime
from eskit.store import NO_STREAM, require_transactions

pytestmark = pytest.mark.integration

BY_ID = "bank_accounts_by_id"
KEY = "console-test-key-0123456789"


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def confirm_and_post(
    client: httpx.AsyncClient, action: str, name: str, position: int | None = None
) -> httpx.Response:
    """Open the confirmation page of ``action`` and press its button (the form it holds)."""
    params = {"action": action, "name": name}
    if position is not None:
        params["position"] = str(position)
    page = await client.get("/admin/projections/confirm", params=params)
    assert page.status_code == 200, page.text
    target = re.search(r'<form method="post" action="([^"]+)" class="confirm">', page.text)
    assert target, page.text
    form = {"csrf": csrf_of(page), "name": name}
    if position is not None:
        form["position"] = str(position)
    return await client.post(target.group(1), data=form)


async def poison(runtime: ServiceRuntime) -> int:
    """A deposit to an account never opened: the documents by id cannot handle it."""
    appended = await runtime.store.append(
        "ghost",
        [MoneyDeposited(amount=5, currency="USD", payment_id="p-ghost")],
        expected_version=NO_STREAM,
        stream_type="BankAccount",
    )
    return appended.position


async def state_of(runtime: ServiceRuntime, name: str, wanted: str) -> None:
    for _ in range(200):
        states = {s.name: s.state for s in await runtime.projection_status()}
        if states[name] == wanted:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} is {states[name]}, not {wanted}")


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/admin/", "Head of the log"),
        ("/admin/streams", "BankAccount"),
        ("/admin/streams/type?name=BankAccount", "Streams of BankAccount"),
        ("/admin/log", "AccountOpened"),
        ("/admin/projections", BY_ID),
        ("/admin/messaging", "bank_accounts_activity"),
        ("/admin/dead-letters", "no parked events"),
        ("/admin/sagas", "no saga instances"),
        ("/admin/horizon", "Committed events held back"),
    ],
)
async def test_every_page_shows_what_it_is_for(
    client: httpx.AsyncClient, path: str, shown: str
) -> None:
    await open_account(client)

    page = await client.get(path)

    assert page.status_code == 200, page.text
    assert shown in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.headers["cache-control"] == "no-store"


async def test_the_console_is_not_in_the_openapi_schema(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()

    assert not [path for path in schema["paths"] if path.startswith("/admin")]


async def settled(runtime: ServiceRuntime) -> None:
    """Until every committed event is visible to readers (on PostgreSQL a projection's
    transaction in flight holds the read horizon back a moment)."""
    for _ in range(200):
        if not (await runtime.store.read_horizon()).pending_events:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("committed events stay held back")


async def test_streams_of_a_type_page_newest_first_without_repeats(
    runtime: ServiceRuntime, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream_pages, "PAGE", 3)
    opened = [(await open_account(client, email=f"a{n}@example.com"))["id"] for n in range(7)]
    await settled(runtime)
    seen: list[str] = []
    url: str | None = "/admin/streams/type?name=BankAccount"
    while url is not None:
        page = await client.get(url)
        assert page.status_code == 200
        seen += re.findall(r'<td><a href="/admin/stream\?id=([^"]+)">', page.text)
        older = re.search(r'<a rel="next" href="([^"]+)">', page.text)
        url = older.group(1).replace("&amp;", "&") if older else None

    assert seen == list(reversed(opened))


async def test_finding_a_stream_by_id_opens_it_and_an_unknown_id_says_so(
    client: httpx.AsyncClient,
) -> None:
    account = await open_account(client)

    found = await client.get("/admin/streams", params={"id": account["id"]})
    missing = await client.get("/admin/streams", params={"id": "nobody"})

    assert found.status_code == 303
    assert found.headers["location"] == f"/admin/stream?id={account['id']}"
    assert missing.status_code == 404
    assert "No stream nobody." in missing.text


async def test_a_stream_as_of_a_version_shows_its_events_and_state_then(
    client: httpx.AsyncClient,
) -> None:
    account = await open_account(client, balance=100)
    assert (await deposit(client, account["id"], 50)).status_code == 200

    now = await client.get("/admin/stream", params={"id": account["id"]})
    then = await client.get("/admin/stream", params={"id": account["id"], "version": 1})

    assert "MoneyDeposited" in now.text
    assert "&#34;balance&#34;: 150" in now.text
    assert "time travel" in then.text
    assert "MoneyDeposited" not in then.text
    assert "&#34;balance&#34;: 100" in then.text


async def test_the_log_lists_the_newest_event_first(
    runtime: ServiceRuntime, client: httpx.AsyncClient
) -> None:
    account = await open_account(client)
    assert (await deposit(client, account["id"], 7)).status_code == 200
    await settled(runtime)

    page = await client.get("/admin/log")

    types = re.findall(r"<td>bank_accounts.(AccountOpened|MoneyDeposited)</td>", page.text)
    assert types == ["MoneyDeposited", "AccountOpened"]


async def test_parking_from_the_console_lets_a_failing_projection_go_on(
    runtime: ServiceRuntime, client: httpx.AsyncClient
) -> None:
    bad = await poison(runtime)
    await state_of(runtime, BY_ID, "failing")
    listed = await client.get("/admin/projections")
    assert f"at {bad}: LookupError" in listed.text

    parked = await confirm_and_post(client, "park", BY_ID)

    assert parked.status_code == 200, parked.text
    assert f"Parked bank_accounts.MoneyDeposited at position {bad}" in parked.text
    await state_of(runtime, BY_ID, "live")
    letters = await dead_letters(require_transactions(runtime.store, "test"), BY_ID)
    assert [(d.position, d.stream_id) for d in letters] == [(bad, "ghost")]
    assert "ghost" in (await client.get("/admin/dead-letters")).text


async def test_replaying_an_event_that_fails_again_keeps_it_parked(
    runtime: ServiceRuntime, client: httpx.AsyncClient
) -> None:
    bad = await poison(runtime)
    await state_of(runtime, BY_ID, "failing")
    assert (await confirm_and_post(client, "park", BY_ID)).status_code == 200

    replayed = await confirm_and_post(client, "replay", BY_ID, bad)

    assert replayed.status_code == 409
    assert "it failed again" in replayed.text
    assert "has no bank_accounts_by_id entry" in replayed.text
    letters = await dead_letters(require_transactions(runtime.store, "test"), BY_ID)
    assert [d.position for d in letters] == [bad]


async def test_a_rebuild_started_from_the_console_finishes_and_says_so(
    runtime: ServiceRuntime, client: httpx.AsyncClient
) -> None:
    account = await open_account(client, balance=42)

    started = await confirm_and_post(client, "rebuild", BY_ID)

    assert started.status_code == 303
    assert started.headers["location"] == f"/admin/projections?rebuilding={BY_ID}"
    assert runtime.console is not None
    job = runtime.console.rebuilds.jobs[BY_ID]
    for _ in range(200):
        if job.state != "running":
            break
        await asyncio.sleep(0.05)
    assert (job.state, job.error) == ("done", None)
    page = await client.get("/admin/projections")
    assert re.search(rf'id="rebuild-{BY_ID}">.*?>done<', page.text)
    got = await client.get(f"{ACCOUNTS}/{account['id']}")
    assert got.json()["balance"]["amount"] == 42


async def test_an_unknown_projection_cannot_be_rebuilt(client: httpx.AsyncClient) -> None:
    refused = await confirm_and_post(client, "rebuild", "no_such_projection")

    assert refused.status_code == 404


async def test_an_action_without_the_csrf_token_is_refused(
    runtime: ServiceRuntime, client: httpx.AsyncClient
) -> None:
    forged = await client.post("/admin/projections/rebuild", data={"name": BY_ID})
    wrong = await client.post("/admin/projections/rebuild", data={"name": BY_ID, "csrf": "00"})

    assert (forged.status_code, wrong.status_code) == (403, 403)
    assert runtime.console is not None
    assert runtime.console.rebuilds.jobs == {}


async def test_a_post_from_another_site_is_refused(client: httpx.AsyncClient) -> None:
    page = await client.get("/admin/projections/confirm?action=rebuild&name=" + BY_ID)

    posted = await client.post(
        "/admin/projections/rebuild",
        data={"name": BY_ID, "csrf": csrf_of(page)},
        headers={"Origin": "https://evil.example"},
    )

    assert posted.status_code == 403


async def test_with_keys_on_a_browser_logs_in_with_a_key_and_never_sees_it_again(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = await make_runtime(grpc=False, api_keys=KEY)
    async with http_client(runtime) as browser:
        sent_away = await browser.get("/admin/projections", headers={"accept": "text/html"})
        refused = await browser.post("/admin/login", data={"key": "wrong", "next": "/"})
        logged_in = await browser.post("/admin/login", data={"key": KEY, "next": "/projections"})
        page = await browser.get("/admin/projections")
        api = await browser.get(ACCOUNTS)

    assert sent_away.status_code == 303
    assert sent_away.headers["location"] == "/admin/login?next=%2Fprojections"
    assert refused.status_code == 401
    assert "not one of the service" in refused.text
    assert logged_in.status_code == 303
    assert logged_in.headers["location"] == "/admin/projections"
    cookie = logged_in.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/admin" in cookie
    assert KEY not in cookie
    assert page.status_code == 200
    assert BY_ID in page.text
    assert KEY not in page.text
    assert api.status_code == 401  # the session opens the console, not the API


async def test_with_keys_on_a_request_without_session_gets_no_page_and_no_action(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = await make_runtime(grpc=False, api_keys=KEY)
    async with http_client(runtime) as stranger:
        page = await stranger.get("/admin/log")
        bearer = await stranger.get("/admin/log", headers={"Authorization": f"Bearer {KEY}"})
        action = await stranger.post("/admin/projections/rebuild", data={"name": BY_ID})
        login_form = await stranger.get("/admin/login")

    assert page.status_code == 401
    assert bearer.status_code == 401  # a session, not a bearer key, opens the console
    assert action.status_code == 401
    assert login_form.status_code == 200
    assert 'name="key"' in login_form.text


async def test_the_console_can_be_turned_off(make_runtime: RuntimeFactory) -> None:
    runtime = await make_runtime(grpc=False, admin=False)
    async with http_client(runtime) as client:
        answer = await client.get("/admin/")

    assert answer.status_code == 404
