"""A DuckDB writer killed with SIGKILL leaves its read socket behind; the next writer of the
file takes the socket over (nobody listens on it), and reads go to the new writer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from agentlytics.warehouse.reads import connect_writer, socket_path

from ..collector_proc import producer_env

#: The child: hold the warehouse with a DuckDB sink (which answers reads), store events, say
#: how many, then wait to be killed (or, given "close" on stdin, close and exit).
WRITER = """
import sys
from agentlytics.sinks.duckdb import DuckDBSink
from tests.streams import expected, flat_facts

sink = DuckDBSink(sys.argv[1])
sink.write(expected(flat_facts(int(sys.argv[2]), seed=int(sys.argv[2]))))
print(sink.stored, flush=True)
sys.stdin.readline()
sink.close()
"""


def _writer(path: Path, copies: int) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(copies)],
        env=producer_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip().isdigit(), f"writer did not start (exit {proc.poll()})"
    return proc, int(line)


def _count(path: Path) -> int:
    client = connect_writer(path)
    assert client is not None, "no writer answers"
    try:
        return int(client.query("SELECT count(*) AS n FROM events").column("n")[0].as_py())
    finally:
        client.close()


def test_a_sigkilled_writers_socket_is_taken_over_by_the_next_writer(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    first, stored = _writer(path, 5)
    try:
        assert _count(path) == stored > 0
        os.kill(first.pid, signal.SIGKILL)
        assert first.wait(30) == -signal.SIGKILL
    finally:
        first.kill()
    sock = Path(socket_path(path))
    assert sock.exists(), "the kill left no socket: the takeover below proves nothing"
    assert connect_writer(path) is None  # a socket nobody listens on is no writer

    second, more = _writer(path, 7)
    try:
        assert _count(path) == stored + more  # the new writer answers, the old rows are there
        assert second.stdin is not None
        second.stdin.write("close\n")
        second.stdin.flush()
        assert second.wait(30) == 0
    finally:
        second.kill()
    assert not sock.exists()  # a writer that closes removes its socket
    assert connect_writer(path) is None


#: The child: a DuckDB sink whose read socket is answering a long query (a reader kept on
#: the line) when the writer closes: the close must end the answer first, then exit cleanly.
CLOSE_UNDER_READ = """
import sys, threading, time
from agentlytics.sinks.duckdb import DuckDBSink
from agentlytics.warehouse.reads import ReadRefused, connect_writer
from tests.streams import expected, flat_facts

sink = DuckDBSink(sys.argv[1])
sink.write(expected(flat_facts(2, seed=2)))
outcomes = []

def read() -> None:
    client = connect_writer(sys.argv[1])
    assert client is not None
    while True:
        try:
            client.query(
                "SELECT count(*) FROM range(100000000) a, range(4) b WHERE a.range % 7 = b.range"
            )
        except (ReadRefused, OSError, EOFError, ConnectionError) as exc:
            outcomes.append(type(exc).__name__)
            return

readers = [threading.Thread(target=read, daemon=True) for _ in range(3)]
for t in readers:
    t.start()
time.sleep(0.5)
sink.close()
for t in readers:
    t.join(10)
print("closed", len(outcomes), flush=True)
"""


def test_a_writer_closing_while_its_socket_answers_a_query_exits_cleanly(tmp_path: Path) -> None:
    """Closing the sink under running reads once raised "connection is busy with another call"
    from the writer's close and aborted the process ("terminate called after throwing")."""
    for i in range(3):
        path = tmp_path / f"w{i}.duckdb"
        proc = subprocess.run(
            [sys.executable, "-c", CLOSE_UNDER_READ, str(path)],
            env=producer_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "closed 3", proc.stdout + proc.stderr
        assert "terminate called" not in proc.stderr
