"""Running the collector: bind, open the warehouse, then say where it listens.

Both things that can fail at start — the address and the warehouse — are tried before
uvicorn runs, so a failure is one line saying what to do (``UserError``), and "collector
ready" is printed only once the socket is bound and the warehouse open, with its address.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any

from agentlytics.config import CollectorConfig
from agentlytics.errors import UserError, os_reason, warehouse_error
from agentlytics.events.envelope import Envelope

from .app import JsonLog, create_app
from .limits import HttpParser, Limits, guarded, protocol_class
from .metrics import CollectorMetrics
from .writer import WarehouseProcess, WriterError


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
) -> None:
    """Run the collector until interrupted (SIGINT/SIGTERM shut it down cleanly).

    ``metrics`` and ``on_stored`` are handed to :func:`create_app` (``collect --otlp``)."""
    sock = bind(config.host, config.port)
    try:
        try:
            warehouse = WarehouseProcess(config.warehouse)
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
        host, port = sock.getsockname()[:2]
        address = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        ready = {"address": address, "warehouse": config.warehouse, "auth": bool(config.tokens)}
        run_server(uvicorn_config(app, config), sock, log, ready)
    finally:
        sock.close()
