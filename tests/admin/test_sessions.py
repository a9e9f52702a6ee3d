"""Console sessions: a cookie made from a known key, never holding it, for a bounded time."""

import pytest

from eskit.admin import ConsoleSessions

pytestmark = pytest.mark.unit

SECRET = b"s" * 32


def sessions(*keys: str, lifetime_s: float = 3600.0) -> ConsoleSessions:
    return ConsoleSessions(list(keys), SECRET, lifetime_s=lifetime_s)


def test_a_known_key_makes_a_valid_session_that_does_not_hold_the_key() -> None:
    door = sessions("key-one", "key-two")

    cookie = door.login("key-two", now=1000.0)

    assert cookie is not None
    assert "key-two" not in cookie
    assert door.valid(cookie, now=1001.0)


def test_an_unknown_key_makes_no_session() -> None:
    assert sessions("key-one").login("key-on") is None


def test_a_session_ends_after_its_lifetime() -> None:
    door = sessions("key-one", lifetime_s=60.0)
    cookie = door.login("key-one", now=1000.0)

    assert door.valid(cookie, now=1060.0)
    assert not door.valid(cookie, now=1061.0)


def test_a_session_of_a_removed_key_is_refused() -> None:
    cookie = sessions("old-key", "new-key").login("old-key")

    assert not sessions("new-key").valid(cookie)


def test_a_session_under_another_secret_is_refused() -> None:
    cookie = sessions("key-one").login("key-one")
    other = ConsoleSessions(["key-one"], b"t" * 32, lifetime_s=3600.0)

    assert not other.valid(cookie)


@pytest.mark.parametrize("cookie", [None, "", "garbage", "12.", "x.y", "1000.00ff"])
def test_malformed_cookies_are_refused(cookie: str | None) -> None:
    assert not sessions("key-one").valid(cookie, now=1000.0)


def test_a_forged_time_breaks_the_session() -> None:
    door = sessions("key-one")
    cookie = door.login("key-one", now=1000.0)
    assert cookie is not None
    _, mac = cookie.split(".")

    assert not door.valid(f"2000.{mac}", now=2001.0)


def test_the_csrf_token_belongs_to_its_session() -> None:
    door = sessions("key-one")
    first = door.login("key-one", now=1000.0)
    second = door.login("key-one", now=1001.0)

    assert door.csrf_valid(first, door.csrf_token(first))
    assert not door.csrf_valid(second, door.csrf_token(first))
    assert not door.csrf_valid(first, "")
    assert not door.csrf_valid(first, None)


def test_without_keys_no_session_is_required_and_the_csrf_token_still_is() -> None:
    door = sessions()

    assert not door.required
    assert door.csrf_valid(None, door.csrf_token(None))
    assert not door.csrf_valid(None, "forged")
