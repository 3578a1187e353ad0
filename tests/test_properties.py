"""Shuffled, duplicated, truncated and corrupted streams never raise and never break a join."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentlytics.pipeline import Pipeline
from tests.helpers import all_captures

CAPTURE_LINES = {p.stem: p.read_bytes().splitlines() for p in all_captures()}
NAMES = sorted(CAPTURE_LINES)

TOOL_EVENTS = {
    "codex_command_execution_event",
    "codex_file_change_event",
    "codex_mcp_tool_call_event",
    "codex_dynamic_tool_call_event",
    "codex_collab_agent_tool_call_event",
    "codex_web_search_event",
    "codex_image_generation_event",
}


def replay_lines(lines: list[bytes]) -> list[dict[str, Any]]:
    pipeline = Pipeline()
    observer = pipeline.connection()
    out = []
    for raw in lines:
        out += pipeline.observe_line(observer, raw)
    out += pipeline.close(observer)
    return [json.loads(e.body) for e in out]


def wire_joins(
    lines: list[bytes],
) -> tuple[set[tuple[str, str]], set[tuple[str, str, str]], set[str]]:
    """(thread, turn) pairs and (thread, turn, item) triples the input itself states."""
    turns: set[tuple[str, str]] = set()
    items: set[tuple[str, str, str]] = set()
    clients: set[str] = set()
    for raw in lines:
        try:
            msg = json.loads(raw)["msg"]
            params = msg.get("params") or {}
            thread = params.get("threadId")
            turn = params.get("turnId") or (params.get("turn") or {}).get("id")
            if isinstance(thread, str) and isinstance(turn, str):
                turns.add((thread, turn))
                item = params.get("item") or {}
                if isinstance(item.get("id"), str):
                    items.add((thread, turn, item["id"]))
            info = params.get("clientInfo") or {}
            if isinstance(info.get("name"), str):
                clients.add(info["name"])
        except (ValueError, AttributeError, KeyError, TypeError):
            continue
    return turns, items, clients


def assert_no_broken_join(lines: list[bytes], events: list[dict[str, Any]]) -> None:
    turns, items, clients = wire_joins(lines)
    turn_events = Counter()
    for event in events:
        p = event["event_params"]
        kind = event["event_type"]
        if "app_server_client" in p and p["app_server_client"]["rpc_transport"] != "in_process":
            assert p["app_server_client"]["client_name"] in clients
        if kind == "codex_turn_event":
            assert (p["thread_id"], p["turn_id"]) in turns
            turn_events[p["turn_id"]] += 1
        if kind in TOOL_EVENTS:
            assert (p["thread_id"], p["turn_id"], p["item_id"]) in items
            assert p["duration_ms"] is None or p["duration_ms"] >= 0
    assert all(n == 1 for n in turn_events.values()), "a turn event was emitted twice"


def corrupt(raw: bytes, data: st.DataObject) -> bytes:
    how = data.draw(st.sampled_from(["truncate", "flip", "garbage", "empty"]))
    if how == "truncate":
        return raw[: data.draw(st.integers(0, len(raw)))]
    if how == "flip" and raw:
        i = data.draw(st.integers(0, len(raw) - 1))
        return raw[:i] + bytes([raw[i] ^ data.draw(st.integers(1, 255))]) + raw[i + 1 :]
    if how == "garbage":
        return data.draw(st.binary(max_size=200))
    return b""


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.sampled_from(NAMES), st.randoms(use_true_random=False))
def test_shuffled_stream(name: str, rnd: Any) -> None:
    lines = list(CAPTURE_LINES[name])
    rnd.shuffle(lines)
    assert_no_broken_join(lines, replay_lines(lines))


@SETTINGS
@given(st.sampled_from(NAMES), st.data())
def test_duplicated_lines(name: str, data: st.DataObject) -> None:
    lines = list(CAPTURE_LINES[name])
    for _ in range(data.draw(st.integers(1, 10))):
        i = data.draw(st.integers(0, len(lines) - 1))
        lines.insert(data.draw(st.integers(i, len(lines))), lines[i])
    assert_no_broken_join(lines, replay_lines(lines))


@SETTINGS
@given(st.sampled_from(NAMES), st.data())
def test_truncated_stream(name: str, data: st.DataObject) -> None:
    lines = CAPTURE_LINES[name]
    cut = data.draw(st.integers(0, len(lines)))
    assert_no_broken_join(lines[:cut], replay_lines(lines[:cut]))


@SETTINGS
@given(st.sampled_from(NAMES), st.data())
def test_corrupted_lines(name: str, data: st.DataObject) -> None:
    lines = list(CAPTURE_LINES[name])
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(lines) - 1))
        lines[i] = corrupt(lines[i], data)
    assert_no_broken_join(lines, replay_lines(lines))


@SETTINGS
@given(st.lists(st.sampled_from(NAMES), min_size=2, max_size=4), st.randoms(use_true_random=False))
def test_interleaved_captures_on_one_connection(names: list[str], rnd: Any) -> None:
    streams = [list(CAPTURE_LINES[n]) for n in names]
    merged: list[bytes] = []
    while any(streams):
        stream = rnd.choice([s for s in streams if s])
        merged.append(stream.pop(0))
    assert_no_broken_join(merged, replay_lines(merged))


def test_clean_captures_keep_every_join() -> None:
    for name in NAMES:
        lines = CAPTURE_LINES[name]
        events = replay_lines(lines)
        assert events, name
        assert_no_broken_join(lines, events)


def test_mixed_sessions_reusing_request_ids_keep_turns_on_their_threads() -> None:
    """Two sessions interleaved on one connection reuse turn/start ids: the server's turn
    notifications decide a turn's thread, so no turn is reported under the other's thread."""
    import random

    for seed in range(60):
        rnd = random.Random(seed)
        streams = [
            list(CAPTURE_LINES[n]) for n in ("model_error", "model_error", "assistant_message")
        ]
        merged: list[bytes] = []
        while any(streams):
            stream = rnd.choice([s for s in streams if s])
            merged.append(stream.pop(0))
        assert_no_broken_join(merged, replay_lines(merged))
