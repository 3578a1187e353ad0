"""The tap relay against real child processes: byte-exactness, observation, exit codes, signals.

No codex here: the children are small Python programs started with ``sys.executable -c``.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentlytics.observe.recorder import CaptureRecorder, Tee, capture_record
from agentlytics.observe.tap import Direction, run_tap

REPO = Path(__file__).resolve().parents[2]
CAPTURES = REPO / "tests" / "data" / "captures"
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}

# Echoes raw bytes as they come, in whatever chunks the pipe hands over.
ECHO_CHILD = r"""
import os
while True:
    b = os.read(0, 65536)
    if not b:
        break
    v = memoryview(b)
    while v:
        v = v[os.write(1, v):]
"""

# Answers each line with an upper-cased copy plus a note line; a JSON-RPC-ish transform.
TRANSFORM_CHILD = r"""
import sys
for line in sys.stdin.buffer:
    sys.stdout.buffer.write(line.upper())
    sys.stdout.buffer.write(b'{"note": %d}\n' % len(line))
    sys.stdout.buffer.flush()
"""


def tap_cmd(*child: str, record: Path | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "agentlytics", "tap"]
    if record is not None:
        cmd += ["--record", str(record)]
    return [*cmd, "--", *child]


def real_wire_lines() -> list[bytes]:
    """Messages as they crossed the wire in a real session (the repo's capture copies)."""
    out = []
    for name in ("shell_accept.jsonl", "apply_patch_accept.jsonl"):
        for rec in (CAPTURES / name).read_text().splitlines():
            out.append(json.dumps(json.loads(rec)["msg"], ensure_ascii=False).encode())
    return out


def make_traffic(rng: random.Random) -> tuple[bytes, list[bytes]]:
    """A byte stream mixing real JSON-RPC, arbitrary binary lines and one 5 MB line.

    Returns the stream and its lines; the stream ends without a trailing newline, so the last
    "line" is an unterminated fragment.
    """
    lines = real_wire_lines()
    for _ in range(200):
        lines.append(rng.randbytes(rng.randint(0, 3000)).replace(b"\n", b"\xff"))
    big = b'{"method": "big", "params": {"blob": "' + b"x\\u00e9y" * (5 * 1024 * 1024 // 8) + b'"}}'
    assert len(big) > 5 * 1024 * 1024
    lines.insert(len(lines) // 2, big)
    lines.insert(3, b"")  # an empty line is relayed and observed as such
    rng.shuffle(lines)
    tail = b'{"unterminated": true}'
    return b"\n".join(lines) + b"\n" + tail, [*lines, tail]


def split_randomly(data: bytes, rng: random.Random) -> Iterator[bytes]:
    """Chunks of random sizes, so lines arrive split across writes and reads."""
    i = 0
    while i < len(data):
        n = rng.choice((1, 7, 100, 4096, 65537, 300_000))
        yield data[i : i + n]
        i += n


def feed_and_collect(proc: subprocess.Popen[bytes], chunks: Iterator[bytes]) -> bytes:
    """Write the chunks (flushing each, pausing now and then) while reading stdout to EOF."""
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin

    def writer() -> None:
        for k, chunk in enumerate(chunks):
            stdin.write(chunk)
            stdin.flush()
            if k % 50 == 0:
                time.sleep(0.001)
        stdin.close()

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    out = proc.stdout.read()
    t.join(30)
    assert proc.wait(30) == 0
    return out


def read_capture(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def wire_bytes_of(record: dict[str, object], capture_line: bytes) -> object:
    """What a capture record says crossed the wire: parsed msg, raw text or raw bytes."""
    if "msg" in record:
        return record["msg"]
    if "raw" in record:
        return record["raw"]
    return base64.b64decode(str(record["raw_base64"]))


def expected_record_value(line: bytes) -> object:
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        value = None
    if isinstance(value, dict):
        return value
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line


def test_relay_is_byte_exact_and_recording_equals_the_traffic(tmp_path: Path) -> None:
    rng = random.Random(7)
    data, lines = make_traffic(rng)
    cap = tmp_path / "nested" / "cap.jsonl"
    proc = subprocess.Popen(
        tap_cmd(sys.executable, "-c", ECHO_CHILD, record=cap),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=ENV,
    )
    out = feed_and_collect(proc, split_randomly(data, rng))
    assert len(out) == len(data)
    assert out == data

    raw_lines = cap.read_bytes().splitlines()
    records = [json.loads(x) for x in raw_lines]
    assert [r["seq"] for r in records] == list(range(len(records)))
    assert all(isinstance(r["ts_ms"], int) and r["ts_ms"] > 1_600_000_000_000 for r in records)
    for direction in ("client_to_server", "server_to_client"):
        mine = [
            (r, raw) for r, raw in zip(records, raw_lines, strict=True) if r["dir"] == direction
        ]
        assert [wire_bytes_of(r, raw) for r, raw in mine] == [
            expected_record_value(x) for x in lines
        ]
        ts = [r["ts_ms"] for r, _ in mine]
        assert ts == sorted(ts)
        # A JSON object is embedded as the very bytes that crossed the wire.
        for (r, raw), line in zip(mine, lines, strict=True):
            if "msg" in r:
                assert raw.endswith(b'"msg": ' + line.strip() + b"}")
    # A request is observed before the echo that answers it.
    first_c2s = next(i for i, r in enumerate(records) if r["dir"] == "client_to_server")
    first_s2c = next(i for i, r in enumerate(records) if r["dir"] == "server_to_client")
    assert first_c2s < first_s2c


class ListObserver:
    def __init__(self) -> None:
        self.seen: list[tuple[Direction, bytes, int]] = []
        self.closed = False

    def observe(self, direction: Direction, line: bytes, ts_ms: int) -> None:
        self.seen.append((direction, line, ts_ms))

    def close(self) -> None:
        self.closed = True


def run_in_process(
    child: str, chunks: list[bytes], observer: object, **kw: object
) -> tuple[bytes, object]:
    """run_tap with our own pipes as its stdin/stdout (no signal forwarding off the CLI)."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    out = bytearray()

    def writer() -> None:
        for chunk in chunks:
            os.write(in_w, chunk)
        os.close(in_w)

    def reader() -> None:
        while b := os.read(out_r, 65536):
            out.extend(b)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    try:
        result = run_tap(
            [sys.executable, "-c", child],
            observer,  # type: ignore[arg-type]
            stdin_fd=in_r,
            stdout_fd=out_w,
            forward_signals=False,
            **kw,
        )  # type: ignore[arg-type]
    finally:
        os.close(out_w)
        for t in threads:
            t.join(30)
        os.close(in_r)
        os.close(out_r)
    return bytes(out), result


def test_observer_sees_every_complete_line_in_order_with_direction() -> None:
    obs = ListObserver()
    chunks = [b'{"id": 1, "me', b'thod": "a"}\n{"id"', b": 2}\n", b"third\nfour", b"th\n"]
    out, result = run_in_process(TRANSFORM_CHILD, chunks, obs)
    sent = [b'{"id": 1, "method": "a"}', b'{"id": 2}', b"third", b"fourth"]
    answered = []
    for line in sent:
        answered += [line.upper(), b'{"note": %d}' % (len(line) + 1)]
    assert out == b"".join(x + b"\n" for x in answered)
    c2s = [line for d, line, _ in obs.seen if d == "client_to_server"]
    s2c = [line for d, line, _ in obs.seen if d == "server_to_client"]
    assert c2s == sent
    assert s2c == answered
    assert obs.closed
    stats = result.stats  # type: ignore[attr-defined]
    assert stats.client_to_server.lines == 4 and stats.server_to_client.lines == 8
    assert stats.client_to_server.bytes == sum(len(c) for c in chunks)
    assert stats.server_to_client.bytes == len(out)
    assert stats.observed == 12 and stats.dropped_total == 0
    # Each answer is observed after the request it answers.
    order = [(d, line) for d, line, _ in obs.seen]
    for req, ans in zip(sent, answered[::2], strict=True):
        assert order.index(("client_to_server", req)) < order.index(("server_to_client", ans))


class SlowObserver(ListObserver):
    def observe(self, direction: Direction, line: bytes, ts_ms: int) -> None:
        time.sleep(0.02)
        super().observe(direction, line, ts_ms)


class RaisingObserver(ListObserver):
    def observe(self, direction: Direction, line: bytes, ts_ms: int) -> None:
        super().observe(direction, line, ts_ms)
        if len(self.seen) % 2:
            raise ValueError(f"observer bug on line {len(self.seen)}")


def test_slow_observer_never_stalls_the_relay_and_drops_are_counted() -> None:
    lines = [b'{"n": %d, "pad": "%s"}\n' % (i, b"p" * (i % 500)) for i in range(3000)]
    obs = SlowObserver()
    started = time.monotonic()
    out, result = run_in_process(ECHO_CHILD, lines, obs, queue_lines=8)
    elapsed = time.monotonic() - started
    assert out == b"".join(lines)
    stats = result.stats  # type: ignore[attr-defined]
    # 6000 lines at 20 ms each would take 2 minutes if the relay waited for the observer.
    assert elapsed < 30
    assert stats.dropped.get("queue_full_lines", 0) > 5000
    assert stats.observed == len(obs.seen)
    assert stats.observed + stats.dropped_total == 6000
    assert stats.client_to_server.lines == stats.server_to_client.lines == 3000
    # What was observed is intact and in order within each direction.
    got = [line for d, line, _ in obs.seen if d == "client_to_server"]
    assert all(line + b"\n" in lines for line in got)
    assert got == sorted(got, key=lambda x: json.loads(x)["n"])


def test_queue_bound_in_bytes_drops_and_counts() -> None:
    lines = [b"%d:" % i + b"z" * 100_000 + b"\n" for i in range(40)]
    obs = SlowObserver()
    out, result = run_in_process(ECHO_CHILD, lines, obs, queue_bytes=250_000)
    assert out == b"".join(lines)
    stats = result.stats  # type: ignore[attr-defined]
    assert stats.dropped.get("queue_full_bytes", 0) > 0
    assert stats.observed + stats.dropped_total == 80


def test_raising_observer_is_counted_logged_once_and_the_relay_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lines = [b'{"n": %d}\n' % i for i in range(100)]
    obs = RaisingObserver()
    with caplog.at_level(logging.WARNING, logger="agentlytics.observe.tap"):
        out, result = run_in_process(ECHO_CHILD, lines, obs)
    assert out == b"".join(lines)
    stats = result.stats  # type: ignore[attr-defined]
    assert len(obs.seen) == 200
    assert stats.observer_errors == 100
    assert stats.observed == 100
    failures = [r for r in caplog.records if "observer failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None
    assert any("100 observer error(s)" in r.getMessage() for r in caplog.records)


def test_drain_timeout_counts_what_the_observer_never_saw() -> None:
    lines = [b"line %d\n" % i for i in range(50)]

    class Stuck(ListObserver):
        def observe(self, direction: Direction, line: bytes, ts_ms: int) -> None:
            time.sleep(0.5)

    out, result = run_in_process(ECHO_CHILD, lines, Stuck(), drain_timeout_s=0.2)
    assert out == b"".join(lines)
    stats = result.stats  # type: ignore[attr-defined]
    assert stats.dropped.get("shutdown_timeout", 0) > 0
    assert stats.observed + stats.dropped_total <= 100


@pytest.mark.parametrize(
    ("child", "code"),
    [
        ("import sys; sys.exit(0)", 0),
        ("import sys; sys.exit(3)", 3),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", 128 + 9),
    ],
)
def test_exit_code_passes_through(child: str, code: int) -> None:
    proc = subprocess.run(
        tap_cmd(sys.executable, "-c", child),
        env=ENV,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
    )
    assert proc.returncode == code, proc.stderr


def test_stderr_of_the_child_passes_through_untouched() -> None:
    child = "import sys; sys.stderr.buffer.write(b'err \\xff\\n'); sys.stdout.write('out\\n')"
    proc = subprocess.run(
        tap_cmd(sys.executable, "-c", child),
        env=ENV,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
    )
    assert proc.returncode == 0
    assert proc.stdout == b"out\n"
    assert proc.stderr == b"err \xff\n"


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 42), (signal.SIGINT, 43)])
def test_signals_to_the_tap_reach_the_child(sig: signal.Signals, code: int) -> None:
    child = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))\n"
        "signal.signal(signal.SIGINT, lambda *a: sys.exit(43))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        tap_cmd(sys.executable, "-c", child), env=ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline() == b"ready\n"
        proc.send_signal(sig)
        assert proc.wait(15) == code
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_closing_stdin_closes_the_childs_stdin() -> None:
    child = "import sys; data = sys.stdin.buffer.read(); print(len(data)); sys.exit(5)"
    proc = subprocess.run(
        tap_cmd(sys.executable, "-c", child),
        env=ENV,
        input=b"abc\ndef",
        capture_output=True,
        timeout=30,
    )
    assert (proc.returncode, proc.stdout) == (5, b"7\n")


def test_events_to_stdout_is_rejected() -> None:
    proc = subprocess.run(
        [
            *tap_cmd(sys.executable, "-c", "pass")[:4],
            "--events",
            "-",
            "--",
            sys.executable,
            "-c",
            "print('must not run')",
        ],
        env=ENV,
        capture_output=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stdout == b""
    assert b"--events -" in proc.stderr and b"stdout" in proc.stderr


_SCRIPTED_SERVER = r"""
import json, sys
lines = [json.loads(x) for x in open(sys.argv[1])]
# Before each client message it reads, the server sends what the capture shows it sent.
replies, pending = [], []
for rec in lines:
    if rec["dir"] == "client_to_server":
        replies.append(pending)
        pending = []
    else:
        pending.append(rec["msg"])
replies.append(pending)
out = sys.stdout
for msg in replies[0]:
    out.write(json.dumps(msg) + "\n")
out.flush()
for n, _ in enumerate(sys.stdin, start=1):
    for msg in replies[n] if n < len(replies) else []:
        out.write(json.dumps(msg) + "\n")
    out.flush()
"""


def test_live_events_equal_replay_of_the_recording(tmp_path: Path) -> None:
    """A scripted server replays a real session through the tap; live events == replayed."""
    from tests.helpers import capture_path, replay_events_bytes

    source = capture_path("shell_accept")
    client_lines = [
        json.dumps(json.loads(x)["msg"]) + "\n"
        for x in source.read_text().splitlines()
        if json.loads(x)["dir"] == "client_to_server"
    ]
    capture, events = tmp_path / "cap.jsonl", tmp_path / "events.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agentlytics",
            "tap",
            "--record",
            str(capture),
            "--events",
            str(events),
            "--",
            sys.executable,
            "-c",
            _SCRIPTED_SERVER,
            str(source),
        ],
        env=ENV,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    for line in client_lines:
        proc.stdin.write(line.encode())
        proc.stdin.flush()
        time.sleep(0.01)
    proc.stdin.close()
    proc.stdout.read()
    assert proc.wait(timeout=30) == 0
    live = events.read_bytes().splitlines()
    assert [json.loads(e)["event_type"] for e in live] == [
        "codex_thread_initialized",
        "codex_review_event",
        "codex_command_execution_event",
        "codex_turn_event",
    ]
    assert live == replay_events_bytes(capture)


def test_tap_send_delivers_live_events_to_a_real_collector(tmp_path: Path) -> None:
    """tap --send: the live session's events reach a collector on 127.0.0.1 exactly once."""
    import hashlib

    from tests.collector_proc import TOKEN, Collector
    from tests.helpers import capture_path, replay_events_bytes

    source = capture_path("shell_accept")
    client_lines = [
        json.dumps(json.loads(x)["msg"]) + "\n"
        for x in source.read_text().splitlines()
        if json.loads(x)["dir"] == "client_to_server"
    ]
    collector = Collector(tmp_path / "collector").start()
    capture = tmp_path / "cap.jsonl"
    env = {**ENV, "AGENTLYTICS_SPOOL": str(tmp_path / "spool")}
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agentlytics",
                "tap",
                "--record",
                str(capture),
                "--send",
                collector.url,
                "--token",
                TOKEN,
                "--",
                sys.executable,
                "-c",
                _SCRIPTED_SERVER,
                str(source),
            ],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
        )
        assert proc.stdin is not None and proc.stdout is not None
        for line in client_lines:
            proc.stdin.write(line.encode())
            proc.stdin.flush()
            time.sleep(0.01)
        proc.stdin.close()
        proc.stdout.read()
        assert proc.wait(timeout=60) == 0
    finally:
        collector.stop()
    expected = replay_events_bytes(capture)
    stored = collector.rows()
    assert len(stored) == len(expected) == 4  # thread, review, command, turn
    assert sorted(event_id for event_id, _ in stored) == sorted(
        hashlib.sha256(body).hexdigest() for body in expected
    )


def test_unopenable_warehouse_never_stops_the_relay(tmp_path: Path) -> None:
    """A warehouse locked by another process is reported; the server still runs and relays."""
    import duckdb

    locked = tmp_path / "locked.duckdb"
    holder = duckdb.connect(str(locked))  # holds DuckDB's write lock on the file
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "agentlytics",
                "tap",
                "--warehouse",
                str(locked),
                "--",
                sys.executable,
                "-c",
                "import sys; sys.stdout.write(sys.stdin.read())",
            ],
            env=ENV,
            input=b'{"method":"initialized"}\n',
            capture_output=True,
            timeout=60,
        )
    finally:
        holder.close()
    assert proc.returncode == 0
    assert proc.stdout == b'{"method":"initialized"}\n'
    assert b"cannot open an analytics sink" in proc.stderr


def test_missing_command_exits_127() -> None:
    proc = subprocess.run(
        tap_cmd("/nonexistent/codex", "app-server"), env=ENV, capture_output=True, timeout=30
    )
    assert proc.returncode == 127
    assert b"cannot start" in proc.stderr


def test_capture_record_shapes() -> None:
    wire = b'{"z": 1, "a": [1.50, "\\u00e9"]}'
    assert capture_record(3, "server_to_client", wire, 17) == (
        b'{"seq": 3, "ts_ms": 17, "dir": "server_to_client", "msg": ' + wire + b"}\n"
    )
    assert json.loads(capture_record(0, "client_to_server", b"hello \xc3\xa9", 1)) == {
        "seq": 0,
        "ts_ms": 1,
        "dir": "client_to_server",
        "raw": "hello é",
    }
    assert json.loads(capture_record(0, "client_to_server", b"[1, 2]", 1))["raw"] == "[1, 2]"
    assert json.loads(capture_record(0, "client_to_server", b'{"a": ', 1))["raw"] == '{"a": '
    assert json.loads(capture_record(0, "client_to_server", b"", 1))["raw"] == ""
    rec = json.loads(capture_record(0, "client_to_server", b'{"a": "\xff"}', 1))
    assert base64.b64decode(rec["raw_base64"]) == b'{"a": "\xff"}'
    # Same shape as the repo's real captures: a record's msg re-embeds cleanly.
    real = (CAPTURES / "shell_accept.jsonl").read_bytes().splitlines()[1]
    rec = json.loads(real)
    wire = json.dumps(rec["msg"]).encode()
    assert capture_record(rec["seq"], rec["dir"], wire, rec["ts_ms"]) == real + b"\n"


def test_tee_calls_every_observer_and_reraises_the_first_error(tmp_path: Path) -> None:
    rec = CaptureRecorder(tmp_path / "c.jsonl")
    boom = RaisingObserver()
    tail = ListObserver()
    tee = Tee(boom, rec, tail)
    with pytest.raises(ValueError):
        tee.observe("client_to_server", b'{"a": 1}', 5)
    tee.observe("server_to_client", b'{"b": 2}', 6)
    tee.close()
    assert tail.closed and boom.closed
    assert [r["msg"] for r in read_capture(tmp_path / "c.jsonl")] == [{"a": 1}, {"b": 2}]


def test_an_answer_is_never_observed_before_what_it_answers() -> None:
    """The server speaks first and waits for each reply: observation order must alternate."""
    child = (
        "import sys\n"
        "for i in range(300):\n"
        "    sys.stdout.write('ping %d\\n' % i); sys.stdout.flush()\n"
        "    assert sys.stdin.readline() == 'pong %d\\n' % i\n"
    )
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()

    def client() -> None:
        with os.fdopen(out_r, "rb") as server_out:
            for line in server_out:  # answer each line the moment it arrives
                os.write(in_w, line.replace(b"ping", b"pong"))
        os.close(in_w)

    t = threading.Thread(target=client)
    t.start()
    obs = ListObserver()
    try:
        result = run_tap(
            [sys.executable, "-c", child],
            obs,
            stdin_fd=in_r,
            stdout_fd=out_w,
            forward_signals=False,
        )
    finally:
        os.close(out_w)
        t.join(30)
        os.close(in_r)
    assert result.exit_code == 0
    expected: list[tuple[str, bytes]] = []
    for i in range(300):
        expected += [("server_to_client", b"ping %d" % i), ("client_to_server", b"pong %d" % i)]
    assert [(d, line) for d, line, _ in obs.seen] == expected
