"""The collector's warehouse writer process: it survives its own death and the collector's."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from agentlytics.events.envelope import Envelope
from agentlytics.sinks.http import PATH, encode_batch

from ..collector_proc import TOKEN, Collector
from ..streams import expected, flat_facts

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _post(c: Collector, batch: list[Envelope]) -> httpx.Response:
    return httpx.post(c.url + PATH, content=encode_batch(batch), headers=AUTH, timeout=30)


def _writer(c: Collector) -> psutil.Process:
    assert c.proc is not None
    (child,) = [
        p for p in psutil.Process(c.proc.pid).children() if "spawn_main" in " ".join(p.cmdline())
    ]
    return child


def _gone(proc: psutil.Process, timeout: float = 20) -> bool:
    """Exited (a zombie counts: its parent reaps it only when it next looks)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_a_killed_writer_is_replaced_and_nothing_acknowledged_is_lost(tmp_path: Path) -> None:
    events = expected(flat_facts(30, seed=81))
    first, second = events[:40], events[40:]
    collector = Collector(tmp_path).start()
    try:
        assert _post(collector, first).json() == {"accepted": 40, "stored": 40}
        writer = _writer(collector)
        writer.send_signal(signal.SIGKILL)
        assert _gone(writer)
        # The next group starts a new writer on the same file (DuckDB replays its WAL).
        r = _post(collector, second)
        assert r.status_code == 200, r.text
        assert r.json() == {"accepted": len(second), "stored": len(second)}
        assert _writer(collector).pid != writer.pid
    finally:
        collector.stop()
    assert {row[0] for row in collector.rows()} == {e.event_id for e in events}
    stopped = [json.loads(line) for line in collector.log_lines() if "collector stopped" in line]
    assert stopped and stopped[-1]["close_ms"] is not None


def test_when_the_collector_is_killed_its_writer_closes_the_file_and_exits(
    tmp_path: Path,
) -> None:
    events = expected(flat_facts(20, seed=82))
    collector = Collector(tmp_path).start()
    assert _post(collector, events).status_code == 200
    writer = _writer(collector)
    assert collector.proc is not None
    collector.proc.send_signal(signal.SIGKILL)
    collector.proc.wait(10)
    collector.proc = None
    # The pipe breaks: the writer closes the warehouse and exits rather than lingering.
    assert _gone(writer)
    assert {row[0] for row in collector.rows()} == {e.event_id for e in events}
    # The file is free: a new collector opens it and finds everything.
    collector.start()
    try:
        again = _post(collector, events)
        assert again.json() == {"accepted": len(events), "stored": 0}
    finally:
        collector.stop()


def test_groups_sent_ahead_are_answered_in_order_and_fail_together(tmp_path: Path) -> None:
    from agentlytics.collector.writer import WarehouseProcess, WriterError

    events = expected(flat_facts(20, seed=82))
    a, b, c = events[:60], events[30:90], events[90:]
    writer = WarehouseProcess(str(tmp_path / "w.duckdb"))
    try:
        # Two groups in the pipe at once: each answer is its own group's, in order; the ids the
        # second shares with the first are not new (idempotent across pipelined groups).
        writer.send(a)
        writer.send(b)
        assert writer.in_flight == 2
        assert writer.receive() == {e.event_id for e in a}
        assert writer.receive() == {e.event_id for e in events[60:90]}
        # The writer dies with two groups sent (stopped first, so it stores neither): both fail,
        # and the next group starts a new writer on the same file.
        child = psutil.Process(writer._proc.pid)
        child.send_signal(signal.SIGSTOP)
        writer.send(c[:10])
        writer.send(c[10:20])
        child.send_signal(signal.SIGKILL)
        for _ in range(2):
            with pytest.raises(WriterError):
                writer.receive()
        assert writer.in_flight == 0
        assert writer.insert_new_ids(c) == {e.event_id for e in c}
    finally:
        writer.close()
    from agentlytics.warehouse.store import Warehouse

    with Warehouse(tmp_path / "w.duckdb", read_only=True) as stored:
        assert stored.count() == len(events)


def test_a_large_answer_and_a_large_next_group_do_not_deadlock(tmp_path: Path) -> None:
    """The collector may be blocked sending the next group while the writer answers the one
    before: an answer listing thousands of new ids once filled the pipe, and each side waited
    for the other. Answers are now a bitmap of the batch, a few KB at most."""
    import threading

    from agentlytics.collector.writer import WarehouseProcess

    events = expected(flat_facts(2_600, seed=84))
    half = len(events) // 2
    first, second = events[:half], events[half:]
    assert len(second) > 5_000
    writer = WarehouseProcess(str(tmp_path / "w.duckdb"))
    answers: list[set[str]] = []

    def pipelined() -> None:
        writer.insert_new_ids(first)
        writer.send(first + second)  # retried with new events: its answer names the new ones
        writer.send(second + first)  # a large group sent while that answer is written
        answers.append(writer.receive())
        answers.append(writer.receive())

    worker = threading.Thread(target=pipelined, daemon=True)
    worker.start()
    worker.join(30)
    try:
        assert not worker.is_alive(), "the collector and its writer deadlocked"
        assert answers == [{e.event_id for e in second}, set()]
    finally:
        if worker.is_alive():
            writer._proc.kill()
        writer.close()


@pytest.mark.parametrize(
    ("toml", "env", "memory", "threads"),
    [
        ("", {}, "953.6 MiB", 2),  # the defaults: 1GB, 2 threads
        ("[collector]\nthreads = 1\n", {"AGENTLYTICS_COLLECTOR_MEMORY_LIMIT": "300MB"}, "286.1 MiB", 1),
    ],
)  # fmt: skip
def test_the_writers_duckdb_takes_memory_limit_and_threads_from_the_config(
    tmp_path: Path, toml: str, env: dict[str, str], memory: str, threads: int
) -> None:
    """A real collector: its writer child's DuckDB runs with ``[collector] memory_limit`` and
    ``threads`` (asked through the writer's own read socket), not DuckDB's 80% of RAM."""
    from agentlytics.warehouse.reads import connect_writer
    from tests.collector_proc import Collector

    config = tmp_path / "agentlytics.toml"
    config.write_text(toml)
    collector = Collector(tmp_path, args=("--config", str(config)), **env).start()
    try:
        client = connect_writer(collector.warehouse)
        assert client is not None
        try:
            got = client.query(
                "SELECT current_setting('memory_limit') AS m, current_setting('threads') AS t"
            )
        finally:
            client.close()
    finally:
        collector.stop()
    assert got.to_pylist() == [{"m": memory, "t": threads}]


def test_the_writer_warns_as_the_event_id_index_fills_its_memory_limit(tmp_path: Path) -> None:
    """DuckDB keeps the ``event_id`` key index in memory whatever ``memory_limit`` says, until
    it fills the limit and inserts fail: the writer's watch reports each level the index
    crosses, once and before that failure, as a JSON line naming the setting to raise. A real
    warehouse file; rows added in SQL (the index is the same whoever inserts)."""
    import io

    import duckdb

    from agentlytics.collector.writer import IndexWatch
    from agentlytics.warehouse.store import Warehouse

    warehouse = Warehouse(tmp_path / "w.duckdb", memory_limit="24MB", threads=1)
    out = io.StringIO()
    watch = IndexWatch(warehouse.con, interval=0.0, stream=out)
    assert watch.check() is None  # an empty index: nothing to say
    shares: list[float] = []
    failure = ""
    try:
        for start in range(0, 1_000_000, 10_000):
            try:
                warehouse.con.execute(
                    "INSERT INTO events SELECT sha256(i::VARCHAR), 't', NULL, NULL, '{}' "
                    "FROM range(?, ?) r(i)",
                    [start, start + 10_000],
                )
            except duckdb.Error as exc:
                failure = str(exc)
                break
            share = watch.check()
            if share is not None:
                shares.append(share)
    finally:
        warehouse.close()
    assert "allocate" in failure and "memory_limit" in failure  # what the warning is about
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == len(shares) >= 2, out.getvalue()  # 50% and 75% at least, each once
    assert [line["share"] for line in lines] == [round(s, 3) for s in shares]
    assert shares == sorted(shares) and shares[0] >= 0.5
    assert lines[0]["level"] == "warning" and "[collector] memory_limit" in lines[0]["msg"]
    assert lines[0]["memory_limit_mb"] == pytest.approx(24e6 / 2**20, rel=0.01)
    assert lines[-1]["index_mb"] > lines[0]["index_mb"]
