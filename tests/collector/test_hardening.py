"""The collector under abuse (issue 20, defects 8 and 9), with each of uvicorn's HTTP parsers.

A real uvicorn server on 127.0.0.1 runs the collector app behind the same configuration as
``agentlytics collect`` (``serve.uvicorn_config``), once with httptools and once with h11; raw
sockets play the abusive clients. Limits are small so the tests are quick; the answers must be
byte-identical whichever parser runs.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentlytics.collector.app import JsonLog, create_app
from agentlytics.collector.serve import uvicorn_config
from agentlytics.config import CollectorConfig
from agentlytics.events.envelope import Envelope, event_id_for
from agentlytics.protocol.ingest import IDS_HEADER, PATH
from agentlytics.sinks.http import encode_batch

from ..collector_proc import TOKEN, free_port
from ..streams import expected, flat_facts

AUTH = {"Authorization": f"Bearer {TOKEN}"}
PARSERS = ["httptools", "h11"]


class Served:
    def __init__(self, url: str, port: int, log: io.StringIO, warehouse: Path) -> None:
        self.url, self.port, self.log, self.warehouse = url, port, log, warehouse

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.getvalue().splitlines()]


@pytest.fixture(scope="module", params=PARSERS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    import uvicorn

    port = free_port()
    warehouse = tmp_path_factory.mktemp(f"hardening-{request.param}") / "c.duckdb"
    config = CollectorConfig(
        port=port,
        warehouse=str(warehouse),
        tokens=[TOKEN],
        max_header_bytes=8 * 1024,
        max_headers=20,
        header_timeout=1.0,
        body_timeout=1.0,
        max_connections=8,
    )
    log = io.StringIO()
    app = create_app(config, log=JsonLog(log))
    server = uvicorn.Server(uvicorn_config(app, config, http=request.param))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield Served(f"http://127.0.0.1:{port}", port, log, warehouse)
    server.should_exit = True
    thread.join(30)


#: What each parser answered, per test, to compare them byte for byte.
ANSWERS: dict[str, dict[str, bytes]] = {}


def _remember(served: Served, name: str, answer: bytes) -> None:
    ANSWERS.setdefault(name, {})[served.url] = answer
    assert len(set(ANSWERS[name].values())) == 1, ANSWERS[name]  # the same with either parser


def _connect(served: Served) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _head(extra: bytes = b"", length: int = 0) -> bytes:
    return (
        b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n" % length
    ) + extra


def _healthy(served: Served) -> None:
    assert httpx.get(served.url + "/healthz", timeout=5).json() == {"status": "ok"}


def test_a_never_ending_header_is_cut_at_the_limit(served: Served) -> None:
    sock = _connect(served)
    sock.sendall(_head(b"X-Big: "))
    sent = 0
    try:
        while sent < 4 * 1024 * 1024:  # the limit is 8 KiB: the server hangs up long before
            sock.sendall(b"a" * 65536)
            sent += 65536
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = _read_all(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), answer[:200]
    assert sent < 4 * 1024 * 1024 or answer
    _remember(served, "long header", answer)
    _healthy(served)


def test_too_many_headers(served: Served) -> None:
    sock = _connect(served)
    sock.sendall(_head(b"".join(b"X-H%d: v\r\n" % i for i in range(30)) + b"\r\n"))
    answer = _read_all(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["error"] == "header_too_large"
    _remember(served, "many headers", answer)


def test_a_slow_header_times_out_and_an_idle_connection_is_closed(served: Served) -> None:
    slow, idle = _connect(served), _connect(served)
    slow.sendall(b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n")
    start = time.monotonic()
    answer = _read_all(slow)
    took = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer[:200]
    assert 0.5 < took < 5
    assert _read_all(idle) == b""  # sent nothing: closed without an answer
    slow.close()
    idle.close()
    _remember(served, "slow header", answer)


def test_a_slow_body_times_out(served: Served) -> None:
    sock = _connect(served)
    sock.sendall(_head(b"\r\n", length=100) + b'{"events": [')
    answer = _read_all(sock)
    sock.close()
    assert b" 408 " in answer.split(b"\r\n", 1)[0], answer[:200]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"] == "timeout"


def test_connections_beyond_the_cap_are_closed_at_once(served: Served) -> None:
    held = [_connect(served) for _ in range(8)]
    time.sleep(0.2)
    extra = _connect(served)
    extra.settimeout(0.5)
    start = time.monotonic()
    assert _read_all(extra) == b""
    assert time.monotonic() - start < 0.5
    for sock in [*held, extra]:
        sock.close()
    time.sleep(0.2)
    _healthy(served)


@pytest.fixture(scope="module")
def events() -> list[Envelope]:
    return expected(flat_facts(10, seed=20))


def post(served: Served, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(served.url + PATH, content=body, headers={**AUTH, **(headers or {})})


def test_a_forged_event_id_is_rejected(served: Served, events: list[Envelope]) -> None:
    """Defect 9: any token holder could store any body under an id of its choice."""
    real, other = events[0], events[1]
    body = encode_batch([other])
    forged = post(served, body, {IDS_HEADER: f"0={real.event_id}"})
    assert forged.status_code == 400
    assert "is not an id of that event" in forged.json()["reason"]
    # The real event is then stored under its own id.
    assert post(served, encode_batch([real])).json() == {"accepted": 1, "stored": 1}
    # The ordinal form the Sealer makes is accepted, with or without the ordinal named.
    twice = b'{"events":[' + other.body + b"," + other.body + b"]}"
    second = event_id_for(other.body, 1)
    assert post(served, twice, {IDS_HEADER: f"1={second}/1"}).json()["stored"] == 2
    assert post(served, twice, {IDS_HEADER: f"1={second}"}).json()["stored"] == 0
    wrong_ordinal = post(served, twice, {IDS_HEADER: f"1={second}/2"})
    assert wrong_ordinal.status_code == 400


def test_ids_come_from_the_canonical_json(served: Served, events: list[Envelope]) -> None:
    event = events[2]
    spaced = json.dumps({"events": [json.loads(event.body)]}, indent=2).encode()
    assert post(served, spaced).json() == {"accepted": 1, "stored": 1}
    # The canonical bytes (what a sink sends) are the same event: nothing new.
    assert post(served, encode_batch([event])).json() == {"accepted": 1, "stored": 0}
    assert hashlib.sha256(event.body).hexdigest() == event.event_id


def test_trailing_bytes_are_rejected(served: Served, events: list[Envelope]) -> None:
    body = encode_batch([events[3]])
    gz = {"Content-Encoding": "gzip"}
    for bad, headers in [
        (gzip.compress(body) + b"garbage", gz),
        (gzip.compress(body) + gzip.compress(body), gz),
        (body + b"garbage", {}),
    ]:
        response = post(served, bad, headers)
        assert response.status_code == 400, response.text
    assert post(served, gzip.compress(body), gz).json() == {"accepted": 1, "stored": 1}


def test_deep_json_is_a_400_not_a_retryable_503(served: Served, events: list[Envelope]) -> None:
    """Defect 5: the collector answered a 2 KB body nested 1,000 deep with 503."""
    params = json.loads(events[4].body)
    for depth in (200, 1_000, 100_000):
        deep = b"[" * depth + b"]" * depth
        event = (
            json.dumps(params)
            .encode()
            .replace(b'"thread_id":', b'"x": ' + deep + b', "thread_id":')
        )
        response = post(served, b'{"events": [' + event + b"]}")
        assert response.status_code == 400, response.text
        assert "nested deeper" in response.json()["reason"]
    assert not [line for line in served.lines() if line.get("level") == "error"]


def test_a_client_gone_mid_body_is_not_a_storage_failure(served: Served) -> None:
    sock = _connect(served)
    sock.sendall(_head(b"\r\n", length=10_000) + b'{"events": [')
    time.sleep(0.2)
    sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        gone = [line for line in served.lines() if line.get("msg", "").startswith("client disc")]
        if gone:
            break
        time.sleep(0.05)
    assert gone and gone[0]["level"] == "info"
    assert not [line for line in served.lines() if line.get("msg") == "storage failed"]
    _healthy(served)
