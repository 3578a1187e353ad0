"""``sinks.config.from_config``: every driver builds its sinks from one typed config each."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentlytics.config import DeliveryConfig
from agentlytics.replay import replay
from agentlytics.sinks.config import (
    DuckDBSinkConfig,
    HttpSinkConfig,
    JsonlSinkConfig,
    from_config,
)
from helpers import capture_path, replay_events_bytes


def test_jsonl_and_duckdb_sinks_from_their_configs_store_the_replay(tmp_path: Path) -> None:
    capture = capture_path("shell_accept")
    jsonl = from_config(JsonlSinkConfig(str(tmp_path / "events.jsonl")))
    duck = from_config(DuckDBSinkConfig(str(tmp_path / "w.duckdb")))
    result = replay([capture], [jsonl, duck])
    jsonl.close()
    want = replay_events_bytes(capture)
    assert (tmp_path / "events.jsonl").read_bytes() == b"".join(b + b"\n" for b in want)
    assert duck.stored == result.events == len(want)
    duck.close()


def test_the_http_sink_config_comes_from_the_delivery_config() -> None:
    config = DeliveryConfig(endpoint="http://127.0.0.1:9", token="t", headers={"a": "b"})
    http = HttpSinkConfig.from_delivery(config)
    assert (http.endpoint, http.token, http.headers, http.gzip) == (
        "http://127.0.0.1:9", "t", {"a": "b"}, True
    )  # fmt: skip
    sink = from_config(http)
    try:
        assert sink.url.startswith("http://127.0.0.1:9/")
    finally:
        sink.close()
    with pytest.raises(ValueError, match="no delivery endpoint"):
        HttpSinkConfig.from_delivery(DeliveryConfig())
