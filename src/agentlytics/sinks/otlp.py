"""OTLP sink: every event as an OpenTelemetry log record, plus derived metrics, over OTLP/HTTP.

Records and metrics are built with the OpenTelemetry SDK (``LogRecord``, ``Resource``,
``MeterProvider``) and serialized by its OTLP protobuf encoders (``encode_logs``,
``encode_metrics``: the bytes the SDK's own exporter sends). The request itself is sent here,
with httpx, rather than by the SDK's ``OTLPLogExporter``: that exporter folds every failure
into one ``FAILURE`` result (a 503 and a 400 look alike, ``Retry-After`` is lost) after
retrying on its own for up to its timeout, and delivery needs the difference — a retryable
failure keeps the batch in the spool, a final one quarantines it (``SinkError``).

Failures follow the OTLP/HTTP specification: connection errors, timeouts, 429, 502, 503 and
504 are retryable (with the server's ``Retry-After``); other statuses are final, 400 and 413
bisected so only the offending events are quarantined. A 2xx with ``partial_success`` (records
the receiver rejected for good) is counted in ``rejected``, not retried (the spec forbids it).

A final error on the metrics request (a logs-only receiver answers 404) does not quarantine a
batch whose log records were accepted: it is counted in ``metric_errors`` and reported.

At-least-once, as every sink: OTLP receivers do not de-duplicate, so each record carries
``agentlytics.event_id``. Within one process the sink remembers the last ``remember`` event ids
it exported, so a batch retried after its logs went through but its metrics did not sends only
the metrics again, and an event is measured once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import httpx
import msgspec

from agentlytics.events.envelope import Envelope
from agentlytics.otel.mapping import ExportedEvent, export_event
from agentlytics.sinks.base import SinkError
from agentlytics.sinks.http import gzip_bytes, parse_retry_after

if TYPE_CHECKING:
    from agentlytics.query.pricing import PriceTable

Compression = Literal["gzip", "none"]
#: OTLP/HTTP: "429, 502, 503, 504 are retryable"; every other status is final.
_RETRYABLE = frozenset({429, 502, 503, 504})
_SPLIT = frozenset({400, 413})


def signal_url(endpoint: str, signal: str) -> str:
    """``<endpoint>/v1/<signal>``, as OTLP/HTTP derives per-signal URLs from a base URL."""
    base = endpoint.rstrip("/")
    for known in ("/v1/logs", "/v1/metrics"):
        if base.endswith(known):
            base = base[: -len(known)]
    return f"{base}/v1/{signal}"


class _RecentIds:
    """The last ``size`` ids seen (insertion order; the oldest are forgotten)."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)


class OtlpSink:
    """Exports batches to an OTLP/HTTP endpoint (``/v1/logs`` and ``/v1/metrics``).

    One request at a time (no ``concurrent`` attribute): the metric totals are one state.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        headers: Mapping[str, str] | None = None,
        compression: Compression = "gzip",
        timeout: float = 10.0,
        service_name: str = "agentlytics",
        logs: bool = True,
        metrics: bool = True,
        remember: int = 20_000,
        prices: PriceTable | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``prices`` (default: the bundled price table) prices turns for ``codex.cost.usd``;
        ``remember``: how many exported ids are kept to skip repeats (a retried batch, a
        collector's client resending one it already stored) — a batch is at most a few
        hundred events, and a repeat comes soon after the original."""
        if compression not in ("gzip", "none"):
            raise ValueError(f"compression must be gzip or none, not {compression!r}")
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        from agentlytics.otel.metrics import DerivedMetrics
        from agentlytics.version import __version__

        self.logs_url = signal_url(endpoint, "logs")
        self.metrics_url = signal_url(endpoint, "metrics")
        base_headers = {"Content-Type": "application/x-protobuf"}
        base_headers.update(headers or {})
        if compression == "gzip":
            base_headers["Content-Encoding"] = "gzip"
        self.gzip = compression == "gzip"
        self.client = httpx.Client(
            headers=base_headers, timeout=timeout, transport=transport, trust_env=False
        )
        self.service_name = service_name
        self.logs = logs
        if metrics and prices is None:
            from agentlytics.query.pricing import bundled

            prices = bundled()
        self.metrics = DerivedMetrics(prices) if metrics else None
        self._scope = InstrumentationScope("agentlytics", __version__)
        self._resources: dict[tuple[tuple[str, Any], ...], Any] = {}
        self._logged = _RecentIds(remember)
        self._measured = _RecentIds(remember)
        self._lock = threading.Lock()
        # statistics
        self.records = 0
        self.requests = 0
        self.metric_requests = 0
        self.redacted = 0
        self.rejected = 0
        self.last_rejection: str | None = None
        self.metric_errors = 0
        self.last_metric_error: str | None = None

    # -- building --------------------------------------------------------------------------------

    def _resource(self, attributes: tuple[tuple[str, Any], ...]) -> Any:
        resource = self._resources.get(attributes)
        if resource is None:
            from opentelemetry.sdk.resources import SERVICE_NAME, Resource

            # Resource.create adds telemetry.sdk.* and OTEL_RESOURCE_ATTRIBUTES; ours win.
            resource = Resource.create({SERVICE_NAME: self.service_name, **dict(attributes)})
            self._resources[attributes] = resource
        return resource

    def _log_record(self, exported: ExportedEvent, observed_ns: int) -> Any:
        from opentelemetry._logs import LogRecord, SeverityNumber
        from opentelemetry.sdk._logs import ReadableLogRecord

        record = LogRecord(
            timestamp=exported.time_unix_nano or None,
            observed_timestamp=observed_ns,
            severity_text="INFO",
            severity_number=SeverityNumber.INFO,
            body=exported.event_name,
            attributes=exported.attributes,
            event_name=exported.event_name,
        )
        return ReadableLogRecord(
            log_record=record,
            resource=self._resource(exported.resource),
            instrumentation_scope=self._scope,
        )

    # -- writing ---------------------------------------------------------------------------------

    def write(self, batch: Sequence[Envelope]) -> None:
        if not batch:
            return
        with self._lock:
            # Each event decoded and mapped once, and only if some signal still needs it.
            decoded = []
            for env in batch:
                if (self.logs and env.event_id not in self._logged) or (
                    self.metrics is not None and env.event_id not in self._measured
                ):
                    event = msgspec.json.decode(env.body)
                    decoded.append((env, event, export_event(event, env.event_id)))
            if self.logs:
                self._write_logs(decoded)
            if self.metrics is not None:
                self._write_metrics(decoded)

    def _write_logs(self, decoded: list[tuple[Envelope, Any, ExportedEvent]]) -> None:
        from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
            ExportLogsServiceResponse,
        )

        todo = [(env, ex) for env, _, ex in decoded if env.event_id not in self._logged]
        if not todo:
            return
        observed = time.time_ns()
        exported = [ex for _, ex in todo]
        request = encode_logs([self._log_record(e, observed) for e in exported])
        response = self._post(self.logs_url, request.SerializeToString())
        self.requests += 1
        rejected = _partial_success(response, ExportLogsServiceResponse(), "rejected_log_records")
        if rejected:
            self.rejected += rejected[0]
            self.last_rejection = rejected[1]
        for env, _ in todo:
            self._logged.add(env.event_id)
        self.records += len(todo)
        self.redacted += sum(len(e.redacted) for e in exported)

    def _write_metrics(self, decoded: list[tuple[Envelope, Any, ExportedEvent]]) -> None:
        from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
            ExportMetricsServiceResponse,
        )

        metrics = self.metrics
        assert metrics is not None
        for env, event, exported in decoded:
            if env.event_id in self._measured:
                continue
            params = event.get("event_params") if isinstance(event, dict) else None
            if isinstance(params, dict):
                resource = self._resource(exported.resource)
                metrics.record(resource, exported.event_name, params)
            self._measured.add(env.event_id)
        if not metrics.dirty:
            return
        data = metrics.collect()
        if data is None:
            return
        try:
            response = self._post(self.metrics_url, encode_metrics(data).SerializeToString())
        except SinkError as exc:
            # Retryable: the batch stays spooled and the totals go again. Final (a receiver
            # without metrics answers 404): the batch's records were delivered, so it is not
            # quarantined for its derived metrics; the refusal is counted and reported, and the
            # totals (cumulative: nothing is lost) are offered again with the next batch.
            if exc.retryable or not self.logs:
                raise
            self.metric_errors += 1
            self.last_metric_error = str(exc)
            return
        self.metric_requests += 1
        metrics.dirty = False
        rejected = _partial_success(
            response, ExportMetricsServiceResponse(), "rejected_data_points"
        )
        if rejected:
            self.last_rejection = rejected[1]

    def _post(self, url: str, body: bytes) -> httpx.Response:
        if self.gzip:
            body = gzip_bytes(body)
        try:
            response = self.client.post(url, content=body)
        except httpx.TimeoutException as exc:
            raise SinkError(f"timeout posting to {url}: {exc!r}", retryable=True) from exc
        except httpx.TransportError as exc:
            raise SinkError(f"cannot reach {url}: {exc!r}", retryable=True) from exc
        status = response.status_code
        if 200 <= status < 300:
            return response
        reason = _reason(response)
        message = f"HTTP {status} from {url}: {reason}"
        if status in _RETRYABLE:
            raise SinkError(
                message,
                retryable=True,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                status=status,
            )
        raise SinkError(message, retryable=False, split=status in _SPLIT, status=status)

    def close(self) -> None:
        self.client.close()
        if self.metrics is not None:
            self.metrics.shutdown()


def _reason(response: httpx.Response) -> str:
    """The error text of a response: a JSON/text body as is, a protobuf ``Status`` as its
    printable message (no protobuf decoding of google.rpc.Status needed for a log line)."""
    content = response.content[:2000]
    text = content.decode("utf-8", errors="replace")
    return "".join(ch for ch in text if ch.isprintable()).strip()


def _partial_success(response: httpx.Response, message: Any, field: str) -> tuple[int, str] | None:
    """``(rejected count, error message)`` from a 2xx OTLP response's ``partial_success``."""
    if not response.content:
        return None
    try:
        message.ParseFromString(response.content)
    except Exception:  # a JSON or empty body from a lenient receiver: nothing to count
        return None
    if not message.HasField("partial_success"):
        return None
    partial = message.partial_success
    count = int(getattr(partial, field))
    if not count and not partial.error_message:
        return None
    return count, str(partial.error_message)
