"""The library's edge work runs where the delivery reduces, not on the caller's thread.

``track_*`` hands a snapshot of each message to the delivery (``observe/deferred.py``); these
tests drive real captures through a real ``BackgroundDelivery`` (worker threads, SQLite spool,
and with a one-slot queue the spill file, which pickles the plain records) and compare with the
replay byte for byte, and check what the caller sees right after its calls.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path

import msgspec
import pytest

from agentlytics.client import AnalyticsClient
from agentlytics.events.envelope import Envelope
from agentlytics.facts import AppInvocation, ClientResponse, PluginMetadata
from agentlytics.library.worker import BackgroundDelivery
from agentlytics.observe.deferred import DeferredTracking, ObservedMessage
from agentlytics.pipeline import Pipeline
from agentlytics.protocol.wire import CLIENT_TO_SERVER, SERVER_TO_CLIENT, Message
from helpers import capture_path, replay_events_bytes
from test_library_api import drive


class Collect:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    def write(self, batch: Sequence[Envelope]) -> None:
        self.envelopes.extend(batch)

    def close(self) -> None:
        pass


def _background(tmp_path: Path, sink: Collect, **kw: object) -> BackgroundDelivery:
    return BackgroundDelivery(lambda: sink, spool_dir=tmp_path / "spool", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("queue_size", [10_000, 1], ids=["queued", "spilled"])
@pytest.mark.parametrize(
    "name", ["hooks", "shell_accept", "goals", "subagent", "apply_patch_accept"]
)
def test_background_delivery_gives_the_replay_events_byte_for_byte(
    tmp_path: Path, name: str, queue_size: int
) -> None:
    sink = Collect()
    delivery = _background(tmp_path, sink, queue_size=queue_size, full_policy="spill")
    client = AnalyticsClient(delivery)
    drive(client, capture_path(name))
    assert client.close(60)
    want = replay_events_bytes(capture_path(name))
    got = [e.body for e in sink.envelopes]
    # A fingerprint chunk travels in a request of its own, so it may leave before or after the
    # regular events around it; each kind keeps its order, and nothing is missing or repeated.
    isolated = [e.body for e in sink.envelopes if e.isolated]
    assert sorted(got) == sorted(want)
    assert [b for b in got if b not in isolated] == [b for b in want if b not in isolated]
    assert isolated == [b for b in want if b in isolated]
    assert client.drops.total == 0
    assert delivery.stats()["wire_drops"] == {}
    if queue_size == 1:
        assert delivery.stats()["spilled"] > 0, "the one-slot queue must have spilled"


def test_tracking_is_filled_in_from_the_traffic_before_the_call(tmp_path: Path) -> None:
    sink = Collect()
    client = AnalyticsClient(_background(tmp_path, sink))
    client.track_initialize({"clientInfo": {"name": "my-host", "version": "2.0"}}, at_ms=1)
    client.track_request("thread/start", {"cwd": "/nowhere"}, request_id=1, at_ms=2)
    thread = {"id": "t-1", "sessionId": "s-1", "createdAt": 5, "ephemeral": False}
    client.track_response(
        1, {"thread": thread, "model": "gpt-x", "modelProvider": "openai"}, at_ms=3
    )
    tracking = client.tracking("t-1", "turn-1")
    # Nothing waited for the delivery: the context is resolved when the event is built.
    assert type(tracking) is DeferredTracking and tracking.model_slug is None
    client.track_app_used(tracking, AppInvocation("drive", "Drive", "explicit"))
    client.track_plugin_installed(_plugin())
    assert client.close(60)
    events = [e.to_dict() for e in sink.envelopes]
    assert [e["event_type"] for e in events] == [
        "codex_thread_initialized",
        "codex_app_used",
        "codex_plugin_installed",
    ]
    assert events[1]["event_params"] == {
        "connector_id": "drive",
        "thread_id": "t-1",
        "turn_id": "turn-1",
        "app_name": "Drive",
        "product_client_id": "my-host",
        "invoke_type": "explicit",
        "model_slug": "gpt-x",
    }
    assert events[2]["event_params"]["product_client_id"] == "my-host"


def test_an_explicit_context_is_left_as_given(tmp_path: Path) -> None:
    sink = Collect()
    client = AnalyticsClient(_background(tmp_path, sink))
    client.track_initialize({"clientInfo": {"name": "my-host", "version": "2.0"}}, at_ms=1)
    client.track_app_used(client.tracking("t-1", "turn-1", "chosen"), AppInvocation("a"))
    assert client.close(60)
    (app,) = [e.to_dict() for e in sink.envelopes if e.event_type == "codex_app_used"]
    assert app["event_params"]["model_slug"] == "chosen"
    assert app["event_params"]["product_client_id"] == "my-host"


def test_a_host_changing_its_dict_after_the_call_changes_nothing(tmp_path: Path) -> None:
    sink = Collect()
    delivery = _background(tmp_path, sink)
    client = AnalyticsClient(delivery)
    params = {"threadId": "t-9"}
    client.track_notification("thread/archived", params, at_ms=7)
    params["threadId"] = "changed"
    assert client.close(60)
    (event,) = [e.to_dict() for e in sink.envelopes]
    assert event["event_params"]["thread_id"] == "t-9"


def test_a_malformed_message_is_a_drop_counted_by_the_delivery(tmp_path: Path) -> None:
    sink = Collect()
    delivery = _background(tmp_path, sink)
    client = AnalyticsClient(delivery)
    client.track_notification("turn/started", {"threadId": 5}, at_ms=1)
    client.track_server_request_aborted(99, at_ms=2)
    assert client.flush(60)
    drops = delivery.stats()["wire_drops"]
    assert drops == {
        "undecodable turn/started": 1,
        "aborted server request that was never tracked": 1,
    }
    client.close(60)


def test_a_spilled_record_is_plain_data_that_pairs_by_connection_in_any_pipeline() -> None:
    """A record names its connection by id, never a live observer: pickled (spilled) and read
    back, in this process or another, it is equal to what was submitted, and a pipeline pairs
    it with the connection's later records (the request is remembered, the response pairs)."""
    request = ObservedMessage(
        7, "stdio", CLIENT_TO_SERVER, Message(method="thread/start", id=1, params=_raw({})), 10
    )
    result = {"thread": {"id": "t", "sessionId": "s", "createdAt": 1}, "model": "m"}
    response = ObservedMessage(7, "stdio", SERVER_TO_CLIENT, Message(id=1, result=_raw(result)), 11)
    spilled = [pickle.loads(pickle.dumps(r)) for r in (request, response)]
    assert spilled == [request, response]
    pipeline = Pipeline()
    observer = pipeline.library_observer(spilled[0])
    assert spilled[0].expand(observer) == []
    (paired,) = [f for f in spilled[1].expand(observer) if isinstance(f, ClientResponse)]
    assert (paired.connection_id, paired.request_id, paired.method) == (7, 1, "thread/start")
    assert pipeline.library_observer(spilled[1]) is observer


def _raw(value: object) -> msgspec.Raw:
    return msgspec.Raw(msgspec.json.encode(value))


def _plugin() -> PluginMetadata:
    return PluginMetadata(plugin_name="sample", marketplace_name="test", has_skills=False)
