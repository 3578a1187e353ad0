"""Cost from the price table (bundled, configured, unknown models) and the typed tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pytest

from agentlytics.config import load
from agentlytics.events.envelope import Envelope, event_id_for
from agentlytics.query import Filters, open_store, reports
from agentlytics.query.pricing import bundled, estimate_cost
from agentlytics.warehouse.schema import FAMILY_TABLES, SCHEMA_VERSION, duckdb_fill_sql
from agentlytics.warehouse.store import Warehouse

from .conftest import cost


def _turn_event(events: list[dict[str, Any]], **changes: Any) -> Envelope:
    """A real captured turn event with some fields changed, sealed like any other event."""
    base = next(e for e in events if e["event_type"] == "codex_turn_event")
    doc = {"event_type": base["event_type"], "event_params": {**base["event_params"], **changes}}
    body = msgspec.json.encode(doc)
    return Envelope(
        event_id=event_id_for(body),
        event_type=doc["event_type"],
        body=body,
        thread_id=doc["event_params"]["thread_id"],
        turn_id=doc["event_params"]["turn_id"],
        isolated=False,
    )


def test_bundled_table_is_dated_and_sourced() -> None:
    table = bundled()
    assert table.source.startswith("https://openai.com/api/pricing")
    assert table.as_of == "2026-06-15"
    assert table.models["gpt-5.5"].input == 5.0 and table.models["gpt-5.5"].cached_input == 0.5


def test_estimate_cost_splits_cached_and_reasoning_tokens() -> None:
    # 10,000 input of which 4,000 cached; 3,000 output of which 1,000 reasoning, on gpt-5.4.
    assert estimate_cost("gpt-5.4", 10_000, 4_000, 3_000, 1_000) == pytest.approx(
        (6_000 * 2.50 + 4_000 * 0.25 + 2_000 * 15.00 + 1_000 * 15.00) / 1e6, rel=1e-12
    )
    assert estimate_cost("no-such-model", 10, 0, 10, 0) is None
    assert estimate_cost(None, 10, 0, 10, 0) is None


def test_sql_cost_matches_hand_computed_prices_for_every_token_kind(
    tmp_path: Path, events: list[dict[str, Any]]
) -> None:
    path = tmp_path / "w.duckdb"
    priced = _turn_event(
        events,
        turn_id="t-priced",
        model="gpt-5-mini",
        input_tokens=123_456,
        cached_input_tokens=100_000,
        output_tokens=7_890,
        reasoning_output_tokens=4_321,
        total_tokens=131_346,
    )
    unknown = _turn_event(
        events,
        turn_id="t-unknown",
        model="mystery-1",
        input_tokens=10,
        cached_input_tokens=0,
        output_tokens=5,
        reasoning_output_tokens=0,
        total_tokens=15,
    )
    with Warehouse(path) as w:
        w.insert([priced])
    with open_store(str(path)) as store:
        (row,) = reports.daily(store, Filters())
        want = cost(123_456, 100_000, 7_890, 4_321, (0.25, 0.025, 2.00, 2.00))
        assert row.cost_usd == pytest.approx(want, rel=1e-12)
        assert row.cost_usd == pytest.approx(
            estimate_cost("gpt-5-mini", 123_456, 100_000, 7_890, 4_321), rel=1e-12
        )
    with Warehouse(path) as w:
        w.insert([unknown])
    with open_store(str(path)) as store:
        (mixed,) = reports.daily(store, Filters())
        assert mixed.cost_usd is None  # never a partial sum, never 0
        by_model = {r.model: r.cost_usd for r in reports.daily(store, Filters(), by_model=True)}
        assert by_model == {"gpt-5-mini": pytest.approx(want, rel=1e-12), "mystery-1": None}
        assert reports.unpriced_models(store, Filters()) == ["mystery-1"]
        assert reports.overview(store, Filters()).unpriced_models == ["mystery-1"]


def test_configured_prices_override_the_bundled_table(
    tmp_path: Path, warehouse: Path, events: list[dict[str, Any]]
) -> None:
    config = tmp_path / "agentlytics.toml"
    config.write_text('[pricing.models."gpt-5.5"]\ninput = 1.0\noutput = 2.0\n')
    prices = bundled().with_overrides(load(config, environ={}).pricing)
    assert (
        prices.models["gpt-5.5"].cached_input == 1.0 and prices.models["gpt-5.5"].reasoning == 2.0
    )
    with open_store(str(warehouse), prices=prices) as store:
        (row,) = reports.daily(store, Filters())
    assert row.cost_usd == pytest.approx((50_800 * 1.0 + 1_798 * 2.0) / 1e6, rel=1e-12)


def test_typed_rows_from_inserts_equal_the_sql_extraction(warehouse: Path) -> None:
    """The Python extraction at insert time and the SQL one (upgrades) agree, row for row."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for family in FAMILY_TABLES:
            con.execute(
                f"CREATE TEMP TABLE sql_{family.table} AS SELECT * FROM {family.table} LIMIT 0"
            )
            con.execute(
                duckdb_fill_sql(family, "events").replace(
                    f"INSERT INTO {family.table} ", f"INSERT INTO sql_{family.table} ", 1
                )
            )
            inserted = con.execute(f"SELECT * FROM {family.table} ORDER BY event_id").fetchall()
            extracted = con.execute(
                f"SELECT * FROM sql_{family.table} ORDER BY event_id"
            ).fetchall()
            assert inserted == extracted, family.table
            events = con.execute(
                "SELECT count(*) FROM events WHERE event_type IN (SELECT unnest(?))",
                [list(family.event_types)],
            ).fetchone()
            assert events is not None and len(inserted) == events[0], family.table
    finally:
        con.close()


def test_typed_rows_are_added_once_whatever_path_a_batch_takes(
    tmp_path: Path, events: list[dict[str, Any]]
) -> None:
    a = _turn_event(events, turn_id="t-a")
    b = _turn_event(events, turn_id="t-b")
    with Warehouse(tmp_path / "w.duckdb") as w:
        assert w.insert([a]) == 1
        assert w.insert([a]) == 0  # a retry
        assert w.insert([a, b, b]) == 1  # old, new, and the new one again in the batch
        turns = w.con.execute("SELECT turn_id FROM turns ORDER BY 1").fetchall()
        version = w.con.execute("SELECT version FROM schema_version").fetchall()
    assert turns == [("t-a",), ("t-b",)]
    assert version == [(SCHEMA_VERSION,)]


def test_a_value_beyond_int64_keeps_the_event_but_not_its_typed_row(
    tmp_path: Path, events: list[dict[str, Any]]
) -> None:
    huge = _turn_event(events, turn_id="t-huge", duration_ms=2**64 - 1)
    fine = _turn_event(events, turn_id="t-fine")
    with Warehouse(tmp_path / "w.duckdb") as w:
        assert w.insert([huge, fine]) == 2
        assert w.con.execute("SELECT turn_id FROM turns").fetchall() == [("t-fine",)]
        assert w.count() == 2
