"""Reading a DuckDB warehouse while ``collect`` (or a sink) writes it: answered by the writer."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import msgspec
import pytest

from agentlytics.sinks.duckdb import DuckDBSink
from agentlytics.sinks.http import HttpSink
from agentlytics.warehouse.reads import ReadRefused, connect_writer, socket_path

from ..collector_proc import TOKEN, Collector
from ..streams import expected, flat_facts


@pytest.mark.slow
def test_reads_while_the_collector_writes_see_every_commit_and_never_block_it(
    tmp_path: Path,
) -> None:
    events = expected(flat_facts(600, seed=11))
    collector = Collector(tmp_path).start()
    sink = HttpSink(collector.url, token=TOKEN)
    try:
        # A direct open fails while the collector holds the file: that is what reads work around.
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(collector.warehouse), read_only=True)
        client = connect_writer(collector.warehouse)
        assert client is not None
        seen: list[int] = []
        done = threading.Event()

        def read_loop() -> None:
            while not done.is_set():
                table = client.query("SELECT count(*) AS n FROM events")
                seen.append(table.column("n")[0].as_py())

        reader = threading.Thread(target=read_loop)
        reader.start()
        for i in range(0, len(events), 100):
            sink.write(events[i : i + 100])
        done.set()
        reader.join()
        final = client.query("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events")
        assert final.to_pylist() == [{"n": len(events), "d": len(events)}]
        # Reads saw the table grow, one committed batch at a time, never backwards.
        assert len(seen) > 3 and seen == sorted(seen)
        assert len(set(seen)) > 1
        # Typed params and columns arrive as a direct connection would give them.
        table = client.query(
            "SELECT event_type, count(*) AS n FROM events WHERE event_type <> ? GROUP BY 1"
            " ORDER BY 1",
            ["nothing"],
        )
        assert sum(table.column("n").to_pylist()) == len(events)
        with pytest.raises(ReadRefused, match="only one SELECT"):
            client.query("DELETE FROM events")
        with pytest.raises(ReadRefused, match="only one SELECT"):
            client.query("SELECT 1; DROP TABLE events")
        with pytest.raises(ReadRefused, match="does not exist"):
            client.query("SELECT * FROM no_such_table")
        assert client.query("SELECT count(*) AS n FROM events").column("n")[0].as_py() == len(
            events
        )
        client.close()
    finally:
        sink.close()
        collector.stop()
    assert len(collector.rows()) == len(events)  # nothing deleted, nothing dropped
    # Stopped: the socket is gone, and the file opens directly again.
    assert connect_writer(collector.warehouse) is None


def test_a_sink_holding_the_file_answers_reads_and_stops_on_close(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    sink = DuckDBSink(path)
    try:
        sink.write(expected(flat_facts(20, seed=12)))
        client = connect_writer(path)
        assert client is not None
        assert (
            client.query("SELECT count(*) AS n FROM events").column("n")[0].as_py() == sink.stored
        )
        client.close()
        # A second holder of the same file in the same process does not steal the socket.
        assert Path(socket_path(path)).exists()
    finally:
        sink.close()
    assert not Path(socket_path(path)).exists()
    assert connect_writer(path) is None


def test_a_socket_left_by_a_dead_writer_is_replaced(tmp_path: Path) -> None:
    import socket

    path = tmp_path / "w.duckdb"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(socket_path(path))
    stale.close()  # bound, never listening: what a killed writer leaves
    assert connect_writer(path) is None
    sink = DuckDBSink(path)
    try:
        start = time.perf_counter()
        client = connect_writer(path)
        assert client is not None
        assert client.query("SELECT 42 AS x").to_pylist() == [{"x": 42}]
        assert time.perf_counter() - start < 5
        client.close()
    finally:
        sink.close()


@pytest.mark.slow
def test_open_store_reads_a_collectors_file_and_never_stops_it_from_starting(
    tmp_path: Path,
) -> None:
    from agentlytics import query
    from agentlytics.query import Filters, open_store

    events = expected(flat_facts(200, seed=13))
    collector = Collector(tmp_path).start()
    sink = HttpSink(collector.url, token=TOKEN)
    try:
        sink.write(events[: len(events) // 2])
        store = open_store(str(collector.warehouse))  # while collect holds the file
        assert query.event_count(store) == len(events) // 2
        # Reports are dashboard-ready while it writes: the second half shows up at once.
        sink.write(events[len(events) // 2 :])
        assert query.event_count(store) == len(events)
        live = msgspec.to_builtins(query.tools(store, Filters()))
        collector.stop()
        # The writer is gone: the same store object reads the file directly now ...
        assert msgspec.to_builtins(query.tools(store, Filters())) == live
        # ... and holds no lock between queries, so the collector can come back meanwhile.
        collector.start()
        sink.write(events[:10])  # repeats: nothing new
        assert query.event_count(store) == len(events)
        assert live and sum(r["calls"] for r in live) > 0
        store.close()
    finally:
        sink.close()
        collector.stop()


@pytest.mark.slow
def test_a_reader_querying_back_to_back_does_not_keep_a_collector_from_starting(
    tmp_path: Path,
) -> None:
    from agentlytics import query
    from agentlytics.query import open_store

    path = tmp_path / "collected.duckdb"
    sink = DuckDBSink(path)
    sink.write(expected(flat_facts(30, seed=14)))
    stored = sink.stored
    sink.close()
    store = open_store(str(path))
    done = threading.Event()
    counts: list[int] = []

    def reader() -> None:
        while not done.is_set():
            counts.append(query.event_count(store))

    thread = threading.Thread(target=reader)
    thread.start()
    collector = Collector(tmp_path)
    try:
        time.sleep(0.5)  # the reader holds the file now
        collector.start()  # waits for the lock, then answers the reader through its socket
        assert connect_writer(path) is not None
    finally:
        done.set()
        thread.join()
        collector.stop()
        store.close()
    assert counts and set(counts) == {stored}
