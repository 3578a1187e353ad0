"""Bad input on every decode path is a counted drop with its reason, never an exception.

Issue 20, defects 5 (JSON nested ~1,000 deep crashed replay with RecursionError and lost every
event not yet written; the tap's recorder raised on it) and 6 (a truncated line of a method
analytics ignores was skipped by a prefix fast path before it was parsed, so it was never
counted).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentlytics.client import AnalyticsClient
from agentlytics.drops import Drops
from agentlytics.families import FAMILIES
from agentlytics.library.delivery import InlineDelivery
from agentlytics.live import LiveObserver
from agentlytics.observe.edge import WireObserver
from agentlytics.observe.recorder import capture_record
from agentlytics.protocol.depth import MAX_DEPTH, too_deep
from agentlytics.replay import replay
from helpers import all_captures, capture_path, replay_events_bytes


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _delta_line(params: bytes) -> bytes:
    return (
        b'{"seq": 7, "ts_ms": 1795414526895, "dir": "server_to_client", "msg": '
        b'{"method": "item/agentMessage/delta", "params": ' + params + b"}}\n"
    )


class Keep:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def write(self, batch: Any) -> None:
        self.bodies.extend(e.body for e in batch)

    def close(self) -> None:
        pass


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 1_000, 100_000])
def test_too_deep_measures_nesting_exactly(depth: int) -> None:
    text = b'{"a": ' + _nested(depth - 1) + b"}"  # depth levels in all
    assert too_deep(text) is (depth > MAX_DEPTH)
    # Brackets inside strings do not count; neither do siblings.
    assert not too_deep(b'{"a": "' + b"[" * 5_000 + b'"}')
    assert not too_deep(b"[" + b"[]," * 5_000 + b"[]]")


def test_a_line_nested_1000_deep_is_a_counted_drop_and_loses_no_event(tmp_path: Path) -> None:
    """Defect 5: the deep line follows a capture; every event of the capture is still there."""
    capture = capture_path("shell_accept")
    bad = tmp_path / "deep.jsonl"
    bad.write_bytes(capture.read_bytes() + _delta_line(b'{"x": ' + _nested(1_000) + b"}"))
    sink = Keep()
    result = replay([bad], [sink])
    assert sink.bodies == replay_events_bytes(capture)
    assert result.drops.counts == {"nested too deep": 1}
    lines = capture.read_bytes().count(b"\n") + 1
    assert [d.where for d in result.drops.samples] == [f"deep.jsonl:{lines}"]


def test_deep_values_of_every_handled_method_are_dropped_not_raised(tmp_path: Path) -> None:
    """A deep value placed in each real line (any method) drops that line only."""
    for capture in all_captures():
        records = [json.loads(line) for line in capture.read_text().splitlines()]
        index = next(
            i
            for i, r in enumerate(records)
            if isinstance(r["msg"].get("params") or r["msg"].get("result"), dict)
        )
        msg = records[index]["msg"]
        (msg.get("params") or msg["result"])["deep"] = json.loads(_nested(MAX_DEPTH))
        bad = tmp_path / capture.name
        bad.write_text("".join(json.dumps(r) + "\n" for r in records))
        result = replay([bad], [Keep()])
        assert result.drops.counts["nested too deep"] == 1, capture.name
        assert result.drops.samples[0].where == f"{capture.name}:{index + 1}"


@pytest.mark.parametrize(
    "line",
    [
        _delta_line(b'{"threadId": "t", "delta": "hel')[:-3],  # truncated
        _delta_line(b'{"threadId": "t", "delta": "\xff\xfe"}'),  # invalid UTF-8 in a string
        _delta_line(b'{"threadId": "t", "delta": "x"'),  # a brace missing
        b'{"seq": 3, "ts_ms": 1, "dir": "server_to_client", "msg": {"method": "thread/status/ch',
    ],
)
def test_a_corrupted_line_of_an_ignored_method_is_counted(line: bytes) -> None:
    """Defect 6: deltas and status updates are never read, but a broken one is still counted."""
    observer = WireObserver(0, Drops(), families=FAMILIES)
    observer.source = "c.jsonl"
    assert observer.observe_line(line) == []
    assert observer.drops.counts == {"malformed line": 1}
    assert observer.drops.samples[0].where == "c.jsonl:1"


def test_an_intact_ignored_line_is_not_a_drop() -> None:
    observer = WireObserver(0, Drops(), families=FAMILIES)
    assert observer.observe_line(_delta_line(b'{"threadId": "t", "delta": "h\xc3\xa9"}')) == []
    assert observer.drops.total == 0
    assert observer.messages == 1


def test_capture_metadata_lines_are_not_drops() -> None:
    observer = WireObserver(0, Drops(), families=FAMILIES)
    meta = {
        "seq": 4,
        "ts_ms": 5,
        "dir": "meta",
        "meta": {
            "kind": "thread_repo",
            "thread_id": "t",
            "repo_hash": None,
            "repo_name": None,
            "branch": None,
        },
    }
    assert observer.observe_line(json.dumps(meta).encode()) == []
    assert observer.drops.total == 0


def test_the_recorder_keeps_a_deep_line_as_text_without_raising() -> None:
    wire = b'{"method": "item/agentMessage/delta", "params": ' + _nested(5_000) + b"}"
    record = json.loads(capture_record(0, "server_to_client", wire, 1))
    assert record["raw"] == wire.decode()
    assert "msg" not in record
    # At the limit it is still embedded as the message it is.
    ok = b'{"method": "x", "params": ' + _nested(MAX_DEPTH - 1) + b"}"
    assert json.loads(capture_record(1, "server_to_client", ok, 1))["msg"]["method"] == "x"


def test_the_live_tap_pipeline_counts_deep_and_broken_lines() -> None:
    live = LiveObserver([Keep()])
    live.observe("server_to_client", b'{"method": "x", "params": ' + _nested(10_000) + b"}", 1)
    live.observe("server_to_client", b'{"method": "item/agentMessage/delta", "params": {"d', 2)
    live.observe("server_to_client", b'{"method": "item/agentMessage/delta", "params": "\xff"}', 3)
    assert live.pipeline.drops.counts == {"nested too deep": 1, "malformed line": 2}


def test_the_library_counts_a_deep_or_cyclic_payload() -> None:
    delivery = InlineDelivery([Keep()])
    client = AnalyticsClient(delivery)
    deep: Any = []
    for _ in range(5_000):
        deep = [deep]
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    client.track_notification("turn/started", {"threadId": "t", "turn": deep})
    client.track_notification("turn/started", cyclic)
    client.track_message("server_to_client", {"method": "turn/started", "params": deep})
    client.track_notification("turn/started", {"x": json.loads(_nested(MAX_DEPTH + 5))})
    client.close()
    # Counted where the records are observed: the delivery's pipeline (the edge's drops).
    assert delivery.pipeline.drops.counts == {"nested too deep": 4}
    assert client.drops.counts == {}
