"""Reducer and edge state depend on what is open, not on history; caps evict and count."""

from __future__ import annotations

import json

from agentlytics.bounded import BoundedMap
from agentlytics.pipeline import Pipeline
from tests.helpers import capture_path


def rekeyed(name: str, copies: int, close_threads: bool) -> list[bytes]:
    lines = capture_path(name).read_bytes().splitlines()
    out: list[bytes] = []
    for k in range(copies):
        prefix = f"{k:08x}-".encode()
        threads: set[str] = set()
        for raw in lines:
            line = raw.replace(b"01a20716-", prefix)
            out.append(line)
            params = json.loads(line)["msg"].get("params") or {}
            if isinstance(params.get("threadId"), str):
                threads.add(params["threadId"])
        if close_threads:
            for thread_id in sorted(threads):
                msg = {"method": "thread/closed", "params": {"threadId": thread_id}}
                out.append(json.dumps({"ts_ms": 1, "dir": "server_to_client", "msg": msg}).encode())
    return out


def test_state_is_released_when_threads_close() -> None:
    pipeline = Pipeline()
    observer = pipeline.connection()
    events = 0
    for line in rekeyed("apply_patch_accept", 300, close_threads=True):
        events += len(pipeline.observe_line(observer, line))
    state = pipeline.reducer.state
    assert events >= 300 * 3
    assert len(state.threads) == 0 and len(state.turns) == 0
    assert len(state.item_starts) == 0 and len(state.requests) == 0
    assert len(observer.synth.threads) == 0
    assert len(state.emitted_turns) <= 4_096
    assert not state.evictions


def test_caps_evict_and_count() -> None:
    evicted: list[tuple[str, int]] = []
    m: BoundedMap[int, str] = BoundedMap("demo", 3, lambda name, k, v: evicted.append((name, k)))
    for i in range(10):
        m[i] = str(i)
    m[9] = "again"  # updating a present key evicts nothing
    assert list(m) == [7, 8, 9] and m.evicted == 7
    assert evicted[0] == ("demo", 0)


def test_open_threads_are_capped(monkeypatch: object) -> None:
    import agentlytics.reducer.state as state_module

    pipeline = Pipeline()
    pipeline.reducer.state.threads.cap = 50
    observer = pipeline.connection()
    for line in rekeyed("assistant_message", 120, close_threads=False):
        pipeline.observe_line(observer, line)
    state = pipeline.reducer.state
    assert len(state.threads) == 50
    assert state.evictions["threads"] == 70
    assert state_module.MAX_THREADS >= 50


def test_threads_that_go_quiet_leave_by_the_idle_rule_and_are_counted() -> None:
    """Real app-servers never send thread/closed: quiet threads leave after
    IDLE_THREAD_SWEEPS sweeps of IDLE_SWEEP_FACTS facts, in the reducer and at the edge, and the
    threads still working lose nothing (every copy gives the same events)."""
    from agentlytics.observe.synthesize import IDLE_SWEEP_MESSAGES
    from agentlytics.reducer.state import IDLE_SWEEP_FACTS, IDLE_THREAD_SWEEPS

    one = Pipeline()
    first = one.connection()
    per_copy = [e.event_type for line in rekeyed("assistant_message", 1, False) for e in
                one.observe_line(first, line)]  # fmt: skip
    facts_per_copy = one.reducer.facts
    lines_per_copy = first.messages
    copies = (IDLE_THREAD_SWEEPS + 4) * IDLE_SWEEP_FACTS // facts_per_copy
    pipeline = Pipeline()
    observer = pipeline.connection()
    types: list[str] = []
    for line in rekeyed("assistant_message", copies, close_threads=False):
        types += [e.event_type for e in pipeline.observe_line(observer, line)]
    state = pipeline.reducer.state
    assert types == per_copy * copies
    # Alive: the threads active in the last IDLE_THREAD_SWEEPS (+1 partial) sweeps, one a copy.
    alive_max = (IDLE_THREAD_SWEEPS + 1) * IDLE_SWEEP_FACTS // facts_per_copy + 1
    assert 0 < len(state.threads) <= alive_max
    assert state.evictions["idle threads"] == copies - len(state.threads)
    assert set(state.evictions) == {"idle threads"}
    edge_alive_max = (IDLE_THREAD_SWEEPS + 1) * IDLE_SWEEP_MESSAGES // lines_per_copy + 1
    assert 0 < len(observer.synth.threads) <= edge_alive_max
    assert observer.synth.idle_threads == copies - len(observer.synth.threads)
    assert not pipeline.drops.counts and not state.drops
