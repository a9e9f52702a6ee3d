"""What the console changes: logging in and out, rebuilding, parking, replaying.

Each action is a POST with the CSRF token of the session, behind a page that asks for
confirmation (``/projections/confirm``), so that it works without JavaScript and no link
followed by mistake changes anything.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from eskit.admin.sessions import COOKIE
from eskit.admin.state import Console
from eskit.errors import ConfigurationError, EskitError, NotFoundError
from eskit.messaging.consumer import ConsumerRunner
from eskit.projections import Projection
from eskit.projections.dead_letters import park as park_event
from eskit.projections.dead_letters import replay as replay_letter
from eskit.store import require_transactions

__all__ = [
    "confirm",
    "login",
    "login_page",
    "logout",
    "park",
    "rebuild",
    "replay",
    "replay_consumer",
]

_log = logging.getLogger("eskit.admin")

CONFIRMATIONS = {
    "rebuild": (
        "Rebuild {name}?",
        "Its read model is built again from the first event in shadow tables and swapped "
        "in when caught up; the old one keeps answering queries meanwhile.",
        "/projections/rebuild",
    ),
    "park": (
        "Park the failing event of {name}?",
        "The event it fails on moves to the dead letters and {name} goes on without it. "
        "Replay it from the dead letters after a fix.",
        "/projections/park",
    ),
    "replay": (
        "Replay the event parked for {name} at position {position}?",
        "It is applied to {name} again; if it fails again, it stays parked.",
        "/dead-letters/replay",
    ),
    "replay-consumer": (
        "Replay the dead letters of consumer {name}?",
        "Each is applied again once, through the consumer's inbox; those that fail again "
        "go back to the dead letters.",
        "/consumers/replay",
    ),
}


def _safe_next(target: str | None) -> str:
    """A console path to go to after login: never another site."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


async def login_page(console: Console, request: Request) -> Response:
    """The form that takes an API key (only when keys are on)."""
    if not console.sessions.required:
        return RedirectResponse(f"{request.scope.get('root_path', '')}/", 303)
    return console.render(
        request,
        "login.html",
        title="Log in",
        next=_safe_next(request.query_params.get("next")),
        refused=False,
    )


async def login(console: Console, request: Request) -> Response:
    """Check the key; a session cookie and the page asked for, or the form again (401)."""
    form = await _form(request)
    target = _safe_next(_field(form, "next"))
    cookie = console.sessions.login(_field(form, "key") or "")
    if cookie is None:
        _log.warning("admin console: a login with an unknown key was refused")
        return console.render(
            request, "login.html", title="Log in", next=target, refused=True, status_code=401
        )
    root = request.scope.get("root_path", "")
    response = RedirectResponse(root + target, 303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(console.sessions_lifetime_s),
        path=root or "/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def logout(console: Console, request: Request) -> Response:
    """End the session (its cookie is dropped)."""
    if (refused := await _refuse_without_token(console, request)) is not None:
        return refused
    root = request.scope.get("root_path", "")
    response = RedirectResponse(f"{root}/login", 303)
    response.delete_cookie(COOKIE, path=root or "/", httponly=True, samesite="strict")
    return response


async def confirm(console: Console, request: Request) -> Response:
    """The page that asks before an action (``action``, ``name``, ``position``)."""
    action = request.query_params.get("action", "")
    name = request.query_params.get("name", "")
    position = request.query_params.get("position", "")
    if action not in CONFIRMATIONS or not name:
        return console.render(
            request, "result.html", title="Unknown action", message=action, status_code=404
        )
    question, detail, target = CONFIRMATIONS[action]
    return console.render(
        request,
        "confirm.html",
        title=question.format(name=name, position=position),
        active="projections",
        detail=detail.format(name=name, position=position),
        target=target,
        name=name,
        position=position,
    )


async def rebuild(console: Console, request: Request) -> Response:
    """Start rebuilding a projection; its progress shows on the projections page."""
    form = await _checked_form(console, request)
    if isinstance(form, Response):
        return form
    name = _field(form, "name") or ""
    projection = console.sources.projection(name)
    if not isinstance(projection, Projection):
        return _failed(console, request, f"{name} is no projection this service runs", 404)
    try:
        console.rebuilds.start(projection)
    except ConfigurationError as exc:
        return _failed(console, request, exc.message, 409)
    root = request.scope.get("root_path", "")
    return RedirectResponse(f"{root}/projections?{urlencode({'rebuilding': name})}", 303)


async def park(console: Console, request: Request) -> Response:
    """Park the event a projection fails on, as ``eskit projections park`` does."""
    form = await _checked_form(console, request)
    if isinstance(form, Response):
        return form
    name = _field(form, "name") or ""
    db = require_transactions(console.sources.store, "parking")
    try:
        letter = await park_event(db, name)
    except NotFoundError as exc:
        return _failed(console, request, exc.message, 404)
    _log.info("admin console: parked position %s for %s", letter.position, name)
    return _done(
        console,
        request,
        f"Parked {letter.event_type} at position {letter.position} "
        f"(stream {letter.stream_id}) for {name}: {letter.error}",
    )


async def replay(console: Console, request: Request) -> Response:
    """Apply a parked event to its projection again and forget it."""
    form = await _checked_form(console, request)
    if isinstance(form, Response):
        return form
    name = _field(form, "name") or ""
    position = _field(form, "position") or ""
    projection = console.sources.projection(name)
    if projection is None or not position.isdigit():
        return _failed(console, request, f"no parked event of {name} at {position}", 404)
    db = require_transactions(console.sources.store, "replaying parked events")
    try:
        letter = await replay_letter(db, projection, int(position))
    except NotFoundError as exc:
        return _failed(console, request, exc.message, 404)
    except Exception as exc:  # the handler fails again: the event stays parked
        return _failed(console, request, f"it failed again: {type(exc).__name__}: {exc}", 409)
    _log.info("admin console: replayed position %s for %s", letter.position, name)
    return _done(console, request, f"Replayed {letter.event_type} at {position} for {name}.")


async def replay_consumer(console: Console, request: Request) -> Response:
    """Apply a consumer's dead letters again, as ``eskit dead-letters replay`` does."""
    form = await _checked_form(console, request)
    if isinstance(form, Response):
        return form
    name = _field(form, "name") or ""
    consumer = next((c for c in console.sources.consumers if c.name == name), None)
    tasks = console.sources.messaging()
    if consumer is None or tasks is None:
        return _failed(console, request, f"consumer {name} does not run in this process", 404)
    db = require_transactions(console.sources.store, "consumers (their inbox)")
    try:
        applied = await ConsumerRunner(db, tasks.bus, consumer).replay_dead_letters()
    except EskitError as exc:
        return _failed(console, request, exc.message, 503)
    _log.info("admin console: replayed %s dead letter(s) of %s", applied, name)
    return _done(console, request, f"{applied} dead letter(s) of {name} applied again.")


Form = dict[str, str]
"""A posted form's fields (the console's forms have no repeated field)."""

FORM_LIMIT = 16 * 1024
"""The largest form the console reads: its forms hold a key, a name and a token."""


async def _form(request: Request) -> Form:
    """The ``application/x-www-form-urlencoded`` fields of the request (empty if it is
    anything else or too large): read here, as the console's forms need no multipart."""
    if request.headers.get("content-type", "").split(";")[0].strip() != (
        "application/x-www-form-urlencoded"
    ):
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            return {}
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def _field(form: Form, name: str) -> str | None:
    return form.get(name)


async def _checked_form(console: Console, request: Request) -> Form | Response:
    """The form of an action, or a 403 if its CSRF token is not the session's."""
    form = await _form(request)
    if not console.sessions.csrf_valid(request.cookies.get(COOKIE), _field(form, "csrf")):
        return _failed(console, request, "the form's token is missing or stale", 403)
    return form


async def _refuse_without_token(console: Console, request: Request) -> Response | None:
    form = await _checked_form(console, request)
    return form if isinstance(form, Response) else None


def _failed(console: Console, request: Request, message: str, status: int) -> Response:
    return console.render(
        request, "result.html", title="Not done", message=message, status_code=status
    )


def _done(console: Console, request: Request, message: str) -> Response:
    return console.render(request, "result.html", title="Done", message=message)
