"""The service over HTTP on a real broker: typed JSON commands in, the read model out."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

CREATE = {
    "type": "CreateUserCommand",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.org",
}


async def read_user(client: httpx.AsyncClient, user_id: str, version: int) -> dict[str, Any]:
    """The user from the read model once it reached ``version`` (10 s at most)."""
    deadline = time.monotonic() + 10.0
    while True:
        answer = await client.get(f"/users/{user_id}")
        if answer.status_code == 200 and answer.json()["version"] >= version:
            body: dict[str, Any] = answer.json()
            return body
        assert time.monotonic() < deadline, (
            f"user {user_id} not at version {version}: {answer.text}"
        )
        await asyncio.sleep(0.05)


async def test_a_created_user_appears_in_the_read_model(client: httpx.AsyncClient) -> None:
    created = await client.post("/", json=CREATE)
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    renamed = await client.post(
        "/",
        json={"type": "RenameUserCommand", "id": user_id, "first_name": "Ada", "last_name": "King"},
    )
    assert renamed.json() == {"id": user_id, "version": 2}
    user = await read_user(client, user_id, 2)
    assert user == {
        "id": user_id,
        "first_name": "Ada",
        "last_name": "King",
        "email": "ada@example.org",
        "active": True,
        "version": 2,
    }


async def test_a_deactivated_user_refuses_changes(client: httpx.AsyncClient) -> None:
    user_id = (await client.post("/", json=CREATE)).json()["id"]
    await client.post("/", json={"type": "DeactivateUserCommand", "id": user_id})
    refused = await client.post(
        "/", json={"type": "ChangeUserEmailCommand", "id": user_id, "email": "new@example.org"}
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "user_deactivated"
    assert (await read_user(client, user_id, 2))["active"] is False


async def test_an_unknown_command_type_is_422_listing_the_known_ones(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post("/", json={"type": "DeleteEverythingCommand"})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "unknown_command_type"
    assert "DeleteEverythingCommand" in error["message"]
    for known in (
        "CreateUserCommand",
        "RenameUserCommand",
        "ChangeUserEmailCommand",
        "DeactivateUserCommand",
    ):
        assert known in error["message"]


async def test_a_body_without_a_type_is_422_naming_it(client: httpx.AsyncClient) -> None:
    answer = await client.post("/", json={"first_name": "Ada"})
    assert answer.status_code == 422
    assert "type" in answer.json()["error"]["message"]


async def test_missing_fields_are_422_naming_them(client: httpx.AsyncClient) -> None:
    answer = await client.post("/", json={"type": "CreateUserCommand", "first_name": "Ada"})
    assert answer.status_code == 422
    message = answer.json()["error"]["message"]
    assert "last_name" in message
    assert "email" in message


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/", content=b'{"type": "CreateUserCommand",', headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "malformed_json"


async def test_a_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    answer = await client.post("/", json={**CREATE, "first_name": "A" * 10_000})
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"


async def test_an_unknown_user_is_404(client: httpx.AsyncClient) -> None:
    answer = await client.get("/users/nobody")
    assert answer.status_code == 404
