"""The collector: a small starlette app receiving ``POST /codex/analytics-events/events``.

Order of checks, cheapest first, nothing stored unless all pass: bearer token (401 missing,
403 wrong; compared in constant time, never logged) → declared and actual body size (413) →
gzip with a cap on the decompressed size (413; a gzip bomb stops at the cap) → validation of
every event (400 naming the event and field) → one transactional insert of the whole batch
(idempotent on the event id, so retries and replays never add a row).

DuckDB has a single writer: the warehouse lives in a child process (``writer.py``; DuckDB keeps
the GIL while inserting, so in-process the inserts and request handling would take turns on one
core). One dedicated thread (a one-worker executor) talks to it, so request handling stays
async while writes are serialized, and validating the next requests overlaps the current write.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import sys
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agentlytics.config import CollectorConfig
from agentlytics.events.envelope import Envelope
from agentlytics.sinks.http import IDS_HEADER, PATH
from agentlytics.warehouse.postgres import is_postgres_url, redact

from .pgwriter import PostgresWriter
from .validation import ValidationFailed, ValidEvent, validate_events
from .writer import WarehouseProcess

_HEX64 = re.compile(r"[0-9a-f]{64}")
_encode = msgspec.json.Encoder().encode


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(_encode(body), status_code=status, media_type="application/json")


class JsonLog:
    """One JSON object per line on stderr (or any text stream). Never given a token."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream if stream is not None else sys.stderr

    def __call__(self, **fields: Any) -> None:
        fields = {"ts": round(time.time(), 3), **fields}
        self.stream.write(_encode(fields).decode() + "\n")
        self.stream.flush()


class Store:
    """The warehouse behind a single writer (a child process, see ``writer.py``), with group
    commit.

    Requests that arrive while a write is running are queued and written together in the next
    statement (one transaction, one commit): DuckDB's cost per insert statement dominates small
    batches, so concurrent clients share it. Each request is answered only after the statement
    holding its events has committed; its ``stored`` count is the rows it added (an id stored by
    an earlier request of the same group counts for that one).
    """

    #: Events per grouped statement at most (bounds the memory and latency of one commit).
    MAX_GROUP_EVENTS = 20_000
    #: A group smaller than this waits ``LINGER_SECONDS`` for more requests first: a statement
    #: costs DuckDB about a millisecond however small, and one-event requests (fingerprint
    #: chunks) would otherwise each pay it. Larger groups do not wait: the writer would idle
    #: (with 1,000 here, 500-event requests from two clients lost a fifth of their rate).
    LINGER_BELOW_EVENTS = 100
    LINGER_SECONDS = 0.002
    #: Groups handed to the writer before the first one's answer is read: the second waits in
    #: the pipe, so the writer starts it the moment it commits, even while this process is busy
    #: validating (measured: with one at a time the writer idled a third of the time). Only a
    #: group of ``LINGER_BELOW_EVENTS`` or more goes second; small ones keep gathering meanwhile.
    GROUPS_IN_FLIGHT = 2

    def __init__(self, path: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="collector-writer")
        self.path = path
        self.warehouse: WarehouseProcess | PostgresWriter | None = None
        self.close_ms: float | None = None
        self._queue: list[tuple[Sequence[Envelope], asyncio.Future[int]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self.warehouse = await loop.run_in_executor(self._executor, open_writer, self.path)

    async def insert(self, events: Sequence[Envelope]) -> int:
        """Store ``events`` (in a group with concurrent requests); the rows they added."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[int] = loop.create_future()
        self._queue.append((events, done))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_groups())
        return await done

    async def _write_groups(self) -> None:
        loop = asyncio.get_running_loop()
        warehouse = self.warehouse
        assert warehouse is not None
        sent: deque[list[tuple[Sequence[Envelope], asyncio.Future[int]]]] = deque()
        # A PostgreSQL store takes several groups at once (one transaction per connection).
        in_flight = getattr(warehouse, "GROUPS_IN_FLIGHT", self.GROUPS_IN_FLIGHT)
        while self._queue or sent:
            queued = sum(len(events) for events, _ in self._queue)
            if self._queue and (
                not sent or (len(sent) < in_flight and queued >= self.LINGER_BELOW_EVENTS)
            ):
                if not sent and queued < self.LINGER_BELOW_EVENTS:
                    await asyncio.sleep(self.LINGER_SECONDS)  # let concurrent requests join
                group = self._next_group()
                batch = [event for events, _ in group for event in events]
                try:
                    await loop.run_in_executor(self._executor, warehouse.send, batch)
                except Exception as exc:
                    _fail(group, exc)
                    continue
                sent.append(group)
                continue
            group = sent.popleft()
            try:
                added = await loop.run_in_executor(self._executor, warehouse.receive)
            except Exception as exc:  # every request of the group fails alike, and retries
                _fail(group, exc)
                continue
            for events, done in group:
                mine = {e.event_id for e in events} & added
                added -= mine
                if not done.done():
                    done.set_result(len(mine))

    def _next_group(self) -> list[tuple[Sequence[Envelope], asyncio.Future[int]]]:
        group = [self._queue.pop(0)]
        size = len(group[0][0])
        while self._queue and size + len(self._queue[0][0]) <= self.MAX_GROUP_EVENTS:
            group.append(self._queue.pop(0))
            size += len(group[-1][0])
        return group

    async def close(self) -> None:
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        if self.warehouse is not None:
            loop = asyncio.get_running_loop()
            self.close_ms = await loop.run_in_executor(self._executor, self.warehouse.close)
            self.warehouse = None
        self._executor.shutdown(wait=True)


def open_writer(location: str) -> WarehouseProcess | PostgresWriter:
    """The writer for a store location: a PostgreSQL URL, else a DuckDB file path."""
    if is_postgres_url(location):
        return PostgresWriter(location)
    return WarehouseProcess(location)


def _fail(group: list[tuple[Sequence[Envelope], asyncio.Future[int]]], exc: Exception) -> None:
    for _, done in group:
        if not done.done():
            done.set_exception(exc)


def _explicit_ids(header: str | None, count: int) -> dict[int, str]:
    """Parse ``X-Agentlytics-Event-Ids: <index>=<id>,...`` (ids of repeated identical events)."""
    if not header:
        return {}
    out: dict[int, str] = {}
    for part in header.split(","):
        index_text, sep, event_id = part.strip().partition("=")
        if not sep or not index_text.isdigit() or not _HEX64.fullmatch(event_id):
            raise ValidationFailed(f"malformed {IDS_HEADER} entry {part.strip()[:80]!r}")
        index = int(index_text)
        if index >= count:
            raise ValidationFailed(f"{IDS_HEADER} names event {index} of {count}")
        out[index] = event_id
    return out


def _envelopes(events: list[ValidEvent], explicit: dict[int, str]) -> list[Envelope]:
    sha = hashlib.sha256
    return [
        Envelope(
            event_id=explicit.get(i) or sha(e.raw).hexdigest(),
            event_type=e.event_type,
            body=e.raw,
            thread_id=e.thread_id,
            turn_id=e.turn_id,
            isolated=False,
        )
        for i, e in enumerate(events)
    ]


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge(f"request body of {declared} bytes exceeds the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _gunzip(body: bytes, limit: int) -> bytes:
    """Decompress with a hard cap on the output, so a small bomb cannot expand in memory."""
    inflater = zlib.decompressobj(31)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ValidationFailed(f"body is not valid gzip: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise _TooLarge(f"decompressed body exceeds the limit of {limit} bytes")
    if not inflater.eof:
        raise ValidationFailed("gzip body is truncated")
    return out


def create_app(
    config: CollectorConfig, *, allow_no_auth: bool = False, log: JsonLog | None = None
) -> Starlette:
    """The collector app for a configuration (tokens, limits, warehouse path)."""
    if not config.tokens and not allow_no_auth:
        raise ValueError("no collector tokens configured (--token or AGENTLYTICS_COLLECTOR_TOKENS)")
    tokens = [t.encode() for t in config.tokens]
    store = Store(config.warehouse)
    emit = log if log is not None else JsonLog()

    def authorized(request: Request) -> Response | None:
        if not tokens:
            return None
        header = request.headers.get("authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return _json(401, {"error": "unauthorized", "reason": "missing bearer token"})
        candidate = presented.strip().encode()
        # Compare against every token in constant time, so timing does not reveal which matched.
        if not any([hmac.compare_digest(candidate, t) for t in tokens]):
            return _json(403, {"error": "forbidden", "reason": "invalid token"})
        return None

    async def ingest(request: Request) -> Response:
        start = time.perf_counter()
        events = stored = 0
        response = authorized(request)
        if response is None:
            try:
                body = await _read_body(request, config.max_request_bytes)
                encoding = request.headers.get("content-encoding", "identity").strip().lower()
                if encoding == "gzip":
                    body = _gunzip(body, config.max_decompressed_bytes)
                elif encoding not in ("identity", ""):
                    raise ValidationFailed(f"unsupported Content-Encoding {encoding!r}")
                elif len(body) > config.max_decompressed_bytes:
                    raise _TooLarge(
                        f"body exceeds the limit of {config.max_decompressed_bytes} bytes"
                    )
                valid = validate_events(body, config.max_events)
                events = len(valid)
                explicit = _explicit_ids(request.headers.get(IDS_HEADER), events)
                stored = await store.insert(_envelopes(valid, explicit))
                response = _json(200, {"accepted": events, "stored": stored})
            except _TooLarge as exc:
                response = _json(413, {"error": "too_large", "reason": str(exc)})
            except ValidationFailed as exc:
                response = _json(exc.status, exc.to_json())
            except Exception as exc:  # storage failure: the client keeps the batch and retries
                emit(level="error", msg="storage failed", error=repr(exc))
                response = _json(503, {"error": "unavailable", "reason": "storage failed"})
        reason = None
        if response.status_code != 200:
            reason = msgspec.json.decode(bytes(response.body)).get("reason")
        emit(
            method=request.method,
            path=request.url.path,
            status=response.status_code,
            events=events,
            stored=stored,
            duration_ms=round((time.perf_counter() - start) * 1000, 2),
            **({"reason": reason} if reason else {}),
        )
        return response

    async def healthz(request: Request) -> Response:
        ok = store.warehouse is not None
        return _json(200 if ok else 503, {"status": "ok" if ok else "starting"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        emit(msg="collector ready", warehouse=redact(config.warehouse), auth=bool(tokens))
        try:
            yield
        finally:
            await store.close()
            # Closing the warehouse checkpoints what is only in its WAL: logged, as it is work
            # that ingest deferred (the delivery benchmark counts it).
            close_ms = None if store.close_ms is None else round(store.close_ms, 1)
            emit(msg="collector stopped", close_ms=close_ms)

    return Starlette(
        routes=[
            Route(PATH, ingest, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


#: How ``serve`` hands its configuration to worker processes (``--workers``): they import the
#: app by name (:func:`app_from_env`), so it travels in their environment, as JSON.
_WORKER_ENV = "AGENTLYTICS_COLLECTOR_WORKER"


def app_from_env() -> Starlette:
    """The app of one of ``serve``'s worker processes (a uvicorn factory)."""
    import os

    spec = msgspec.json.decode(os.environ[_WORKER_ENV], type=dict[str, Any])
    config = msgspec.convert(spec["config"], CollectorConfig)
    return create_app(config, allow_no_auth=bool(spec["allow_no_auth"]))


def serve(config: CollectorConfig, *, allow_no_auth: bool = False, workers: int = 1) -> None:
    """Run the collector until interrupted (SIGINT/SIGTERM shut it down cleanly).

    ``workers`` > 1 (a PostgreSQL store only: a DuckDB file has one writer) runs that many
    collector processes on the one port (uvicorn's supervisor; the kernel spreads connections).
    """
    import os

    import uvicorn

    app: Starlette | str
    if workers > 1:
        os.environ[_WORKER_ENV] = msgspec.json.encode(
            {"config": config, "allow_no_auth": allow_no_auth}
        ).decode()
        app = f"{__name__}:app_from_env"
    else:
        app = create_app(config, allow_no_auth=allow_no_auth)
    uvicorn.run(
        app,
        factory=workers > 1,
        workers=workers if workers > 1 else None,
        host=config.host,
        port=config.port,
        # httptools and uvloop (dependencies; h11 and asyncio where they cannot install):
        # measured on 1,819 one-event requests, 0.21 ms of collector CPU a request against
        # 0.50 ms with h11 on asyncio.
        http="auto",
        loop="auto",
        access_log=False,  # our own JSON line per request replaces it
        log_level="warning",
        # h11 only: room for the event-id header of a batch of repeated events (sinks.http).
        h11_max_incomplete_event_size=256 * 1024,
    )
