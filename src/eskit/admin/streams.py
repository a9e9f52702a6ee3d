"""The console's pages of the log: stream types, a type's streams, one stream's history and
state as of a version, and the global log with its live tail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from eskit.admin.state import Console
from eskit.admin.tail import tail_events
from eskit.app.repository import Repository
from eskit.errors import EskitError
from eskit.store import LogBrowser, StoredEvent

__all__ = ["log", "log_live", "stream", "stream_types", "streams_of_type"]

PAGE = 50
"""Streams or log events per page."""
HISTORY = 100
"""Events of one stream per page."""


def _browser(console: Console) -> LogBrowser | None:
    store = console.sources.store
    return store if isinstance(store, LogBrowser) else None


def _int(request: Request, name: str) -> int | None:
    value = request.query_params.get(name, "").strip()
    return int(value) if value.isdigit() else None


async def stream_types(console: Console, request: Request) -> Response:
    """Stream types with their counts, and finding a stream by id."""
    wanted = request.query_params.get("id", "").strip()
    if wanted and await console.sources.store.stream_exists(wanted):
        root = request.scope.get("root_path", "")
        return RedirectResponse(f"{root}/stream?{urlencode({'id': wanted})}", 303)
    browser = _browser(console)
    types = await browser.stream_types() if browser else []
    return console.render(
        request,
        "streams.html",
        title="Streams",
        active="streams",
        types=types,
        wanted=wanted,
        missing=bool(wanted),
        browsable=browser is not None,
        status_code=404 if wanted else 200,
    )


async def streams_of_type(console: Console, request: Request) -> Response:
    """A stream type's streams, newest first, a page at a time."""
    name = request.query_params.get("name") or None
    before = _int(request, "before")
    browser = _browser(console)
    found = (
        await browser.latest_streams(stream_type=name, before=before, limit=PAGE + 1)
        if browser
        else []
    )
    page, more = found[:PAGE], len(found) > PAGE
    return console.render(
        request,
        "stream_type.html",
        title=f"Streams of {name}" if name else "All streams",
        active="streams",
        name=name,
        streams=page,
        older=page[-1].first_position if more and page else None,
        first=before is None,
    )


async def stream(console: Console, request: Request) -> Response:
    """One stream's events, and with ``version`` the stream as it was then."""
    stream_id = request.query_params.get("id", "")
    store = console.sources.store
    current = await store.stream_version(stream_id) if stream_id else 0
    if not current:
        return console.render(
            request,
            "stream.html",
            title="Stream not found",
            active="streams",
            stream_id=stream_id,
            events=[],
            current=0,
            status_code=404,
        )
    as_of = min(_int(request, "version") or current, current)
    to = min(_int(request, "to") or as_of, as_of)
    first = max(1, to - HISTORY + 1)
    events = await store.read_stream(stream_id, from_version=first, to_version=to)
    stream_type = events[0].stream_type if events else ""
    state, state_error = await _state(console, stream_id, stream_type, as_of)
    return console.render(
        request,
        "stream.html",
        title=f"Stream {stream_id}",
        active="streams",
        stream_id=stream_id,
        stream_type=stream_type,
        current=current,
        as_of=as_of,
        travelling=as_of < current,
        events=events,
        earlier=first - 1 if first > 1 else None,
        aggregate=console.sources.aggregates.get(stream_type),
        state=state,
        state_error=state_error,
    )


async def _state(
    console: Console, stream_id: str, stream_type: str, version: int
) -> tuple[dict[str, Any] | None, str | None]:
    """The aggregate's state at ``version``, when the service says which class it is."""
    aggregate = console.sources.aggregates.get(stream_type)
    if aggregate is None:
        return None, None
    repository = Repository(console.sources.store, aggregate, snapshots=False)
    try:
        loaded = await repository.load(stream_id, at_version=version)
    except EskitError as exc:
        return None, exc.message
    except Exception as exc:  # an aggregate that cannot fold its own history: say so
        return None, f"{type(exc).__name__}: {exc}"
    return loaded.model_dump(mode="json"), None


async def log(console: Console, request: Request) -> Response:
    """The last events of the global log, newest first; live on the first page."""
    before = _int(request, "before")
    browser = _browser(console)
    found = await browser.latest_events(before=before, limit=PAGE + 1) if browser else []
    events, more = found[:PAGE], len(found) > PAGE
    head = events[0].position if events else await console.sources.store.last_position()
    return console.render(
        request,
        "log.html",
        title="Global log",
        active="log",
        events=events,
        head=head,
        live=before is None,
        older=events[-1].position if more and events else None,
        browsable=browser is not None,
    )


async def log_live(console: Console, request: Request) -> Response:
    """Server-sent events: rows of the events committed after ``after`` (or after the
    ``Last-Event-ID`` a reconnecting browser sends)."""
    resumed = request.headers.get("last-event-id", "")
    after = int(resumed) if resumed.isdigit() else (_int(request, "after") or 0)
    root = request.scope.get("root_path", "")

    def render(events: Sequence[StoredEvent]) -> str:
        template = console.templates.get_template("log_rows.html")
        return template.render(events=list(reversed(events)), root=root)

    return StreamingResponse(
        tail_events(console.sources.store, after, render, console.closing),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
