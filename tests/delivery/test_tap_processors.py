"""The tap is one ``source → Pipeline → processors`` composition: its local sinks and its
``--send`` delivery get the same sealed events, each fact reduced once, by the tap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentlytics.library.sealed import SealedDelivery, SealedPipeline
from agentlytics.library.worker import BackgroundDelivery
from agentlytics.live import LiveObserver

from ..helpers import capture_path, replay_events_bytes
from .sessions import Collect


@pytest.mark.parametrize("name", ["shell_accept", "hooks", "apply_patch_accept"])
def test_local_sinks_and_send_get_the_replay_events_from_one_reduction(
    tmp_path: Path, name: str
) -> None:
    local, sent = Collect(), Collect()
    delivery = BackgroundDelivery(
        lambda: sent, spool_dir=tmp_path / "spool", pipeline_factory=SealedPipeline
    )
    observer = LiveObserver([local], processors=[SealedDelivery(delivery)])
    _feed(observer, name)
    observer.close()
    want = replay_events_bytes(capture_path(name))
    assert [e.body for e in local.envelopes] == want
    # Fingerprint chunks travel alone, so only the multiset is the sent order's invariant.
    assert sorted(e.body for e in sent.envelopes) == sorted(want)
    stats = delivery.stats()
    # The delivery's pipeline passed the tap's envelopes through: nothing reduced twice.
    assert observer.pipeline.events == len(want) == stats["spooled_events"]
    assert stats["reducer_drops"] == {} and stats["dropped"] == {}


def test_a_sealed_delivery_refuses_a_delivery_that_would_reduce_again(tmp_path: Path) -> None:
    delivery = BackgroundDelivery(lambda: Collect(), spool_dir=tmp_path / "spool")
    try:
        with pytest.raises(ValueError, match="SealedPipeline"):
            SealedDelivery(delivery)
    finally:
        delivery.close(5)


def test_a_failing_local_sink_is_counted_and_the_delivery_still_gets_every_event(
    tmp_path: Path,
) -> None:
    class Broken:
        def write(self, batch: object) -> None:
            raise OSError("disk full")

        def close(self) -> None:
            pass

    sent = Collect()
    delivery = BackgroundDelivery(
        lambda: sent, spool_dir=tmp_path / "spool", pipeline_factory=SealedPipeline
    )
    observer = LiveObserver([Broken()], processors=[SealedDelivery(delivery)])
    _feed(observer, "hooks")
    observer.close()
    want = replay_events_bytes(capture_path("hooks"))
    assert sorted(e.body for e in sent.envelopes) == sorted(want)
    assert observer.sink_errors > 0


def _feed(observer: LiveObserver, name: str) -> None:
    for line in capture_path(name).read_text().splitlines():
        record = json.loads(line)
        if "dir" in record:
            observer.observe(record["dir"], json.dumps(record["msg"]).encode(), record["ts_ms"])
