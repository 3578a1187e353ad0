"""The dashboard's web app: one static page and read-only JSON endpoints.

Routes: ``/`` (the page), ``/static/…`` (its JS, CSS and the vendored chart library),
``/api/version`` (the change token the page polls), ``/api/summary`` (everything the page shows
for a set of filters), ``/api/session/{thread_id}`` (one session's timeline) and
``/api/report/{name}`` (one report's rows, exactly the query layer's JSON). Every number comes
from the query layer (:mod:`agentlytics.dashboard.views`); there is no SQL here.

Only GET and HEAD are served. Without a token only loopback Host headers are accepted (a web
page elsewhere cannot read the data through DNS rebinding); with a token every request must
carry it (``Authorization: Bearer``, or once as ``?token=`` on the page, which sets a cookie).
"""

from __future__ import annotations

import hmac
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import msgspec
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentlytics.dashboard import views
from agentlytics.dashboard.reader import Reader, StoreBusy, StoreMissing
from agentlytics.query import StoreError

STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "agentlytics_dashboard"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
#: Nothing but this origin: no CDN, no inline script, nothing fetched from elsewhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_encode = msgspec.json.Encoder().encode


def _json(body: Any, status: int = 200) -> Response:
    return Response(
        _encode(body),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


class Guard:
    """ASGI middleware: read-only methods, the token when one is set, loopback Host otherwise."""

    def __init__(self, app: ASGIApp, *, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["method"] not in ("GET", "HEAD"):
            await _error(405, "the dashboard is read-only")(scope, receive, send)
            return
        if self.token is None:
            host = headers.get("host", "").rsplit(":", 1)[0] if headers.get("host") else ""
            if host not in LOOPBACK_HOSTS:
                await _error(403, "unexpected Host header")(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        given = self._given(scope, headers)
        if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            await _error(401, "a token is required (open the page with ?token=…)")(
                scope, receive, send
            )
            return
        await self.app(scope, receive, self._set_cookie(send))

    def _given(self, scope: Scope, headers: dict[str, str]) -> str | None:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        raw: bytes = scope.get("query_string", b"")
        query = parse_qs(raw.decode("latin-1"))
        if "token" in query:
            return query["token"][0]
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(headers.get("cookie", ""))
        morsel = cookie.get(COOKIE)
        return None if morsel is None else str(morsel.value)

    def _set_cookie(self, send: Send) -> Callable[[Message], Awaitable[None]]:
        """Hand the browser the token as an HttpOnly cookie, so the page's fetches carry it."""
        assert self.token is not None
        value = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode("latin-1")

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", value)]
            await send(message)

        return wrapped


class _Cache:
    """The last answers per (change token, path, query): polling pages cost no query."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.items: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> Any:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
            return None

    def put(self, key: tuple[str, str, str], value: Any) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


def create_app(location: str, *, token: str | None = None) -> ASGIApp:
    """The dashboard for the store at ``location`` (a DuckDB path or a database URL)."""
    reader = Reader(location)
    cache = _Cache()

    def answer(path: str, request: Request, compute: Callable[[str], Any]) -> Response:
        token = reader.file_token()
        query = request.url.query
        key = (token or "", path, query)
        if token is not None:
            hit = cache.get(key)
            if hit is not None:
                return _json(hit)
        try:
            body = compute(token or "")
        except StoreMissing:
            body = views.missing(reader.label())
        except StoreBusy as exc:
            return _error(503, f"store busy: {exc}")
        except StoreError as exc:
            return _error(500, str(exc))
        except views.BadRequest as exc:
            return _error(400, str(exc))
        if token is not None:
            cache.put(key, body)
        return _json(body)

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def version(request: Request) -> Response:
        def compute(_: str) -> Any:
            return views.version(reader)

        token = reader.file_token()
        if token is not None:
            # A file's version is its stat: no lock, no connection, nothing to cache.
            return _json({"version": token, "events_label": "watching " + reader.label()})
        return await run_in_threadpool(answer, "version", request, compute)

    async def summary(request: Request) -> Response:
        filters = dict(request.query_params)

        def compute(token: str) -> Any:
            return views.summary(reader, filters, token)

        return await run_in_threadpool(answer, "summary", request, compute)

    async def session(request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        filters = dict(request.query_params)

        def compute(_: str) -> Any:
            return views.session(reader, thread_id, filters)

        return await run_in_threadpool(answer, "session/" + thread_id, request, compute)

    async def report(request: Request) -> Response:
        name = request.path_params["name"]
        filters = dict(request.query_params)

        def compute(_: str) -> Any:
            return views.report(reader, name, filters)

        return await run_in_threadpool(answer, "report/" + name, request, compute)

    async def not_found(request: Request) -> Response:
        return _error(404, "no such endpoint")

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/api/version", version),
            Route("/api/summary", summary),
            Route("/api/session/{thread_id}", session),
            Route("/api/report/{name}", report),
            Route("/api/{rest:path}", not_found),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
    )

    async def security_headers(scope: Scope, receive: Receive, send: Send) -> None:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
            await send(message)

        await app(scope, receive, wrapped)

    return Guard(security_headers, token=token)
