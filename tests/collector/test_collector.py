"""The collector over real HTTP: auth, limits, gzip, validation, idempotent storage, logs."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentlytics.events.envelope import Envelope
from agentlytics.protocol.ingest import IDS_HEADER, MAX_EXPLICIT_IDS, PATH
from agentlytics.sinks.http import encode_batch

from ..collector_proc import TOKEN, Collector
from ..streams import expected, flat_facts

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    c = Collector(
        tmp_path_factory.mktemp("collector"),
        AGENTLYTICS_COLLECTOR_MAX_REQUEST_BYTES="200000",
        AGENTLYTICS_COLLECTOR_MAX_DECOMPRESSED_BYTES="1000000",
    ).start()
    yield c
    c.stop()


def post(c: Collector, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(c.url + PATH, content=body, headers=headers or {}, timeout=10)


@pytest.fixture(scope="module")
def events() -> list[Envelope]:
    return expected(flat_facts(40, seed=11))


def test_batch_is_stored_once_even_when_resent(
    collector: Collector, events: list[Envelope]
) -> None:
    batch = events[:50]
    body = gzip.compress(encode_batch(batch))
    headers = {**AUTH, "Content-Encoding": "gzip", "Content-Type": "application/json"}
    first = post(collector, body, headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 50, "stored": 50}
    again = post(collector, body, headers)
    assert again.json() == {"accepted": 50, "stored": 0}
    # A batch overlapping the stored one only adds its new events.
    overlap = post(collector, encode_batch(events[25:75]), AUTH)
    assert overlap.json() == {"accepted": 50, "stored": 25}


def test_rejections_store_nothing(collector: Collector, events: list[Envelope]) -> None:
    fresh = events[100:110]
    good = encode_batch(fresh)
    cases: list[tuple[int, bytes, dict[str, str], str]] = [
        (401, good, {}, "missing bearer token"),
        (401, good, {"Authorization": "Basic abc"}, "missing bearer token"),
        (403, good, {"Authorization": "Bearer wrong"}, "invalid token"),
        (413, b" " * 200_001, AUTH, "exceeds the limit"),
        (
            413,
            gzip.compress(b" " * 2_000_000),
            {**AUTH, "Content-Encoding": "gzip"},
            "decompressed",
        ),
        (400, b"{not json", AUTH, "malformed JSON"),
        (400, gzip.compress(good)[:-9], {**AUTH, "Content-Encoding": "gzip"}, "gzip"),
        (400, b'{"events":{}}', AUTH, "$.events"),
        (400, b'{"events":[],"extra":1}', AUTH, "extra"),
    ]
    # Schema-invalid: the 7th event's params are not an object; a thread_id that is a number.
    bad = [json.loads(e.body) for e in fresh]
    bad[6]["event_params"] = ["not", "an", "object"]
    cases.append((400, json.dumps({"events": bad}).encode(), AUTH, "events[6]"))
    bad = [json.loads(e.body) for e in fresh]
    bad[3]["event_params"]["thread_id"] = 42
    cases.append((400, json.dumps({"events": bad}).encode(), AUTH, "$.event_params.thread_id"))
    bad = [json.loads(e.body) for e in fresh]
    del bad[2]["event_type"]
    cases.append((400, json.dumps({"events": bad}).encode(), AUTH, "event_type"))
    for status, body, headers, reason in cases:
        r = post(collector, body, headers)
        assert r.status_code == status, (status, reason, r.text)
        assert reason in r.json()["reason"], (reason, r.json())
    schema = post(collector, json.dumps({"events": bad}).encode(), AUTH).json()
    assert schema["index"] == 2
    # None of the events of the rejected batches was stored: now they are all new.
    assert post(collector, good, AUTH).json() == {"accepted": 10, "stored": 10}


def test_reason_names_event_type_and_field(collector: Collector, events: list[Envelope]) -> None:
    bad = [json.loads(e.body) for e in events[115:120]]
    bad[4]["event_params"]["turn_id"] = {"x": 1}
    body = post(collector, json.dumps({"events": bad}).encode(), AUTH).json()
    assert body["index"] == 4
    assert body["event_type"] == bad[4]["event_type"]
    assert body["field"] == "$.event_params.turn_id"
    # A catalog-level failure (right shape, wrong field type) is named as precisely.
    turn = next(json.loads(e.body) for e in events[100:] if e.event_type == "codex_turn_event")
    turn["event_params"]["status"] = 5
    body = post(collector, json.dumps({"events": [turn]}).encode(), AUTH).json()
    assert (body["index"], body["event_type"], body["field"]) == (
        0,
        "codex_turn_event",
        "$.event_params.status",
    )
    assert body["reason"] == (
        "events[0] (codex_turn_event) at $.event_params.status: Expected `str | null`, got `int`"
    )


def test_repeated_identical_events_keep_their_own_ids(
    collector: Collector, events: list[Envelope]
) -> None:
    raw = events[125].body
    ordinal_id = hashlib.sha256(raw + b"\x001").hexdigest()
    body = b'{"events":[' + raw + b"," + raw + b"]}"
    r = post(collector, body, {**AUTH, IDS_HEADER: f"1={ordinal_id}"})
    assert r.json() == {"accepted": 2, "stored": 2}
    assert post(collector, body, {**AUTH, IDS_HEADER: "1=zz"}).status_code == 400


def test_the_largest_event_id_header_a_sink_sends_is_accepted(
    collector: Collector, events: list[Envelope]
) -> None:
    # The HTTP sink puts at most MAX_EXPLICIT_IDS ids in one request's header (~7 KB); the
    # server's HTTP parser (httptools, or h11 with its raised limit) must take that header.
    raw = events[126].body
    copies = MAX_EXPLICIT_IDS + 1

    def ordinal_id(k: int) -> str:  # as the sealer ids the k-th repeat of an event
        return hashlib.sha256(raw + b"\x00" + str(k).encode()).hexdigest()

    ids = [f"{k}={ordinal_id(k)}/{k}" for k in range(1, copies)]
    body = b'{"events":[' + b",".join([raw] * copies) + b"]}"
    r = post(collector, body, {**AUTH, IDS_HEADER: ",".join(ids)})
    assert r.json() == {"accepted": copies, "stored": copies}


def test_health_and_logs_never_show_the_token(collector: Collector) -> None:
    assert httpx.get(collector.url + "/healthz").json() == {"status": "ok"}
    post(collector, b'{"events":[]}', {"Authorization": "Bearer wrong-token-xyz"})
    lines = [json.loads(line) for line in collector.log_lines()]
    requests = [line for line in lines if "status" in line]
    assert requests, lines
    assert {"method", "path", "status", "events", "stored", "duration_ms"} <= set(requests[-1])
    text = Path(collector.log).read_text()
    assert TOKEN not in text and "wrong-token-xyz" not in text
