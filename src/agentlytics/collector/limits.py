"""Connection-level limits for the collector, the same whichever HTTP parser uvicorn runs.

uvicorn bounds neither the time a client may take to send a request head nor, with httptools
(its faster parser, picked when installed), the head's size: one unauthenticated connection
sending a never-ending header grew the collector by its size, and thousands of slow-header
connections were held open indefinitely. :func:`guarded` wraps either protocol class so that,
before the parser sees them, the bytes of each request head are counted and timed:

* a head longer than ``max_header_bytes`` or with more than ``max_headers`` lines is answered
  ``431`` and the connection closed;
* a head not complete ``header_timeout`` seconds after the connection opened (or after its
  first byte, for the next request on a kept-alive connection) is answered ``408`` and closed;
  a connection that sent nothing is closed without an answer;
* a connection beyond ``max_connections`` open ones is closed at once.

The body is the app's business (size caps and a read timeout in ``app.py``), as is everything
after the head. The answers are written here, not by the parser, so they are byte-identical
with h11 and httptools.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import msgspec

HttpParser = Literal["auto", "h11", "httptools"]

_encode = msgspec.json.Encoder().encode


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """What one connection may do while sending a request head."""

    max_header_bytes: int = 64 * 1024
    max_headers: int = 100
    header_timeout: float = 10.0
    max_connections: int = 500


def _answer(status: int, phrase: str, error: str, reason: str) -> bytes:
    body = _encode({"error": error, "reason": reason})
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\nconnection: close\r\n"
        b"content-length: %d\r\n\r\n" % (status, phrase.encode(), len(body))
    ) + body


def protocol_class(kind: HttpParser) -> type[asyncio.Protocol]:
    """uvicorn's protocol class for ``kind`` (``auto``: httptools when importable)."""
    if kind in ("auto", "httptools"):
        try:
            from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

            return HttpToolsProtocol
        except ImportError:
            if kind == "httptools":
                raise
    from uvicorn.protocols.http.h11_impl import H11Protocol

    return H11Protocol


def guarded(base: type[Any], limits: Limits) -> type[asyncio.Protocol]:
    """``base`` (a uvicorn HTTP protocol class) with the head limits of ``limits``."""

    too_large = _answer(
        431,
        "Request Header Fields Too Large",
        "header_too_large",
        f"request head exceeds {limits.max_header_bytes} bytes or {limits.max_headers} headers",
    )
    timed_out = _answer(
        408,
        "Request Timeout",
        "timeout",
        f"request head not received within {limits.header_timeout:g} s",
    )

    class Guarded(base):  # type: ignore[misc]
        _in_head = True
        _head_bytes = 0
        _head_lines = 0
        _tail = b""
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                transport.abort()
                return
            self._start_head()

        def _start_head(self) -> None:
            self._in_head = True
            self._head_bytes = self._head_lines = 0
            self._tail = b""
            self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(limits.header_timeout, self._head_expired)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_expired(self) -> None:
            self._head_timer = None
            if self._in_head and not self.transport.is_closing():
                if self._head_bytes:
                    self.transport.write(timed_out)
                self.transport.close()

        def _refuse(self, answer: bytes) -> None:
            self._disarm()
            self._in_head = False
            self.transport.write(answer)
            self.transport.close()

        def data_received(self, data: bytes) -> None:
            if self.transport.is_closing():
                return
            if self._in_head:
                if not self._head_bytes and self._head_timer is None:
                    self._arm()  # the first byte of the next request on a kept-alive connection
                window = self._tail + data
                ends = [i for i in (window.find(b"\r\n\r\n"), window.find(b"\n\n")) if i >= 0]
                if ends:
                    end = min(ends) + (4 if window[min(ends)] == 13 else 2)
                    head = window[len(self._tail) : end] if end > len(self._tail) else b""
                else:
                    head = data
                self._head_bytes += len(head)
                self._head_lines += head.count(b"\n")
                if (
                    self._head_bytes > limits.max_header_bytes
                    or self._head_lines > limits.max_headers + 2  # request line, blank line
                ):
                    self._refuse(too_large)
                    return
                if ends:
                    self._in_head = False
                    self._disarm()
                else:
                    self._tail = window[-3:]
            super().data_received(data)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._in_head = True
                self._head_bytes = self._head_lines = 0
                self._tail = b""  # the head timer starts with the next request's first byte

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    Guarded.__name__ = Guarded.__qualname__ = f"Guarded{base.__name__}"
    return Guarded


class TooLarge(Exception):
    """A request body over a size limit (413)."""


class BodyTimeout(Exception):
    """The body did not arrive in time (408)."""


async def read_body(request: Any, limit: int, timeout: float) -> bytes:
    """The request body, at most ``limit`` bytes, within ``timeout`` seconds of the head."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"request body of {declared} bytes exceeds the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"request body exceeds the limit of {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise BodyTimeout(f"request body not received within {timeout:g} s") from None
    return b"".join(chunks)
