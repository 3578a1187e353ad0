"""Real producer processes: SIGKILL mid-stream then restart; several producers at once."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ..collector_proc import Collector, producer_env
from ..streams import expected, flat_facts

pytestmark = pytest.mark.slow  # real producer subprocesses, SIGKILL

PRODUCER = Path(__file__).with_name("producer.py")


def run_producer(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(PRODUCER), *args],
        env=producer_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def spooled_ids(spool: Path) -> set[str]:
    ids: set[str] = set()
    for db in spool.glob("spool-*.db"):
        con = sqlite3.connect(db)
        try:
            ids |= {r[0] for r in con.execute("SELECT event_id FROM events WHERE state = 0")}
        finally:
            con.close()
    return ids


def test_sigkill_loses_nothing_that_reached_the_spool(tmp_path: Path) -> None:
    collector = Collector(tmp_path).start()
    spool, go = tmp_path / "spool", tmp_path / "go"
    a, b = 30, 300
    proc = run_producer(collector.url, str(spool), "crash", "5", str(a), str(b), str(go))
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "FLUSHED"
        collector.stop()  # part B meets an outage: it piles up in the spool
        go.touch()
        for line in proc.stdout:
            if line.startswith("B ") and int(line.split()[1]) >= b // 3:
                break
        proc.send_signal(signal.SIGKILL)  # mid-stream: the producer is still submitting
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    in_spool = spooled_ids(spool)
    assert in_spool, "the kill should leave events in the spool"

    collector.start()
    try:
        recover = run_producer(collector.url, str(spool), "recover")
        out, err = recover.communicate(timeout=120)
    finally:
        collector.stop()
    assert recover.returncode == 0, err
    stats = json.loads(out)
    # The spool's events, and those the dead producer's journal held but it had not reduced.
    assert stats["flushed"] and stats["delivered"] == len(in_spool) + stats["recovered_events"]

    rows = collector.rows()
    ids = [r[0] for r in rows]
    part_a = {e.event_id for e in expected(flat_facts(a, seed=5))}
    all_ids = {e.event_id for e in expected(flat_facts(a + b, seed=5))}
    assert len(ids) == len(set(ids))
    # Flushed before the kill: all of A. Reached the spool: all of it. Nothing invented.
    assert set(ids) >= part_a | in_spool
    assert len(ids) == len(part_a | in_spool) + stats["recovered_events"]
    assert set(ids) <= all_ids
    assert not spooled_ids(spool)


def test_several_producers_at_once_share_one_spool_dir(tmp_path: Path) -> None:
    collector = Collector(tmp_path).start()
    spool = tmp_path / "spool"
    seeds = (21, 22, 23)
    procs = [run_producer(collector.url, str(spool), "plain", str(s), "0", "250") for s in seeds]
    try:
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert json.loads(out)["flushed"]
    # Processes alive at the same time hold different slots (a finished one frees its slot).
    assert all(json.loads(out)["spool"].startswith(str(spool)) for out, _ in outs)
    collector.stop()
    ids = [r[0] for r in collector.rows()]
    want: set[str] = set()
    for s in seeds:
        want |= {e.event_id for e in expected(flat_facts(250, seed=s))}
    assert len(ids) == len(set(ids)) == len(want)
    assert set(ids) == want
