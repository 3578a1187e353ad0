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
import time
import zlib
from collections.abc import Mapping, Sequence

import httpx

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
    """Delivers batches over HTTP(S) with httpx (one pooled keep-alive client).

    ``concurrent``: ``write`` may run on several threads at once (httpx's client is thread-safe),
    which delivery uses to keep several requests in flight.
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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = endpoint_url(base_url)
        base_headers = {"Content-Type": "application/json"}
        base_headers.update(headers or {})
        if token:
            base_headers["Authorization"] = f"Bearer {token}"
        if gzip:
            base_headers["Content-Encoding"] = "gzip"
        self.gzip = gzip
        self.client = httpx.Client(
            headers=base_headers, timeout=timeout, transport=transport, trust_env=False
        )
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

    def _post(self, batch: Sequence[Envelope], explicit: list[str]) -> None:
        body = encode_batch(batch)
        if self.gzip:
            body = gzip_bytes(body)
        headers = {IDS_HEADER: ",".join(explicit)} if explicit else None
        try:
            response = self.client.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise SinkError(f"timeout posting to {self.url}: {exc!r}", retryable=True) from exc
        except httpx.TransportError as exc:
            raise SinkError(f"cannot reach {self.url}: {exc!r}", retryable=True) from exc
        self.requests += 1  # a statistic; a lost increment between threads does not matter
        status = response.status_code
        if 200 <= status < 300:
            return
        reason = response.text[:2000].strip()
        message = f"HTTP {status} from {self.url}: {reason}"
        if status in _RETRYABLE or status >= 500:
            raise SinkError(
                message,
                retryable=True,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                status=status,
            )
        raise SinkError(message, retryable=False, split=status in (400, 413, 422), status=status)

    def close(self) -> None:
        self.client.close()
