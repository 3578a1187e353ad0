"""``replay --jobs N``: one process per capture file, output identical to a one-core run."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pytest

from agentlytics.events.envelope import Envelope, EventParams, Sealer, track
from agentlytics.replay import ReplayResult, replay
from agentlytics.replay_jobs import FileReplay, _Resealer, first_bodies, replay_parallel
from agentlytics.sinks.base import Sink
from agentlytics.sinks.duckdb import DuckDBSink
from tests.helpers import all_captures, run_cli
from tests.streams import rekeyed_lines


class Collect:
    def __init__(self) -> None:
        self.events: list[Envelope] = []

    def write(self, batch: Any) -> None:
        self.events.extend(batch)

    def close(self) -> None:
        pass


def _summary(result: ReplayResult) -> tuple[Any, ...]:
    return (
        result.files,
        result.lines,
        result.facts,
        result.events,
        list(result.drops.counts.items()),
        [(d.reason, d.detail, d.where) for d in result.drops.samples],
        list(result.reducer_drops.items()),
        list(result.evictions.items()),
        result.repo_sources,
        result.thread_repos,
        result.rejected,
    )


def _run(captures: list[Path], jobs: int) -> tuple[ReplayResult, list[Envelope]]:
    sink = Collect()
    sinks: list[Sink] = [sink]
    result = replay_parallel(captures, sinks, jobs) if jobs > 1 else replay(captures, sinks)
    return result, sink.events


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[Any]]:
    """Every table of a warehouse, its rows sorted."""
    names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    return {name: con.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall() for name in names}


def _run_stored(captures: list[Path], jobs: int) -> tuple[ReplayResult, int, dict[str, Any]]:
    """A replay into a fresh in-memory warehouse (the sink workers build Arrow tables for)."""
    store = DuckDBSink(":memory:")
    sinks: list[Sink] = [store]
    result = replay_parallel(captures, sinks, jobs) if jobs > 1 else replay(captures, sinks)
    tables = _tables(store.warehouse.con)
    store.close()
    return result, store.stored, tables


def _copies(tmp_path: Path, n: int) -> list[Path]:
    """``n`` re-keyed copies of the captures (distinct sessions, real traffic)."""
    out = []
    for copy in range(n):
        _, lines = rekeyed_lines(copy, seed=3)
        path = tmp_path / f"copy{copy:03d}.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        out.append(path)
    return out


@pytest.mark.slow
def test_two_jobs_give_the_one_core_events_in_order_and_the_same_report(tmp_path: Path) -> None:
    captures = _copies(tmp_path, 2 * len(all_captures()))
    bad = tmp_path / "notes.jsonl"
    bad.write_text("just some text\n")
    captures.insert(3, bad)
    one, one_events = _run(captures, 1)
    two, two_events = _run(captures, 2)
    assert two.jobs == 2 and one.jobs == 1
    assert len(one_events) == one.events > 100
    assert two_events == one_events  # ids, bodies and indexed fields, in the same order
    assert _summary(two) == _summary(one)
    assert one.rejected and one.rejected[0][0] == str(bad)


@pytest.mark.slow
def test_files_sharing_a_thread_are_replayed_on_one_core(tmp_path: Path) -> None:
    """The same capture twice: one pipeline dedupes its turns; --jobs must not change that."""
    captures = [*all_captures()[:2], all_captures()[0]]
    one, one_events = _run(captures, 1)
    two, two_events = _run(captures, 2)
    assert two.jobs == 1
    assert two_events == one_events
    assert _summary(two) == _summary(one)
    # The first two files were stored in parallel before the third showed the shared thread.
    one, one_stored, one_tables = _run_stored(captures, 1)
    two, two_stored, two_tables = _run_stored(captures, 2)
    assert two.jobs == 1
    assert _summary(two) == _summary(one)
    assert two_stored == one_stored == len(one_tables["events"]) > 5
    assert two_tables == one_tables


def test_resealing_per_file_envelopes_gives_the_one_stream_ids() -> None:
    """A body repeated across files gets the ordinal one sealer over the stream would give."""
    from agentlytics.pipeline import Pipeline
    from tests.streams import flat_facts

    facts = flat_facts(4, seed=5)
    reducer = Pipeline().reducer
    events = [e for f in facts for e in reducer.ingest(f)]
    parts = [events, events[:10], events]  # three "files" repeating each other's bodies
    whole = Sealer()
    expected = [whole.seal(e).event_id for part in parts for e in part]
    resealer = _Resealer()
    got = [resealer.reseal(Sealer().seal(e)).event_id for part in parts for e in part]
    assert got == expected
    assert len(set(expected)) == len(expected)


class _Probe(EventParams):
    EVENT_TYPE: ClassVar[str] = "probe"
    n: int


def _sealed(values: list[int], sealer: Sealer) -> list[Envelope]:
    return [sealer.seal(track(_Probe(n=n))) for n in values]


@pytest.mark.parametrize("seed", range(6))
def test_following_worker_windows_gives_the_one_stream_ids(seed: int) -> None:
    """Files sealed each with a fresh window, then followed (or re-sealed where a body repeats
    from an earlier file's window) give one sealer's ids: across window overflows, re-entries
    after eviction, and repeats within and across files."""
    rng = random.Random(seed)
    files = []
    for index in range(6):
        size = rng.choice([3, 300, 5_000, 9_000])
        base = rng.choice([0, (index + 1) * 1_000_000])  # 0: may repeat other files' bodies
        span = rng.choice([size // 2 + 1, size * 3])
        files.append([base + rng.randrange(span) for _ in range(size)])
    whole = Sealer()
    expected = [[e.event_id for e in _sealed(values, whole)] for values in files]
    resealer = _Resealer()
    got, followed = [], 0
    for values in files:
        sealer = Sealer()
        envelopes = _sealed(values, sealer)
        part = FileReplay(
            events=b"",
            count=len(envelopes),
            lines=0,
            facts=0,
            drops=Counter(),
            samples=[],
            reducer_drops=Counter(),
            evictions=Counter(),
            repo_sources={},
            repos=[],
            head=first_bodies(envelopes),
            window=list(sealer._seen.items()),
        )
        if resealer.follow(part):
            followed += 1
            got.append([e.event_id for e in envelopes])
        else:
            got.append([resealer.reseal(e).event_id for e in envelopes])
    assert got == expected
    assert followed >= 1


@pytest.mark.slow
def test_cli_jobs_writes_the_same_events_warehouse_and_report(tmp_path: Path) -> None:
    captures = [str(p) for p in _copies(tmp_path, len(all_captures()))]
    outs = {}
    for jobs in ("1", "2"):
        events, store = tmp_path / f"events{jobs}.jsonl", tmp_path / f"w{jobs}.duckdb"
        args = ("replay", "--jobs", jobs, "--events", str(events), "--warehouse", str(store))
        proc = run_cli(*args, *captures)
        again = run_cli(*args, *captures)  # into the same warehouse: every event a duplicate
        con = duckdb.connect(str(store), read_only=True)
        tables = _tables(con)
        con.close()
        outs[jobs] = (
            events.read_bytes(),
            tables,
            proc.stdout.replace(jobs + ".duckdb", ""),
            again.stdout.replace(jobs + ".duckdb", ""),
        )
    assert outs["2"] == outs["1"]
    assert outs["1"][0].count(b"\n") == len(outs["1"][1]["events"]) > 50
    assert len(outs["1"][1]["turns"]) > 5
    assert " 0 new in " in outs["1"][3]
