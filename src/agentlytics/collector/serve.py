"""Running the collector: bind, open the warehouse, then say where it listens.

Both things that can fail at start — the address and the warehouse — are tried before
uvicorn runs, so a failure is one line saying what to do (``UserError``), and "collector
ready" is printed only once the socket is bound and the warehouse open, with its address.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
from collections.abc import Callable, Sequence
from typing import Any

from agentlytics.config import CollectorConfig
from agentlytics.errors import UserError, os_reason, warehouse_error
from agentlytics.events.envelope import Envelope
from agentlytics.warehouse.postgres import redact

from .app import JsonLog, create_app, open_writer
from .limits import HttpParser, Limits, guarded, protocol_class
from .metrics import CollectorMetrics
from .writer import WriterError


def limits_of(config: CollectorConfig) -> Limits:
    return Limits(
        max_header_bytes=config.max_header_bytes,
        max_headers=config.max_headers,
        header_timeout=config.header_timeout,
        max_connections=config.max_connections,
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (one line saying what to do if it cannot be had)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family = infos[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(infos[0][4])
            sock.listen(2048)
        except OSError:
            sock.close()
            raise
    except OSError as exc:
        raise UserError(
            f"cannot listen on {host}:{port}: {os_reason(exc)}; stop what uses the port or "
            "pass --port (or --host) another one"
        ) from exc
    sock.setblocking(False)
    return sock


def uvicorn_config(
    app: Any, config: CollectorConfig, http: HttpParser = "auto", **extra: Any
) -> Any:
    """The uvicorn configuration the collector runs with (tests run it with each parser)."""
    import uvicorn

    limits = limits_of(config)
    return uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        # httptools and uvloop (dependencies; h11 and asyncio where they cannot install):
        # measured on 1,819 one-event requests, 0.21 ms of collector CPU a request against
        # 0.50 ms with h11 on asyncio. Either runs behind the same head limits (limits.py).
        http=guarded(protocol_class(http), limits),
        loop="auto",
        access_log=False,  # our own JSON line per request replaces it
        log_level="warning",
        # h11's own cap on a head, above ours so that ours (the same for both parsers) answers.
        h11_max_incomplete_event_size=limits.max_header_bytes + 64 * 1024,
        limit_concurrency=limits.max_connections,
        timeout_keep_alive=config.keep_alive_timeout,
        **extra,
    )


def run_server(uv_config: Any, sock: socket.socket, log: JsonLog, ready: dict[str, Any]) -> None:
    """uvicorn on the bound ``sock``, logging "collector ready" once it serves (never when its
    start failed)."""
    import uvicorn

    server = uvicorn.Server(uv_config)
    original = server.startup

    async def startup(sockets: list[socket.socket] | None = None) -> None:
        await original(sockets=sockets)
        if server.started:
            log(msg="collector ready", **ready)

    server.startup = startup  # type: ignore[method-assign]
    server.run(sockets=[sock])


def serve(
    config: CollectorConfig,
    *,
    allow_no_auth: bool = False,
    metrics: CollectorMetrics | None = None,
    on_stored: Callable[[Sequence[Envelope]], None] | None = None,
    workers: int = 1,
) -> None:
    """Run the collector until interrupted (SIGINT/SIGTERM shut it down cleanly).

    ``metrics`` and ``on_stored`` are handed to :func:`create_app` (``collect --otlp``).
    ``workers`` > 1 (a PostgreSQL store only: a DuckDB file has one writer) forks that many
    collector processes onto the one bound socket (the kernel spreads the connections), each
    behind the same head limits; the parent only waits and forwards SIGINT/SIGTERM."""
    sock = bind(config.host, config.port)
    try:
        if workers > 1:
            _serve_workers(config, sock, allow_no_auth, workers)
            return
        try:
            warehouse = open_writer(config.warehouse, config.memory_limit, config.threads)
        except WriterError as exc:
            raise UserError(warehouse_error(config.warehouse, exc)) from exc
        log = JsonLog()
        app = create_app(
            config,
            allow_no_auth=allow_no_auth,
            log=log,
            warehouse=warehouse,
            metrics=metrics,
            on_stored=on_stored,
        )
        run_server(uvicorn_config(app, config), sock, log, _ready(config, sock))
    finally:
        sock.close()


def _ready(config: CollectorConfig, sock: socket.socket, **extra: Any) -> dict[str, Any]:
    """The fields of the "collector ready" line: where it listens, what it stores into (a
    PostgreSQL URL with its password masked)."""
    host, port = sock.getsockname()[:2]
    address = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    return {
        "address": address,
        "warehouse": redact(config.warehouse),
        "auth": bool(config.tokens),
        **extra,
    }


def _worker(config: CollectorConfig, sock: socket.socket, allow_no_auth: bool, n: int) -> None:
    """One forked collector process: its own app, writer (pool) and event loop."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    log = JsonLog()
    app = create_app(config, allow_no_auth=allow_no_auth, log=log)
    run_server(uvicorn_config(app, config), sock, log, _ready(config, sock, worker=n))


def _serve_workers(
    config: CollectorConfig, sock: socket.socket, allow_no_auth: bool, workers: int
) -> None:
    # fork, not spawn: the children inherit the bound socket and the guarded protocol class
    # (a class made at run time, which spawn could not pickle).
    context = multiprocessing.get_context("fork")
    children = [
        context.Process(target=_worker, args=(config, sock, allow_no_auth, n), daemon=False)
        for n in range(workers)
    ]
    for child in children:
        child.start()

    def stop(signum: int, frame: object) -> None:
        for child in children:
            if child.is_alive() and child.pid is not None:
                os.kill(child.pid, signal.SIGTERM)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for child in children:
            child.join()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
