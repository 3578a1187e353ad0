"""The dashboard's web app: one static page and read-only JSON endpoints.

Routes: ``/`` (the page), ``/static/…`` (its JS, CSS and the vendored chart library),
``/api/version`` (the change token the page polls), ``/api/summary`` (headline, usage, tools
and approvals for a set of filters), ``/api/sessions`` and ``/api/lifecycle`` (the sessions
list; goals, hooks and compactions), ``/api/session/{thread_id}`` (one session's timeline) and
``/api/report/{name}`` (one report's rows, exactly the query layer's JSON). Every number comes
from the query layer (:mod:`agentlytics.dashboard.views`); there is no SQL here.

Only GET and HEAD are served. Without a token only loopback Host headers are accepted (a web
page elsewhere cannot read the data through DNS rebinding); with a token every request must
carry it (``Authorization: Bearer``, or once as ``?token=`` on the page, which sets a cookie).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import mimetypes
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlencode

import msgspec
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
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
#: The sections the page asks for on every load (and that its own request starts computing).
SECTIONS = ("summary", "sessions", "lifecycle")
_encode = msgspec.json.Encoder().encode


def _json(body: Any, status: int = 200) -> Response:
    return Response(
        _encode(body),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


class Asset(NamedTuple):
    body: bytes
    media_type: str


def load_assets() -> dict[str, Asset]:
    """Every file of ``static/`` (the page, its script and style, the vendored library), read
    once: served from memory, a page load never waits for a thread to read a file."""
    assets: dict[str, Asset] = {}
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            kind = mimetypes.guess_type(path.name)[0] or "text/plain"  # the licence
            if kind.startswith("text/") or kind in ("application/javascript", "image/svg+xml"):
                kind += "; charset=utf-8"
            assets[path.relative_to(STATIC).as_posix()] = Asset(path.read_bytes(), kind)
    return assets


def _asset(asset: Asset, background: BackgroundTask | None = None) -> Response:
    return Response(
        asset.body,
        media_type=asset.media_type,
        headers={"Cache-Control": "no-cache"},
        background=background,
    )


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


def _host_name(host: str) -> str:
    """The name part of a Host header (``[::1]:8766`` → ``[::1]``, ``localhost`` → itself)."""
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0]


def _cookie_name(scope: Scope) -> str:
    """Cookies are per host, not per port: each dashboard's token gets its own name."""
    server = scope.get("server") or ("", 0)
    return f"{COOKIE}_{server[1]}"


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
            if _host_name(headers.get("host", "")) not in LOOPBACK_HOSTS:
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
        await self.app(scope, receive, self._set_cookie(scope, send))

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
        morsel = cookie.get(_cookie_name(scope))
        return None if morsel is None else str(morsel.value)

    def _set_cookie(self, scope: Scope, send: Send) -> Callable[[Message], Awaitable[None]]:
        """Hand the browser the token as an HttpOnly cookie, so the page's fetches carry it."""
        assert self.token is not None
        name = _cookie_name(scope)
        value = f"{name}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode("latin-1")

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", value)]
            await send(message)

        return wrapped


Key = tuple[str, str, str]


class _Answers:
    """Answers per (change token, section, filters), each computed once, on a small pool.

    Polling pages cost no query while nothing changed. A request that arrives while its answer
    is being computed waits for that computation instead of starting another; and the page's
    own request (``GET /?filters``) starts its sections' answers at once, so they are under
    way while the browser is still loading the page's scripts.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.items: OrderedDict[Key, Future[Any]] = OrderedDict()
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dashboard-read")

    def get(self, key: Key, compute: Callable[[], Any]) -> Future[Any]:
        with self.lock:
            fut = self.items.get(key)
            if fut is None or (fut.done() and fut.exception() is not None):
                fut = self.pool.submit(compute)
                self.items[key] = fut
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)
            return fut


def _filters_key(params: Mapping[str, str]) -> str:
    """The filters of a query string, canonical (other keys and empty values left out)."""
    return urlencode([(k, params[k]) for k in views.FILTER_KEYS if params.get(k)])


def create_app(location: str, *, token: str | None = None, repo: Path | None = None) -> ASGIApp:
    """The dashboard for the store at ``location`` (a DuckDB path or a database URL); with
    ``repo``, the headline's agent share of code is attributed against that repository."""
    reader = Reader(location)
    answers = _Answers()
    assets = load_assets()

    def section(name: str, params: Mapping[str, str], change: str) -> Callable[[], Any]:
        """The computation of one section's answer (a name of :data:`SECTIONS` or a session)."""
        if name.startswith("session/"):
            return lambda: views.session(reader, name.removeprefix("session/"), params)
        if name.startswith("report/"):
            return lambda: views.report(reader, name.removeprefix("report/"), params)
        if name == "summary":
            return lambda: views.summary(reader, params, change, repo)
        if name == "sessions":
            return lambda: views.sessions(reader, params)
        return lambda: views.lifecycle(reader, params)

    def start(name: str, params: Mapping[str, str]) -> Future[Any]:
        """The (maybe already running) computation of a section for the store as it is now.

        Raises what reading the change token raises (a database store is asked for it).
        """
        change = reader.token()
        key = (change, name, _filters_key(params))
        return answers.get(key, section(name, params, change))

    def failure(exc: Exception) -> Response:
        """The answer for what reading the store raised (anything else is a bug: re-raised)."""
        if isinstance(exc, StoreMissing):
            return _json(views.missing(reader.label()))
        if isinstance(exc, StoreBusy):
            return _error(503, f"store busy: {exc}")
        if isinstance(exc, StoreError):
            return _error(500, str(exc))
        if isinstance(exc, views.BadRequest):
            return _error(400, str(exc))
        raise exc

    async def answer(name: str, request: Request) -> Response:
        params = dict(request.query_params)
        try:
            fut = await run_in_threadpool(start, name, params)
            return _json(await asyncio.wrap_future(fut))
        except (StoreMissing, StoreBusy, StoreError, views.BadRequest) as exc:
            return failure(exc)

    async def page(request: Request) -> Response:
        params = dict(request.query_params)

        def prefetch() -> None:
            with contextlib.suppress(Exception):  # best effort: the page asks again
                for name in SECTIONS:
                    start(name, params)
                if params.get("session"):
                    start("session/" + params["session"], params)

        # After the page is sent (its scripts then arrive while the answers are computed).
        return _asset(
            assets["index.html"], background=BackgroundTask(answers.pool.submit, prefetch)
        )

    async def static(request: Request) -> Response:
        found = assets.get(request.path_params["path"])
        return _error(404, "no such file") if found is None else _asset(found)

    async def version(request: Request) -> Response:
        if reader.file_token() is not None:
            # A file's version is its stat: no lock, no connection.
            return _json({"version": reader.token()})
        try:
            return _json({"version": await run_in_threadpool(reader.token)})
        except (StoreMissing, StoreBusy, StoreError) as exc:
            return failure(exc)

    async def summary(request: Request) -> Response:
        return await answer("summary", request)

    async def sessions(request: Request) -> Response:
        return await answer("sessions", request)

    async def lifecycle(request: Request) -> Response:
        return await answer("lifecycle", request)

    async def session(request: Request) -> Response:
        return await answer("session/" + request.path_params["thread_id"], request)

    async def report(request: Request) -> Response:
        return await answer("report/" + request.path_params["name"], request)

    async def not_found(request: Request) -> Response:
        return _error(404, "no such endpoint")

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/api/version", version),
            Route("/api/summary", summary),
            Route("/api/sessions", sessions),
            Route("/api/lifecycle", lifecycle),
            Route("/api/session/{thread_id}", session),
            Route("/api/report/{name}", report),
            Route("/api/{rest:path}", not_found),
            Route("/static/{path:path}", static),
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
