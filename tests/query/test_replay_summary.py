"""`replay`'s summary: the query layer's overview tables, and it says what they cover."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import ROOT, run_cli

EXAMPLES = sorted(str(p) for p in (ROOT / "examples").glob("*.jsonl"))
TABLES = ("Events by type", "Turns by status", "Tool calls by kind", "Reviews by subject")


def _tables(text: str) -> str:
    """From the first summary table to the end of the last one (the reviews table)."""
    start = text.index(TABLES[0])
    reviews = text.index(TABLES[-1])
    end = text.index("┘", reviews) + 1
    return text[start:end]


@pytest.mark.slow
def test_replay_prints_the_overview_tables_and_says_what_they_cover(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    first = run_cli("replay", "--warehouse", str(warehouse), EXAMPLES[0]).stdout
    assert f"The tables below cover the whole warehouse {warehouse}, not only this run." in first
    again = run_cli("replay", "--warehouse", str(warehouse), *EXAMPLES[1:]).stdout
    assert "not only this run" in again
    # One query layer: replay shows exactly what `report overview` shows for those tables.
    overview = run_cli("report", "overview", "--warehouse", str(warehouse)).stdout
    assert _tables(again) == _tables(overview)
    for title in TABLES:
        assert title in again
    alone = run_cli("replay", "--no-warehouse", EXAMPLES[0]).stdout
    assert "The tables below cover this run only." in alone
    assert "whole warehouse" not in alone
