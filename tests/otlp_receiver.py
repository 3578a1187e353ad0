"""A real OTLP/HTTP receiver for tests: an HTTP server on 127.0.0.1 decoding protobuf bodies.

It accepts ``POST /v1/logs`` and ``POST /v1/metrics`` (gzip or not), decodes each body with
``opentelemetry-proto`` and keeps the decoded requests. ``fail_next`` makes the next requests
answer with an error status instead (and store nothing), to exercise retries.
"""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def any_value(value: AnyValue) -> Any:
    """A protobuf ``AnyValue`` as plain Python data."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in kvs}


class Receiver:
    """Start/stop an OTLP/HTTP receiver; decoded requests survive a restart on the same port."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.logs: list[ExportLogsServiceRequest] = []
        self.metrics: list[ExportMetricsServiceRequest] = []
        self.statuses: list[tuple[str, int]] = []
        self.headers: list[dict[str, str]] = []
        self._fail: list[tuple[int, str | None]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, count: int, status: int = 503, path: str | None = None) -> None:
        """Answer the next ``count`` requests (to ``path`` only, if given) with ``status``."""
        with self._lock:
            self._fail.extend([(status, path)] * count)

    def _status_for(self, path: str) -> int:
        for i, (status, only) in enumerate(self._fail):
            if only is None or only == path:
                del self._fail[i]
                return status
        return 200

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                with receiver._lock:
                    receiver.headers.append(dict(self.headers.items()))
                    status = receiver._status_for(self.path)
                    receiver.statuses.append((self.path, status))
                if status != 200:
                    self.send_response(status)
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "11")
                    self.end_headers()
                    self.wfile.write(b"unavailable")
                    return
                if self.path == "/v1/logs":
                    logs = ExportLogsServiceRequest()
                    logs.ParseFromString(body)
                    with receiver._lock:
                        receiver.logs.append(logs)
                    answer = ExportLogsServiceResponse().SerializeToString()
                elif self.path == "/v1/metrics":
                    metrics = ExportMetricsServiceRequest()
                    metrics.ParseFromString(body)
                    with receiver._lock:
                        receiver.metrics.append(metrics)
                    answer = ExportMetricsServiceResponse().SerializeToString()
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> Receiver:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- decoded views ---------------------------------------------------------------------------

    def records(self) -> list[dict[str, Any]]:
        """Every received log record: name, times, attributes, resource, body."""
        out = []
        with self._lock:
            requests = list(self.logs)
        for request in requests:
            for resource_logs in request.resource_logs:
                resource = attributes(resource_logs.resource.attributes)
                for scope_logs in resource_logs.scope_logs:
                    for record in scope_logs.log_records:
                        out.append(
                            {
                                "event_name": record.event_name,
                                "time_unix_nano": record.time_unix_nano,
                                "observed_time_unix_nano": record.observed_time_unix_nano,
                                "severity_number": record.severity_number,
                                "body": any_value(record.body),
                                "attributes": attributes(record.attributes),
                                "resource": resource,
                                "scope": scope_logs.scope.name,
                            }
                        )
        return out

    def last_metrics(self) -> dict[tuple[str, tuple[tuple[str, Any], ...]], dict[str, Any]]:
        """The latest point of every series: (metric, sorted attributes incl. resource) → point.

        Points are cumulative, so the latest one is the total.
        """
        with self._lock:
            requests = list(self.metrics)
        latest: dict[tuple[str, tuple[tuple[str, Any], ...]], dict[str, Any]] = {}
        for request in requests:
            for resource_metrics in request.resource_metrics:
                resource = attributes(resource_metrics.resource.attributes)
                for scope_metrics in resource_metrics.scope_metrics:
                    for metric in scope_metrics.metrics:
                        kind = metric.WhichOneof("data")
                        data = getattr(metric, kind)
                        for point in data.data_points:
                            attrs = attributes(point.attributes)
                            entry: dict[str, Any] = {
                                "kind": kind,
                                "unit": metric.unit,
                                "time": point.time_unix_nano,
                                "resource": resource,
                                "temporality": data.aggregation_temporality,
                            }
                            if kind == "sum":
                                entry["value"] = (
                                    point.as_int
                                    if point.WhichOneof("value") == "as_int"
                                    else point.as_double
                                )
                                entry["monotonic"] = data.is_monotonic
                            else:
                                entry["count"] = point.count
                                entry["sum"] = point.sum
                                entry["bucket_counts"] = list(point.bucket_counts)
                            key = (metric.name, tuple(sorted({**attrs, **_res(resource)}.items())))
                            previous = latest.get(key)
                            if previous is None or previous["time"] <= entry["time"]:
                                latest[key] = entry
        return latest


def totals(receiver: Receiver) -> dict[tuple[str, frozenset[tuple[str, Any]]], Any]:
    """Every metric's total per point attributes, summed over resources: a counter's value,
    a histogram's ``(count, sum)``."""
    out: dict[tuple[str, frozenset[tuple[str, Any]]], Any] = {}
    for (name, attrs), point in receiver.last_metrics().items():
        key = (name, frozenset((k, v) for k, v in attrs if not k.startswith("resource.")))
        if point["kind"] == "sum":
            out[key] = out.get(key, 0) + point["value"]
        else:
            count, total = out.get(key, (0, 0.0))
            out[key] = (count + point["count"], total + point["sum"])
    return out


def _res(resource: dict[str, Any]) -> dict[str, Any]:
    """Resource attributes that tell series apart (the client and runtime)."""
    return {f"resource.{k}": v for k, v in resource.items() if k.startswith("codex.")}
