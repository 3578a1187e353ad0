"""The same scenarios, recorded with Codex 0.169.0 and 0.171.0, give the same events.

Both sets are real recordings (``tests/data/captures`` is 0.169.0, ``captures-0.171.0`` the
same scenarios re-recorded with 0.171.0 by ``capture.py`` and ``support/record_scenarios.py``).
Two recordings of one scenario can only differ in what is different from run to run, so the
comparison replaces exactly that, and nothing else:

* **ids Codex generates** — every UUID (thread, session, turn, item, review ids) is renamed
  to ``<id N>`` in order of first appearance over the whole event stream, so *which* events
  share an id (a turn's tool calls, a child thread's parent) must still match;
* **wall-clock values** — fields named ``*_at``, ``*_at_ms`` or ``*_ms`` (timestamps and the
  durations measured between them) become ``<time>`` when set; null must stay null;
* ``runtime.codex_rs_version`` — the release itself (asserted separately below);
* ``goal_id`` — synthesised from the thread id and the goal's creation time.

Every other value — event types and their order, counts, token usage from the scripted model,
statuses, error kinds, reviewed actions, hashes of accepted lines — must be equal.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from agentlytics.families import FAMILIES
from agentlytics.observe.edge import WireObserver
from tests.helpers import CAPTURES, LATER_CAPTURES, all_captures, replay_events

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
WALL_CLOCK = re.compile(r"(_at|_at_ms|_ms)$")
LATER = LATER_CAPTURES["0.171.0"]


def normalized(events: list[dict[str, Any]]) -> list[Any]:
    ids: dict[str, str] = {}

    def walk(key: str, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(k, v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(key, v) for v in value]
        if isinstance(value, str) and (UUID.match(value) or key == "goal_id"):
            return ids.setdefault(value, f"<id {len(ids)}>")
        if key == "codex_rs_version":
            return "<version>"
        if WALL_CLOCK.search(key) and value is not None:
            return "<time>"
        return value

    return [walk("", e) for e in events]


def test_every_scenario_is_recorded_with_both_versions() -> None:
    assert sorted(p.name for p in LATER.glob("*.jsonl")) == sorted(
        p.name for p in CAPTURES.glob("*.jsonl")
    )


@pytest.mark.parametrize("capture", all_captures(), ids=lambda p: p.stem)
def test_0_171_replays_to_the_events_of_0_169(capture: Path) -> None:
    old, new = replay_events(capture), replay_events(LATER / capture.name)
    assert {e["event_params"]["runtime"]["codex_rs_version"] for e in old if "runtime" in e["event_params"]} <= {"0.169.0"}  # fmt: skip
    assert {e["event_params"]["runtime"]["codex_rs_version"] for e in new if "runtime" in e["event_params"]} <= {"0.171.0"}  # fmt: skip
    assert normalized(new) == normalized(old)


def test_the_normalization_keeps_what_must_match() -> None:
    """Not vacuous: renamed ids keep their sharing, and a changed count still differs."""
    a = [{"x": {"thread_id": "01a20716-70b1-7d72-a1c1-837b995b89c6", "n": 1, "started_at": 5}}]
    b = [{"x": {"thread_id": "01a23b84-5c3b-7121-8082-ef1e04c71eb1", "n": 1, "started_at": 9}}]
    assert normalized(a) == normalized(b)
    assert normalized(a) != normalized([{"x": {**b[0]["x"], "n": 2}}])
    assert normalized(a) != normalized([{"x": {**b[0]["x"], "started_at": None}}])


@pytest.mark.parametrize("folder", [CAPTURES, LATER], ids=["0.169.0", "0.171.0"])
def test_no_drops_on_either_version(folder: Path) -> None:
    from agentlytics.replay import replay

    result = replay(sorted(folder.glob("*.jsonl")), [])
    assert (result.drops.counts, result.reducer_drops) == ({}, {})


def _line(direction: str, msg: str) -> bytes:
    return b'{"seq": 0, "ts_ms": 1, "dir": "%s", "msg": %s}' % (direction.encode(), msg.encode())


def test_0_171_methods_analytics_does_not_read_are_ignored_unknown_ones_counted() -> None:
    obs = WireObserver(0, families=FAMILIES)
    lines = [
        _line("server_to_client", '{"method": "thread/search/partial", "params": {"x": 1}}'),
        _line("client_to_server", '{"method": "modelProvider/default/set", "id": 9, "params": {}}'),
        _line("server_to_client", '{"id": 9, "result": {}}'),
    ]
    for line in lines:
        assert obs.observe_line(line) == []
    assert obs.drops.counts == {}
    obs.observe_line(_line("server_to_client", '{"method": "thread/fromTheFuture", "params": {}}'))
    obs.observe_line(_line("client_to_server", '{"method": "future/request", "id": 10}'))
    assert sum(obs.drops.counts.values()) == 2 and len(obs.drops.counts) == 2


def test_item_types_analytics_does_not_read_are_ignored_unknown_ones_counted() -> None:
    obs = WireObserver(0, families=FAMILIES)

    def item(kind: str) -> bytes:
        params = f'{{"threadId": "t", "turnId": "u", "item": {{"type": "{kind}", "id": "i"}}}}'
        return _line("server_to_client", f'{{"method": "item/started", "params": {params}}}')

    for known in ("sleep", "plan", "hookPrompt", "imageView", "functionCallOutput"):
        assert obs.observe_line(item(known)) == []
    assert obs.drops.counts == {}
    obs.observe_line(item("holodeckSession"))
    assert dict(obs.drops.counts) == {"unknown item type": 1}


def test_0_171_error_kind_and_mcp_environment_decode() -> None:
    """``CodexErrorInfo.bioPolicy`` (new in 0.171.0) has a kind; ``environmentId`` is read."""
    from agentlytics.observe.synthesize import codex_error_kind
    from agentlytics.protocol import types as t

    assert codex_error_kind("bioPolicy") == ("bio_policy", None)
    import msgspec

    item = msgspec.json.decode(
        b'{"type": "mcpToolCall", "id": "c", "server": "s", "tool": "t", "status": "completed",'
        b' "arguments": {}, "environmentId": "local"}',
        type=t.ThreadItem,
    )
    assert isinstance(item, t.McpToolCallItem) and item.environment_id == "local"
