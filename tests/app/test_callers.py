"""Who is calling, read the same way by HTTP and gRPC: request ids, bearer tokens, API keys."""

from __future__ import annotations

import pytest

from eskit.app.callers import ApiKeys, bearer_token, request_id_from
from eskit.settings import EskitSettings

pytestmark = pytest.mark.unit


def test_request_ids_and_bearer_tokens_are_read_the_same_way_for_http_and_grpc() -> None:
    assert request_id_from("abc-123:x.y_z") == "abc-123:x.y_z"
    for bad in (None, "", "has space", "x" * 129, "nul\x00"):
        assert request_id_from(bad) != bad
    assert bearer_token("Bearer  k1 ") == "k1"
    assert bearer_token("bearer k1") == "k1"
    assert bearer_token("Basic k1") == ""
    keys = ApiKeys(["k1", "k2"])
    assert keys.known("k2")
    assert not keys.known("k3")
    assert not keys.known("")
    assert not ApiKeys([])


def test_api_keys_come_comma_separated_and_stay_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESKIT_API_KEYS", " first, second ,,")
    settings = EskitSettings()
    assert [key.get_secret_value() for key in settings.api_keys] == ["first", "second"]
    assert "first" not in repr(settings)
    assert "second" not in str(settings.model_dump())
