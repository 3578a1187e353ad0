"""One warehouse of every real capture, and the same events decoded independently."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentlytics.query import Store, open_store
from agentlytics.replay import replay
from agentlytics.sinks.duckdb import DuckDBSink
from tests.helpers import all_captures, replay_events

#: gpt-5.5 in the bundled table (USD per 1M tokens): input, cached input, output, reasoning.
GPT55 = (5.00, 0.50, 30.00, 30.00)


@pytest.fixture(scope="session")
def events() -> list[dict[str, Any]]:
    """Every event of every capture in tests/data/captures, as plain JSON objects."""
    return replay_events(*all_captures())


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB warehouse holding the replay of every capture (through the real sink)."""
    path = tmp_path_factory.mktemp("query") / "captures.duckdb"
    sink = DuckDBSink(path)
    try:
        replay(all_captures(), [sink])
    finally:
        sink.close()
    return path


@pytest.fixture
def store(warehouse: Path) -> Iterator[Store]:
    handle = open_store(str(warehouse))
    try:
        yield handle
    finally:
        handle.close()


def of_type(events: list[dict[str, Any]], *types: str) -> list[dict[str, Any]]:
    return [e["event_params"] for e in events if e["event_type"] in types]


def qcont(values: list[float], q: float) -> float | None:
    """Linearly interpolated quantile (what SQL's continuous percentile computes)."""
    data = sorted(values)
    if not data:
        return None
    pos = (len(data) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def cost(
    inp: int, cached: int, out: int, reasoning: int, price: tuple[float, ...] = GPT55
) -> float:
    """Hand-computed USD: cached is part of input, reasoning part of output."""
    p_in, p_cached, p_out, p_reason = price
    return (
        (inp - cached) * p_in + cached * p_cached + (out - reasoning) * p_out + reasoning * p_reason
    ) / 1e6
