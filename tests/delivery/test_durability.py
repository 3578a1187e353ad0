"""The durability contract (docs/delivery.md, "The window"), defect by defect (issue 20).

Each test here failed before its fix: spilled items of a client the host dropped were rebuilt
against an empty connection; a SIGKILL lost what the queue held; a dead process's spill was
replayed without its context.
"""

from __future__ import annotations

import gc
import json
import pickle
import random
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgspec
import pytest

from agentlytics.client import AnalyticsClient
from agentlytics.library.worker import BackgroundDelivery

from ..collector_proc import Collector, producer_env
from .sessions import Collect, drive_session, expected_by_session


def test_clients_dropped_while_their_items_are_spilled_lose_nothing(tmp_path: Path) -> None:
    """Defect 1: many short sessions, each client dropped after its session, a one-slot queue
    (so nearly every item is spilled to disk): every event exactly as the inline run makes it."""
    sessions, seed = range(30), 71
    want = [e.body for events in expected_by_session(sessions, seed, end=False) for e in events]
    sink = Collect()
    delivery = BackgroundDelivery(lambda: sink, spool_dir=tmp_path, queue_size=1)
    for session in sessions:
        client = AnalyticsClient(delivery, connection_id=session)
        drive_session(client, session, seed)
        del client
        gc.collect()  # the client is gone; its records (plain data) are not
    assert delivery.flush(60)
    stats = delivery.stats()
    delivery.close(5)
    assert stats["spilled"] > len(want)
    assert stats["dropped"] == {}
    assert sorted(e.body for e in sink.envelopes) == sorted(want)


# -- SIGKILL of a library host at random points -------------------------------------------------

HOST = Path(__file__).with_name("library_host.py")
SESSIONS = 900
#: The hard bound of a kill without flush() (docs/delivery.md): 8 × journal_records (256)
#: items — up to 4 × waiting and a batch of up to 4 × being written — with one submitting
#: thread. The 20 ms time window is the normal case, not a guarantee (it needs the journal's
#: thread to get CPU): it is reported, not asserted.
BOUND = 8 * 256


def _host(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HOST), *args],
        env=producer_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_at_random(proc: subprocess.Popen[str], delay: float) -> list[tuple[float, str]]:
    """SIGKILL ``delay`` seconds after the host is ready; its output lines, each with the time
    it was read."""
    lines: list[tuple[float, str]] = []
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "READY", proc.stderr and proc.stderr.read()
    stdout = proc.stdout

    def read() -> None:
        for line in stdout:
            lines.append((time.monotonic(), line.strip()))

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    proc.wait(10)
    reader.join(10)
    return [(killed_at - at, line) for at, line in lines]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["flush", "noflush"])
def test_sigkill_of_a_library_host_at_random_points(tmp_path: Path, mode: str) -> None:
    """Defect 2. ``flush`` mode: nothing of a flushed session is lost. ``noflush``: at most
    BOUND items were unjournaled at the kill, counted from what the host reports: when session
    k lost an event, an item among the first n(k) it submitted was not journaled, and the
    journal keeps submit order, so every item from there to the last reported one was lost
    too. Either way no row of wrong content (an id the sessions do not make) and the next
    process recovers everything the journal held."""
    rng = random.Random(f"sigkill-{mode}")
    collector = Collector(tmp_path / "collector").start()
    rounds = []
    try:
        for rnd in range(3):
            seed = 300 + rnd + (10 if mode == "flush" else 0)
            queue = 64 if rnd == 1 else 10_000  # round 1 spills constantly
            spool = tmp_path / f"spool-{rnd}"
            proc = _host(collector.url, str(spool), mode, str(seed), str(SESSIONS), str(queue))
            try:
                lines = _kill_at_random(proc, rng.uniform(0.2, 2.0))
            finally:
                if proc.poll() is None:
                    proc.kill()
            recover = _host(collector.url, str(spool), "recover")
            out, err = recover.communicate(timeout=120)
            stats = json.loads(out.splitlines()[-1])
            assert stats["flushed"], (stats, err)
            assert stats["dropped"] == {}, stats
            rounds.append((seed, lines, stats))
    finally:
        collector.stop()
    stored = {event_id for event_id, _ in collector.rows()}
    made: set[str] = set()
    figures = []
    for seed, lines, stats in rounds:
        sessions = expected_by_session(range(SESSIONS), seed)
        made |= {e.event_id for events in sessions for e in events}
        if mode == "flush":
            done = [(ago, int(line.split()[1]), 0) for ago, line in lines if line[:7] == "FLUSHED"]
        else:
            done = [
                (ago, int(k), int(n))
                for ago, line in lines
                if line.startswith("SUBMITTED")
                for k, n in [line.split()[1:3]]
            ]
        submitted = max((k for _, k, _ in done), default=0)
        items = {k: n for _, k, n in done}  # items submitted by the end of session k
        ago = {k: a for a, k, _ in done}
        lost_all = [e for s in sessions[:submitted] for e in s if e.event_id not in stored]
        events = sum(len(s) for s in sessions[:submitted])
        lossy = [k for k in range(1, submitted + 1) if any(e.event_id not in stored
                 for e in sessions[k - 1])]  # fmt: skip
        figure = (
            f"seed {seed}: {submitted} sessions ({events} events"
            + (f", {items[submitted]} items" if submitted in items and mode != "flush" else "")
            + f") {'flushed' if mode == 'flush' else 'submitted'} before the kill, "
            f"{len(lost_all)} lost"
        )
        unjournaled = 0
        if lossy:
            first = lossy[0]
            unjournaled = items.get(submitted, 0) - items.get(first, 0) + 1
            figure += (
                f" (sessions {first}..{submitted}, submitted within "
                f"{max(0.0, ago.get(first, 0.0)) * 1000:.0f} ms of it: at least {unjournaled} items "
                f"unjournaled, bound {BOUND})"
            )
        figure += (
            f"; recovered {stats.get('recovered_events')} events from "
            f"{stats.get('recovered_records')} journal records"
        )
        figures.append(figure)
        if mode == "flush":
            assert lost_all == [], figure
        else:
            assert unjournaled <= BOUND, figure
    print(f"\n{mode}: " + "\n".join(figures))
    wrong = stored - made
    assert wrong == set(), f"{len(wrong)} stored rows of content no session makes"


def test_spilled_items_of_a_process_that_died_without_a_journal_are_counted(
    tmp_path: Path,
) -> None:
    """A spill file holding library calls of a dead process whose journal is gone (or was
    off): their connection's state died with it, so they are counted as dropped, never
    expanded against an empty connection into rows of wrong content."""
    from agentlytics.delivery.spool import SpoolSlot
    from agentlytics.observe.deferred import ObservedMessage
    from agentlytics.protocol.wire import CLIENT_TO_SERVER, Message

    params = msgspec.Raw(b'{"cwd": "/w"}')
    items = [
        ObservedMessage(7, "stdio", CLIENT_TO_SERVER, Message("thread/start", i, params), 10 + i)
        for i in range(3)
    ]
    slot = SpoolSlot.acquire(tmp_path)
    with open(slot.overflow_path, "wb") as out:  # as the dead process's delivery spilled them
        for item in items:
            data = pickle.dumps((-1, item, b"the-dead"))
            out.write(struct.pack("<I", len(data)) + data)
    slot.release()
    sink = Collect()
    delivery = BackgroundDelivery(lambda: sink, spool_dir=tmp_path, journal=False)
    assert delivery.flush(10)
    stats = delivery.stats()
    delivery.close(1)
    assert stats["dropped"] == {"spilled_by_a_dead_process": 3}
    assert sink.envelopes == []
