"""The ClickHouse DDL and report queries of docs/clickhouse.sql, on chdb (embedded ClickHouse).

The same events, each delivered twice (Kafka is at least once), into ClickHouse's tables and
into a DuckDB warehouse: ``tools`` and ``daily`` (tokens; cost is left to the price join) give
the same rows once ReplacingMergeTree's FINAL has folded the repeats.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import msgspec
import pytest

from agentlytics import query
from agentlytics.query import Filters
from agentlytics.query.store import DuckDBStore
from agentlytics.warehouse.store import Warehouse
from agentlytics.warehouse.typed import typed_tables

from ..helpers import ROOT
from ..streams import expected, flat_facts

chdb_session = pytest.importorskip("chdb.session")

SQL = ROOT / "docs" / "clickhouse.sql"


def statements() -> tuple[list[str], dict[str, str]]:
    """(DDL statements, report queries by their ``-- name:``) of docs/clickhouse.sql."""
    ddl: list[str] = []
    named: dict[str, str] = {}
    for chunk in SQL.read_text().split(";\n"):
        lines = chunk.strip().splitlines()
        name = next(
            (ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("-- name:")), None
        )
        body = "\n".join(ln for ln in lines if not ln.strip().startswith("--")).strip()
        if not body:
            continue
        if name:
            named[name] = body
        else:
            ddl.append(body)
    return ddl, named


def event_day(ts_ms: int | None) -> str:
    """What the collector would send as the event's partition day (1970-01-01 if untimed)."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp((ts_ms or 0) / 1000, tz=UTC).strftime("%Y-%m-%d")


def test_clickhouse_tables_and_reports_match_duckdb_with_every_event_twice(tmp_path: Path) -> None:
    events = expected(flat_facts(300, seed=51))
    path = tmp_path / "w.duckdb"
    with Warehouse(path) as wh:
        wh.insert(events)
    # Each event's day, from its typed row's time, as a collector producing to Kafka would.
    ts: dict[str, int | None] = {}
    for _, table in typed_tables(
        [e.event_id for e in events], [e.event_type for e in events], [e.body for e in events]
    ):
        ts.update(
            zip(
                table.column("event_id").to_pylist(), table.column("ts_ms").to_pylist(), strict=True
            )
        )
    rows = "\n".join(
        json.dumps(
            {
                "event_id": e.event_id,
                "event_type": e.event_type,
                "thread_id": e.thread_id,
                "turn_id": e.turn_id,
                "event_day": event_day(ts.get(e.event_id)),
                "payload": e.body.decode(),
            }
        )
        for e in events
    )
    ddl, reports = statements()
    session = chdb_session.Session()
    try:
        session.query("CREATE DATABASE IF NOT EXISTS agentlytics ENGINE = Atomic")
        session.query("USE agentlytics")
        for statement in ddl:
            session.query(statement)
        for _ in range(2):  # at least once: every event arrives twice
            session.query("INSERT INTO events FORMAT JSONEachRow\n" + rows)
        stored = session.query("SELECT count() AS n FROM events FINAL", "JSONEachRow")
        assert json.loads(str(stored)) == {"n": len(events)}

        def run(name: str) -> list[dict[str, Any]]:
            out = str(session.query(reports[name], "JSONEachRow")).strip()
            return [json.loads(line) for line in out.splitlines()]

        click_tools, click_daily = run("tools"), run("daily")
    finally:
        session.close()

    duck = DuckDBStore(str(path))
    try:
        want_tools = msgspec.to_builtins(query.tools(duck, Filters()))
        want_daily = msgspec.to_builtins(query.daily(duck, Filters()))
    finally:
        duck.close()
    assert len(click_tools) == len(want_tools) > 3
    for got, want in zip(click_tools, want_tools, strict=True):
        assert (got["kind"], got["tool_name"]) == (want["kind"], want["tool_name"])
        assert (int(got["calls"]), int(got["failed"])) == (want["calls"], want["failed"])
        for key in ("p50_ms", "p95_ms", "p99_ms"):
            if want[key] is None:
                assert got[key] is None or math.isnan(float(got[key]))
            else:
                assert math.isclose(float(got[key]), want[key], rel_tol=1e-9)
    assert [
        {k: (int(v) if k != "day" else v) for k, v in row.items()} for row in click_daily
    ] == [
        {
            k: want[k]
            for k in ("day", "turns", "input_tokens", "cached_input_tokens", "output_tokens",
                      "reasoning_output_tokens", "total_tokens")
        }
        for want in want_daily
    ]  # fmt: skip
