"""The collector computes every id itself (issue 20, defect 9): from the canonical JSON, which
must be exactly the bytes the Sealer made, or sink-sent repeats would no longer match."""

from __future__ import annotations

import json

import pytest

from agentlytics.collector.validation import ValidationFailed, event_ids, validate_events
from agentlytics.events.catalog import decode_event
from agentlytics.events.envelope import encode, event_id_for
from agentlytics.sinks.http import encode_batch
from helpers import all_captures, replay_events_bytes

from ..streams import expected, flat_facts


def test_the_canonical_form_of_every_sealed_event_is_its_own_bytes() -> None:
    bodies = replay_events_bytes(*all_captures()) + [
        e.body for e in expected(flat_facts(60, seed=5))
    ]
    assert len({json.loads(b)["event_type"] for b in bodies}) >= 15
    assert [encode(decode_event(b)) for b in bodies] == bodies


def test_ids_are_recomputed_and_a_mismatch_is_refused() -> None:
    envelope = expected(flat_facts(2, seed=9))[0]
    twice = validate_events(encode_batch([envelope, envelope]))
    plain = event_id_for(envelope.body)
    repeat = event_id_for(envelope.body, 1)
    assert event_ids(twice, None) == [plain, plain]
    assert event_ids(twice, f"1={repeat}/1") == [plain, repeat]
    assert event_ids(twice, f"1={repeat}") == [plain, repeat]  # older senders: searched
    for header in (
        f"1={'0' * 64}",
        f"1={repeat}/2",
        f"0={repeat}/1,1={repeat}/1,1=x",
        "2=" + repeat,
    ):
        with pytest.raises(ValidationFailed):
            event_ids(twice, header)
