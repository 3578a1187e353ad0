"""HTTP sink failure classification against a real local server; configuration precedence."""

from __future__ import annotations

import gzip
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from agentlytics.config import ConfigError, load
from agentlytics.events.envelope import Envelope
from agentlytics.sinks.base import SinkError
from agentlytics.sinks.http import HttpSink, parse_retry_after

from ..collector_proc import Collector, free_port
from ..helpers import capture_path, replay_events, run_cli


class Scripted(BaseHTTPRequestHandler):
    """Answers each POST with the next scripted (status, headers, body); records requests."""

    script: ClassVar[list[tuple[int, dict[str, str], bytes]]] = []
    seen: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((self.path, dict(self.headers), body))
        status, headers, reply = self.script.pop(0)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Scripted.seen.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/base/"
    httpd.shutdown()


def _env(i: int) -> Envelope:
    import hashlib

    body = b'{"event_type":"t","event_params":{"i":%d}}' % i
    return Envelope(hashlib.sha256(body).hexdigest(), "t", body, None, None, False)


def test_request_shape_and_classification(server: str) -> None:
    sink = HttpSink(server, token="tok", headers={"originator": "me"}, timeout=5)
    batch = [_env(1), _env(2)]
    Scripted.script[:] = [
        (200, {}, b"{}"),
        (503, {"Retry-After": "7"}, b"busy"),
        (429, {"Retry-After": formatdate(usegmt=True)}, b"slow down"),
        (408, {}, b""),
        (400, {}, b'{"reason":"events[1] bad"}'),
        (403, {}, b"no"),
    ]
    sink.write(batch)
    path, headers, body = Scripted.seen[0]
    assert path == "/base/codex/analytics-events/events"
    assert headers["Authorization"] == "Bearer tok" and headers["originator"] == "me"
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == b'{"events":[' + batch[0].body + b"," + batch[1].body + b"]}"
    outcomes = []
    for _ in range(5):
        with pytest.raises(SinkError) as info:
            sink.write(batch)
        e = info.value
        outcomes.append((e.status, e.retryable, e.split, e.retry_after is not None))
    assert outcomes == [
        (503, True, False, True),
        (429, True, False, True),
        (408, True, False, False),
        (400, False, True, False),
        (403, False, False, False),
    ]
    sink.close()


def test_connection_refused_is_retryable() -> None:
    sink = HttpSink(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(SinkError) as info:
        sink.write([_env(1)])
    assert info.value.retryable


def test_retry_after_forms() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_config_file_then_env(tmp_path: Path) -> None:
    file = tmp_path / "a.toml"
    file.write_text(
        '[delivery]\nendpoint = "http://file"\nqueue_size = 7\n'
        '[collector]\ntokens = ["a"]\nport = 9\n'
    )
    cfg = load(file, {})
    assert (cfg.delivery.endpoint, cfg.delivery.queue_size, cfg.collector.tokens) == (
        "http://file", 7, ["a"],
    )  # fmt: skip
    env = {
        "AGENTLYTICS_ENDPOINT": "http://env",
        "AGENTLYTICS_COLLECTOR_TOKENS": "x, y",
        "AGENTLYTICS_GZIP": "false",
        "AGENTLYTICS_HEADERS": "originator: me; X-A: b",
        "AGENTLYTICS_CONFIG": str(file),
    }
    cfg = load(None, env)
    assert cfg.delivery.endpoint == "http://env" and cfg.delivery.queue_size == 7
    assert cfg.collector.tokens == ["x", "y"] and cfg.delivery.gzip is False
    assert cfg.delivery.headers == {"originator": "me", "X-A": "b"}
    with pytest.raises(ConfigError, match="queue_size"):
        load(None, {"AGENTLYTICS_QUEUE_SIZE": "many"})
    file.write_text('[delivery]\nfull_policy = "explode"\n')
    with pytest.raises(ConfigError, match="full_policy"):
        load(file, {})


def test_replay_send_delivers_every_event_once(tmp_path: Path) -> None:
    collector = Collector(tmp_path).start()
    captures = [capture_path(n) for n in ("shell_accept", "hooks", "two_threads")]
    try:
        for _ in range(2):  # a second send stores nothing new
            out = run_cli(
                "replay", "--send", collector.url, "--token", "test-token-s3cret",
                *map(str, captures), cwd=tmp_path,
            )  # fmt: skip
            assert "0 quarantined" in " ".join(out.stderr.split())
        bad = run_cli(
            "replay", "--send", collector.url, "--token", "nope", str(captures[0]),
            cwd=tmp_path, check=False,
        )  # fmt: skip
        assert bad.returncode == 1 and "403" in bad.stderr
    finally:
        collector.stop()
    rows = collector.rows()
    assert len(rows) == len({r[0] for r in rows}) == len(replay_events(*captures))


class KeepAlive(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; records each request's client port; closes the connection
    after a request (no ``Connection: close`` said) when ``close_next`` is set."""

    protocol_version = "HTTP/1.1"
    ports: ClassVar[list[int]] = []
    close_next: ClassVar[list[bool]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.ports.append(self.client_address[1])
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
        if self.close_next and self.close_next.pop(0):
            self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


def _serve(httpd: ThreadingHTTPServer) -> Iterator[ThreadingHTTPServer]:
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_connections_are_kept_alive_and_a_closed_idle_one_is_replaced() -> None:
    KeepAlive.ports.clear()
    KeepAlive.close_next[:] = [False, True, False]
    for httpd in _serve(ThreadingHTTPServer(("127.0.0.1", 0), KeepAlive)):
        sink = HttpSink(f"http://127.0.0.1:{httpd.server_address[1]}", timeout=5)
        sink.write([_env(1)])
        sink.write([_env(2)])  # the server closes this connection after answering
        time.sleep(0.2)
        sink.write([_env(3)])  # no error: the closed idle connection is not reused
        sink.close()
    first, second, third = KeepAlive.ports
    assert first == second != third
    assert sink.requests == 3


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_https_verifies_the_server_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TLS for https URLs: a server whose certificate the client trusts (here through
    SSL_CERT_FILE, OpenSSL's own variable) is delivered to; an untrusted one is a retryable
    failure, never a silent plaintext or unverified send."""
    cert, key = _self_signed(tmp_path)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), KeepAlive)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    KeepAlive.ports.clear()
    KeepAlive.close_next.clear()
    for served in _serve(httpd):
        url = f"https://127.0.0.1:{served.server_address[1]}"
        untrusted = HttpSink(url, timeout=5)
        with pytest.raises(SinkError) as info:
            untrusted.write([_env(1)])
        assert info.value.retryable and "CERTIFICATE_VERIFY_FAILED" in str(info.value)
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        trusted = HttpSink(url, timeout=5)
        trusted.write([_env(1)])
        trusted.write([_env(2)])
        trusted.close()
    assert len(KeepAlive.ports) == 2 and KeepAlive.ports[0] == KeepAlive.ports[1]
