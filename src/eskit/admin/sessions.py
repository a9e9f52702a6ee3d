"""Console sessions: a browser proves it knows an API key once, then carries a cookie.

A browser cannot send ``Authorization: Bearer`` when it follows a link, so ``/admin/login``
takes a key in a form and answers with a session cookie. The cookie never holds the key:
it holds the time of login and an HMAC, under the console's secret, of that time and of
the key's own HMAC. A cookie is good while it is younger than the session's lifetime and
one of the configured keys made it: removing a key ends its sessions at the next start.

Every action is a POST carrying a CSRF token, an HMAC of the session (or of nothing, with
keys off) under the same secret: a page of another site can make a browser send the
cookie's requests (not here: it is ``SameSite=Strict``), but never read the token.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

__all__ = ["COOKIE", "ConsoleSessions"]

COOKIE = "eskit_admin"
"""The session cookie's name; it is sent to ``/admin`` paths only."""


class ConsoleSessions:
    """Makes and checks session cookies and CSRF tokens under ``secret``.

    With no ``keys`` the console is open: :meth:`required` is false and every request has
    the one CSRF token of this secret.
    """

    def __init__(self, keys: Sequence[str], secret: bytes, *, lifetime_s: float) -> None:
        self._secret = secret
        self._lifetime_s = lifetime_s
        self._keys = [self._mac(b"key", key.encode()) for key in keys]

    @property
    def required(self) -> bool:
        """Whether a session is needed (API keys are configured)."""
        return bool(self._keys)

    def login(self, key: str, *, now: float | None = None) -> str | None:
        """A session cookie's value if ``key`` is one of the keys, else None."""
        given = self._mac(b"key", key.encode())
        if not any(hmac.compare_digest(given, known) for known in self._keys):
            return None
        issued = str(int(time.time() if now is None else now))
        return f"{issued}.{self._session_mac(issued, given)}"

    def valid(self, cookie: str | None, *, now: float | None = None) -> bool:
        """Whether ``cookie`` is a live session made with one of the keys."""
        if not cookie or "." not in cookie:
            return False
        issued, _, mac = cookie.partition(".")
        if not issued.isdigit():
            return False
        age = (time.time() if now is None else now) - int(issued)
        if not 0 <= age <= self._lifetime_s:
            return False
        return any(
            hmac.compare_digest(mac, self._session_mac(issued, known)) for known in self._keys
        )

    def csrf_token(self, cookie: str | None) -> str:
        """The CSRF token of the session ``cookie`` (or of the open console)."""
        return self._mac(b"csrf", (cookie or "").encode())

    def csrf_valid(self, cookie: str | None, token: str | None) -> bool:
        """Whether ``token`` is the CSRF token of ``cookie``."""
        return bool(token) and hmac.compare_digest(self.csrf_token(cookie), token or "")

    def _session_mac(self, issued: str, key_mac: str) -> str:
        return self._mac(b"session", f"{issued}|{key_mac}".encode())

    def _mac(self, purpose: bytes, message: bytes) -> str:
        return hmac.new(self._secret, purpose + b"\0" + message, hashlib.sha256).hexdigest()
