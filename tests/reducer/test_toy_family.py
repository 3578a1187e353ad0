"""A new event family is one module and one list entry: this file is the whole toy family.

Its own fact, an edge handler for a made-up server notification (with per-connection edge
state), a reducer handler and an event — plugged in with ``Pipeline(families=[*FAMILIES, toy])``
and fed real-shaped JSON-RPC capture lines. Nothing under ``src/`` knows about it.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import msgspec

from agentlytics.events.common import AppServerClient, Runtime
from agentlytics.events.envelope import EventParams, TrackEvent, track
from agentlytics.facts import Fact
from agentlytics.families import FAMILIES, Family
from agentlytics.observe.edge import EdgeHandlers, WireObserver
from agentlytics.pipeline import Pipeline
from agentlytics.reducer.state import ReducerState

# --- the toy family ------------------------------------------------------------------------------


class ToyNudgedParams(msgspec.Struct, rename="camel"):
    """``toy/nudged`` params (a made-up server notification)."""

    thread_id: str
    strength: int


class ToyNudged(Fact, frozen=True):
    connection_id: int
    thread_id: str
    strength: int
    #: How many nudges this connection has seen so far (edge state, per connection).
    nudge_number: int
    observed_at_ms: int


class ToyNudgeEvent(EventParams):
    EVENT_TYPE: ClassVar[str] = "toy_nudge_event"

    thread_id: str
    session_id: str
    app_server_client: AppServerClient
    runtime: Runtime
    strength: int
    nudge_number: int
    observed_at_ms: int


class ToyEdge:
    """The toy family's per-connection edge state."""

    def __init__(self, observer: WireObserver) -> None:
        self.nudges = 0


def on_nudged(observer: WireObserver, raw: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    params = msgspec.json.decode(raw or b"null", type=ToyNudgedParams)
    state = observer.edge(ToyEdge)
    state.nudges += 1
    return [
        ToyNudged(observer.connection_id, params.thread_id, params.strength, state.nudges, ts_ms)
    ]


def on_toy_nudged(state: ReducerState, fact: ToyNudged) -> list[TrackEvent]:
    scope = state.thread_scope(fact.thread_id, "toy nudge")
    if scope is None:
        return []
    return [
        track(
            ToyNudgeEvent(
                thread_id=scope.thread_id,
                session_id=scope.session_id,
                app_server_client=scope.app_server_client,
                runtime=scope.runtime,
                strength=fact.strength,
                nudge_number=fact.nudge_number,
                observed_at_ms=fact.observed_at_ms,
            )
        )
    ]


TOY = Family(
    "toy",
    edge=EdgeHandlers(notifications={"toy/nudged": on_nudged}, state=ToyEdge),
    reducers={ToyNudged: on_toy_nudged},
    events=(ToyNudgeEvent,),
)

# --- real-shaped traffic -------------------------------------------------------------------------

C2S, S2C = "client_to_server", "server_to_client"


def line(direction: str, msg: dict[str, Any], ts: int) -> bytes:
    return json.dumps({"seq": 0, "ts_ms": ts, "dir": direction, "msg": msg}).encode()


LINES = [
    line(
        C2S,
        {
            "method": "initialize",
            "id": 0,
            "params": {"clientInfo": {"name": "codex-tui", "version": "1.2.3"}},
        },
        1_000,
    ),
    line(
        S2C,
        {
            "id": 0,
            "result": {
                "userAgent": "codex_cli_rs/0.171.0 (Debian 12.0.0; x86_64)",
                "platformOs": "linux",
                "codexHome": "/home/u/.codex",
            },
        },
        1_001,
    ),
    line(C2S, {"method": "thread/start", "id": 1, "params": {}}, 1_002),
    line(
        S2C,
        {
            "id": 1,
            "result": {
                "thread": {"id": "thr-1", "sessionId": "ses-1", "createdAt": 7, "ephemeral": False},
                "model": "gpt-5.5",
                "modelProvider": "openai",
            },
        },
        1_003,
    ),
    line(S2C, {"method": "toy/nudged", "params": {"threadId": "thr-1", "strength": 3}}, 2_000),
    line(S2C, {"method": "toy/nudged", "params": {"threadId": "thr-1", "strength": 5}}, 2_500),
]


def replay(pipeline: Pipeline) -> list[bytes]:
    observer = pipeline.connection()
    bodies: list[bytes] = []
    for raw in LINES:
        bodies += [envelope.body for envelope in pipeline.observe_line(observer, raw)]
    bodies += [envelope.body for envelope in pipeline.close(observer)]
    return bodies


def expected(strength: int, number: int, at: int) -> bytes:
    return msgspec.json.encode(
        {
            "event_type": "toy_nudge_event",
            "event_params": {
                "thread_id": "thr-1",
                "session_id": "ses-1",
                "app_server_client": {
                    "product_client_id": "codex-tui",
                    "client_name": "codex-tui",
                    "client_version": "1.2.3",
                    "rpc_transport": "stdio",
                    "experimental_api_enabled": None,
                },
                "runtime": {
                    "codex_rs_version": "0.171.0",
                    "runtime_os": "linux",
                    "runtime_os_version": "12.0.0",
                    "runtime_arch": "x86_64",
                },
                "strength": strength,
                "nudge_number": number,
                "observed_at_ms": at,
            },
        }
    )


def test_a_family_added_to_the_list_emits_its_event() -> None:
    with_toy = replay(Pipeline(families=[*FAMILIES, TOY]))
    toy = [body for body in with_toy if b'"toy_nudge_event"' in body]
    assert toy == [expected(3, 1, 2_000), expected(5, 2, 2_500)]


def test_the_other_families_are_untouched_and_without_it_the_method_is_unknown() -> None:
    plain = Pipeline()
    without = replay(plain)
    with_toy = replay(Pipeline(families=[*FAMILIES, TOY]))
    assert [body for body in with_toy if b'"toy_nudge_event"' not in body] == without
    assert b'"codex_thread_initialized"' in without[0]
    assert plain.drops.counts["unknown server notification method"] == 2


def test_each_connection_counts_its_own_nudges() -> None:
    pipeline = Pipeline(families=[*FAMILIES, TOY])
    first, second = replay(pipeline), replay(pipeline)
    numbers = [
        msgspec.json.decode(body)["event_params"]["nudge_number"]
        for body in first + second
        if b'"toy_nudge_event"' in body
    ]
    assert numbers == [1, 2, 1, 2]
