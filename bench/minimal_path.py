"""The minimal hand-built delivery path issue 14's P3 target compares end to end against.

The same sealed events, the same request shapes (batches of up to 500 events / 1 MiB, each
fingerprint chunk in a request of its own), and only the work no delivery can avoid:
msgspec encode → gzip → one keep-alive ``http.client`` POST per batch → gunzip → msgspec decode
→ DuckDB Arrow insert into the warehouse's ``events`` table (its schema, primary key included;
the typed family tables are left out: they are this project's choice, not unavoidable). No
reducer, spool, retries, validation, auth, or queue between threads.

The server half runs in its own process: ``python bench/minimal_path.py serve DB`` prints its
port, and stores every POST until it is terminated.
"""

from __future__ import annotations

import http.client
import signal
import sys
import time
import zlib
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src")]

from agentlytics.events.envelope import Envelope  # noqa: E402


class Row(msgspec.Struct, array_like=True):
    event_id: str
    event_type: str
    thread_id: str | None
    turn_id: str | None
    payload: msgspec.Raw


def batches(
    events: Sequence[Envelope], max_events: int = 500, max_bytes: int = 1 << 20
) -> list[list[Envelope]]:
    """The delivery's request shapes: isolated events alone, the others up to the caps."""
    out: list[list[Envelope]] = []
    current: list[Envelope] = []
    size = 0
    for e in events:
        if e.isolated:
            out.append([e])
            continue
        if current and (len(current) >= max_events or size + len(e.body) + 1 > max_bytes):
            out.append(current)
            current, size = [], 0
        current.append(e)
        size += len(e.body) + 1
    if current:
        out.append(current)
    return out


def post_all(port: int, requests: list[list[Envelope]]) -> float:
    """Encode, gzip and POST every batch on one keep-alive connection; wall seconds."""
    encode = msgspec.json.Encoder().encode
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    start = time.perf_counter()
    for batch in requests:
        body = encode(
            [
                Row(e.event_id, e.event_type, e.thread_id, e.turn_id, msgspec.Raw(e.body))
                for e in batch
            ]
        )
        comp = zlib.compressobj(1, zlib.DEFLATED, 31)
        con.request("POST", "/batch", comp.compress(body) + comp.flush(), headers)
        answer = con.getresponse()
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"minimal server answered {answer.status}")
    elapsed = time.perf_counter() - start
    con.close()
    return elapsed


def serve(db: str) -> None:
    import pyarrow as pa

    from agentlytics.warehouse.store import Warehouse

    warehouse = Warehouse(Path(db))
    con = warehouse.con
    decode = msgspec.json.Decoder(list[Row]).decode

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms stalls

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            rows = decode(zlib.decompress(body, 31))
            table = pa.table(
                {
                    "event_id": pa.array([r.event_id for r in rows], pa.string()),
                    "event_type": pa.array([r.event_type for r in rows], pa.string()),
                    "thread_id": pa.array([r.thread_id for r in rows], pa.string()),
                    "turn_id": pa.array([r.turn_id for r in rows], pa.string()),
                    "payload": pa.array([bytes(r.payload) for r in rows], pa.binary()).cast(
                        pa.string()
                    ),
                }
            )
            con.from_arrow(table).insert_into("events")
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # close (checkpoint) the warehouse
    server = HTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    finally:
        warehouse.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2])
