"""HTTP sink: POST ``{"events": [...]}`` to ``<base>/codex/analytics-events/events``.

The body is the envelopes' canonical bytes joined verbatim (no decode/re-encode), so what the
server receives is byte for byte what was sealed, and its hash is the event's id. Failures are
classified for the delivery worker: connection errors, timeouts, 408, 429 and 5xx may succeed
later (retryable, with the server's ``Retry-After`` surfaced); any other status is final and the
server's reason travels with the error into the spool's quarantine.

Extension (not on Codex's wire, ignored by servers that do not know it): an event that is a
byte-identical repeat inside one stream has an id with an ordinal mixed in (see
``events.envelope.Sealer``), which the body alone cannot convey. Such events' ids go in the
``X-Agentlytics-Event-Ids: <index>=<id>,...`` header so the collector stores each copy once.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import select
import ssl
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from agentlytics.events.envelope import Envelope, event_id_for
from agentlytics.protocol.ingest import IDS_HEADER, MAX_EXPLICIT_IDS, PATH
from agentlytics.sinks.base import SinkError

_RETRYABLE = frozenset({408, 429})


#: Repeats of one identical event searched for an envelope's ordinal (the Sealer numbers them).
MAX_ORDINAL_SEARCH = 100_000


def _ordinal_suffix(envelope: Envelope) -> str:
    """``/<n>`` when the envelope's id is the Sealer's id of the n-th repeat of its body: the
    collector recomputes the id from it (one hash, not a search) and rejects a mismatch."""
    for n in range(1, MAX_ORDINAL_SEARCH):
        if event_id_for(envelope.body, n) == envelope.event_id:
            return f"/{n}"
    return ""  # not a Sealer id: the collector rejects it, and the batch is quarantined


def endpoint_url(base: str) -> str:
    """``<base without trailing '/'>/codex/analytics-events/events`` (spec §2.1)."""
    base = base.rstrip("/")
    return base if base.endswith(PATH) else base + PATH


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP-date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def encode_batch(batch: Sequence[Envelope]) -> bytes:
    """``{"events":[<body>,<body>,...]}`` from the canonical bodies, without re-encoding."""
    return b'{"events":[' + b",".join([e.body for e in batch]) + b"]}"


def gzip_bytes(data: bytes, level: int = 1) -> bytes:
    # Level 1: JSON compresses ~8x even at the fastest level; higher levels cost CPU on the
    # delivery thread for a few percent of size.
    comp = zlib.compressobj(level, zlib.DEFLATED, 31)
    return comp.compress(data) + comp.flush()


class HttpSink:
    """Delivers batches over HTTP(S), on keep-alive connections of the standard library.

    Why ``http.client`` and not an HTTP client library (httpx): a POST here is one request with
    a ready body on a kept-alive connection, and httpx spent 1.1-2.7 ms of the client's CPU
    per request on its layers (measured against a local server, 30 KB bodies) where
    ``http.client`` spends 0.25-0.5 ms — CPU taken from the host process, whose GIL the
    delivery thread shares. Everything else a library would give is small and here: a pool,
    TLS, timeouts.

    ``concurrent``: ``write`` may run on several threads at once (each takes its own
    connection from the pool), which delivery uses to keep several requests in flight.
    """

    concurrent = True

    def __init__(
        self,
        base_url: str,
        *,
        token: str = "",
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        gzip: bool = True,
    ) -> None:
        self.url = endpoint_url(base_url)
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._target = parts.path + (f"?{parts.query}" if parts.query else "")
        # System CAs (OpenSSL's defaults: SSL_CERT_FILE / SSL_CERT_DIR are honoured), with
        # hostname checks; built once, shared by every connection.
        self._tls = ssl.create_default_context() if self._https else None
        base_headers = {"Content-Type": "application/json", "User-Agent": "agentlytics"}
        base_headers.update(headers or {})
        if token:
            base_headers["Authorization"] = f"Bearer {token}"
        if gzip:
            base_headers["Content-Encoding"] = "gzip"
        self._headers = base_headers
        self.gzip = gzip
        self.timeout = timeout
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._closed = False
        self.requests = 0

    def write(self, batch: Sequence[Envelope]) -> None:
        if not batch:
            return
        start = 0
        explicit: list[str] = []
        for i, env in enumerate(batch):
            if hashlib.sha256(env.body).hexdigest() != env.event_id:
                explicit.append(f"{i - start}={env.event_id}{_ordinal_suffix(env)}")
                if len(explicit) >= MAX_EXPLICIT_IDS:
                    self._post(batch[start : i + 1], explicit)
                    start, explicit = i + 1, []
        if start < len(batch):
            self._post(batch[start:], explicit)

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """An idle kept-alive connection the server has not closed, else a new one; and
        whether it was reused."""
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if _still_open(conn):
                    return conn, True
                conn.close()
        if self._tls is not None:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self.timeout, context=self._tls
            ), False
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout), False

    def _exchange(self, body: bytes, headers: dict[str, str]) -> tuple[int, str, str | None]:
        """One POST: (status, the first 2,000 characters of the answer, Retry-After).

        A kept-alive connection the server closed just as it was reused fails before any
        answer: that request is sent once more on a new connection (the server stores each
        event once, so a repeat can never store one twice)."""
        while True:
            conn, reused = self._connection()
            try:
                conn.request("POST", self._target, body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
            except TimeoutError as exc:
                conn.close()
                raise SinkError(f"timeout posting to {self.url}: {exc!r}", retryable=True) from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if reused and isinstance(exc, _STALE):
                    continue
                raise SinkError(f"cannot reach {self.url}: {exc!r}", retryable=True) from exc
            if response.will_close:
                conn.close()
            else:
                with self._lock:
                    if self._closed:
                        conn.close()
                    else:
                        self._idle.append(conn)
            text = answer[:8000].decode("utf-8", errors="replace")[:2000]
            return response.status, text, response.getheader("Retry-After")

    def _post(self, batch: Sequence[Envelope], explicit: list[str]) -> None:
        body = encode_batch(batch)
        if self.gzip:
            body = gzip_bytes(body)
        headers = dict(self._headers)
        if explicit:
            headers[IDS_HEADER] = ",".join(explicit)
        status, text, retry_after = self._exchange(body, headers)
        self.requests += 1  # a statistic; a lost increment between threads does not matter
        if 200 <= status < 300:
            return
        message = f"HTTP {status} from {self.url}: {text.strip()}"
        if status in _RETRYABLE or status >= 500:
            raise SinkError(
                message,
                retryable=True,
                retry_after=parse_retry_after(retry_after),
                status=status,
            )
        raise SinkError(message, retryable=False, split=status in (400, 413, 422), status=status)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


#: How a kept-alive connection the server already closed fails when it is used again.
_STALE = (
    http.client.RemoteDisconnected,
    http.client.BadStatusLine,
    ConnectionResetError,
    BrokenPipeError,
    ConnectionAbortedError,
)


def _still_open(conn: http.client.HTTPConnection) -> bool:
    """Whether an idle connection may be reused: nothing to read on it (a readable idle socket
    is the server's close, or junk), as httpcore checks before it reuses one."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable
