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
import functools
import hmac
import sys
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from agentlytics.config import CollectorConfig
from agentlytics.events.envelope import Envelope
from agentlytics.protocol.ingest import IDS_HEADER, PATH
from agentlytics.warehouse.postgres import is_postgres_url

from .limits import BodyTimeout, read_body
from .limits import TooLarge as _TooLarge
from .metrics import CollectorMetrics
from .pgwriter import PostgresWriter
from .validation import ValidationFailed, ValidEvent, event_ids, validate_events
from .writer import WarehouseProcess, WriterError

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

    A PostgreSQL store has no single writer: a group goes to each free pooled connection at
    once (:meth:`_submit_groups`), and only the requests that arrive while all are busy wait,
    gathered into the next group. (Waiting on the oldest group's answer before sending the next,
    as the DuckDB pipe must, left connections idle while requests queued.)
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

    def __init__(self, path: str, memory_limit: str = "", threads: int = 0) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="collector-writer")
        self.path = path
        self._settings = (memory_limit, threads)
        self.warehouse: WarehouseProcess | PostgresWriter | None = None
        self.close_ms: float | None = None
        self._queue: list[tuple[Sequence[Envelope], asyncio.Future[int]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Future[set[str]]] = set()  # PostgreSQL groups in flight

    async def open(self) -> None:
        if self.warehouse is not None:  # opened before the server started (serve.py)
            return
        loop = asyncio.get_running_loop()
        self.warehouse = await loop.run_in_executor(
            self._executor, open_writer, self.path, *self._settings
        )

    async def insert(self, events: Sequence[Envelope]) -> int:
        """Store ``events`` (in a group with concurrent requests); the rows they added."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[int] = loop.create_future()
        self._queue.append((events, done))
        if isinstance(self.warehouse, PostgresWriter):
            self._submit_groups(self.warehouse)
        elif self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_groups())
        return await done

    def _submit_groups(self, warehouse: PostgresWriter) -> None:
        """PostgreSQL: the queue's requests as groups, one per free connection, each answered
        as soon as it commits (in any order); while every connection is busy, new requests
        gather into the next group. Called whenever a request arrives or a group finishes."""
        while self._queue and len(self._pending) < warehouse.connections:
            group = self._next_group()
            stored = asyncio.wrap_future(
                warehouse.submit([event for events, _ in group for event in events])
            )
            self._pending.add(stored)
            stored.add_done_callback(functools.partial(self._answer, warehouse, group))

    def _answer(
        self,
        warehouse: PostgresWriter,
        group: list[tuple[Sequence[Envelope], asyncio.Future[int]]],
        stored: asyncio.Future[set[str]],
    ) -> None:
        self._pending.discard(stored)
        if stored.cancelled():
            _fail(group, WriterError("storage was cancelled"))
        elif (exc := stored.exception()) is not None:
            _fail(group, exc)  # every request of the group fails alike, and retries
        else:
            _settle(group, stored.result())
        self._submit_groups(warehouse)

    async def _write_groups(self) -> None:
        loop = asyncio.get_running_loop()
        warehouse = self.warehouse
        assert warehouse is not None
        sent: deque[list[tuple[Sequence[Envelope], asyncio.Future[int]]]] = deque()
        assert isinstance(warehouse, WarehouseProcess)
        in_flight = self.GROUPS_IN_FLIGHT
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
            _settle(group, added)

    def queued_events(self) -> int:
        """Events waiting for the writer (not yet handed to it)."""
        return sum(len(events) for events, _ in self._queue)

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
        while self._pending:  # submitting more as they finish, until the queue is empty
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self.warehouse is not None:
            loop = asyncio.get_running_loop()
            self.close_ms = await loop.run_in_executor(self._executor, self.warehouse.close)
            self.warehouse = None
        self._executor.shutdown(wait=True)


def open_writer(
    location: str, memory_limit: str = "", threads: int = 0
) -> WarehouseProcess | PostgresWriter:
    """The writer for a store location: a PostgreSQL URL, else a DuckDB file path (whose
    DuckDB gets ``memory_limit`` and ``threads``: ``[collector]``)."""
    if is_postgres_url(location):
        return PostgresWriter(location)
    return WarehouseProcess(location, memory_limit=memory_limit, threads=threads)


def _settle(group: list[tuple[Sequence[Envelope], asyncio.Future[int]]], added: set[str]) -> None:
    """Answer a stored group's requests: each its count of the rows added (an id two requests
    of the group share counts for the first)."""
    for events, done in group:
        mine = {e.event_id for e in events} & added
        added -= mine
        if not done.done():
            done.set_result(len(mine))


def _fail(group: list[tuple[Sequence[Envelope], asyncio.Future[int]]], exc: BaseException) -> None:
    for _, done in group:
        if not done.done():
            done.set_exception(exc)


def _envelopes(events: list[ValidEvent], header: str | None) -> list[Envelope]:
    """Envelopes keyed by the id computed here from each event's canonical JSON; a client's
    ``X-Agentlytics-Event-Ids`` entry only picks which repeat of an identical event it is."""
    ids = event_ids(events, header)
    return [
        Envelope(
            event_id=ids[i],
            event_type=e.event_type,
            body=e.raw,
            thread_id=e.thread_id,
            turn_id=e.turn_id,
            isolated=False,
        )
        for i, e in enumerate(events)
    ]


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
    if inflater.unused_data:
        raise ValidationFailed(
            f"{len(inflater.unused_data)} bytes after the end of the gzip body "
            "(trailing data or a second gzip member)"
        )
    return out


def create_app(
    config: CollectorConfig,
    *,
    allow_no_auth: bool = False,
    log: JsonLog | None = None,
    metrics: CollectorMetrics | None = None,
    on_stored: Callable[[Sequence[Envelope]], None] | None = None,
    warehouse: WarehouseProcess | PostgresWriter | None = None,
) -> Starlette:
    """The collector app for a configuration (tokens, limits, warehouse path).

    ``metrics`` (default: a fresh set) back ``GET /metrics``; ``on_stored`` is handed every
    accepted batch once it is committed (``collect --otlp`` exports them); ``warehouse``: one
    already opened (so that a failure to open it is reported before the server starts)."""
    if not config.tokens and not allow_no_auth:
        raise ValueError("no collector tokens configured (--token or AGENTLYTICS_COLLECTOR_TOKENS)")
    tokens = [t.encode() for t in config.tokens]
    store = Store(config.warehouse, config.memory_limit, config.threads)
    store.warehouse = warehouse
    emit = log if log is not None else JsonLog()
    stats = metrics if metrics is not None else CollectorMetrics()
    stats.gauge(
        "agentlytics_collector_queue_events", "Events waiting for the writer.", store.queued_events
    )

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
        body = b""
        write_seconds: float | None = None
        response = authorized(request)
        if response is None:
            try:
                body = await read_body(request, config.max_request_bytes, config.body_timeout)
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
                sealed = _envelopes(valid, request.headers.get(IDS_HEADER))
                handed = time.perf_counter()
                stored = await store.insert(sealed)
                write_seconds = time.perf_counter() - handed
                if on_stored is not None:
                    try:  # stored: a failing export hand-off must not turn that into a 503
                        on_stored(sealed)
                    except Exception as exc:
                        emit(level="error", msg="export hand-off failed", error=repr(exc))
                response = _json(200, {"accepted": events, "stored": stored})
            except _TooLarge as exc:
                response = _json(413, {"error": "too_large", "reason": str(exc)})
            except ValidationFailed as exc:
                response = _json(exc.status, exc.to_json())
            except BodyTimeout as exc:
                response = _json(408, {"error": "timeout", "reason": str(exc)})
            except ClientDisconnect:  # nobody to answer; not a storage failure
                emit(level="info", msg="client disconnected before its body was complete")
                response = _json(400, {"error": "disconnected", "reason": "client disconnected"})
            except Exception as exc:  # storage failure: the client keeps the batch and retries
                emit(level="error", msg="storage failed", error=repr(exc))
                response = _json(503, {"error": "unavailable", "reason": "storage failed"})
        reason = error = None
        if response.status_code != 200:
            answer = msgspec.json.decode(bytes(response.body))
            reason, error = answer.get("reason"), answer.get("error")
        stats.observe(
            status=response.status_code,
            error=error,
            events=events,
            stored=stored,
            body=body,
            seconds=time.perf_counter() - start,
            write_seconds=write_seconds,
        )
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

    async def metrics_page(request: Request) -> Response:
        denied = None if config.metrics_open else authorized(request)
        if denied is not None:
            return denied
        text, content_type = stats.exposition()
        return Response(text, media_type=content_type)

    async def healthz(request: Request) -> Response:
        ok = store.warehouse is not None
        return _json(200 if ok else 503, {"status": "ok" if ok else "starting"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()  # "collector ready" is logged by serve.py once the socket serves
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
            Route("/metrics", metrics_page, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
