"""Filters: parsing times, and what each filter keeps (checked against the events)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from agentlytics.query import FilterError, Filters, Store, open_store, reports
from agentlytics.query.filters import parse_time
from agentlytics.warehouse.schema import TOOL_EVENT_TYPES

from .conftest import of_type

NOW = 1_800_000_000_000  # 2027-01-15T08:00:00Z


@pytest.mark.parametrize(
    ("text", "end_of_day", "want"),
    [
        ("7d", False, NOW - 7 * 86_400_000),
        ("12h", False, NOW - 12 * 3_600_000),
        ("30m", False, NOW - 30 * 60_000),
        ("2w", False, NOW - 14 * 86_400_000),
        ("90s", False, NOW - 90_000),
        ("2026-11-23", False, 1_795_392_000_000),
        ("2026-11-23", True, 1_795_478_400_000),  # --until a date: the end of that day
        ("2026-11-23T06:27:00", False, 1_795_415_220_000),
        ("2026-11-23T07:27:00+01:00", False, 1_795_415_220_000),
        ("2026-11-23T06:27:00Z", False, 1_795_415_220_000),
        ("1795415220000", False, 1_795_415_220_000),
    ],
)
def test_parse_time(text: str, end_of_day: bool, want: int) -> None:
    assert parse_time(text, NOW, end_of_day=end_of_day) == want


def test_parse_rejects_nonsense_and_empty_windows() -> None:
    with pytest.raises(FilterError, match="cannot read time 'yesterday'"):
        Filters.parse(since="yesterday", now_ms=NOW)
    with pytest.raises(FilterError, match="is not before"):
        Filters.parse(since="2026-11-24", until="2026-11-23", now_ms=NOW)
    f = Filters.parse(since="7d", model="gpt-5.5", now_ms=NOW)
    assert f == Filters(since_ms=NOW - 7 * 86_400_000, model="gpt-5.5")
    assert Filters().empty and not f.empty


SPLIT = 1_795_421_000_000  # between the two recording sessions of the captures


def test_time_window_keeps_each_event_by_its_own_time(
    store: Store, events: list[dict[str, Any]]
) -> None:
    late = Filters(since_ms=SPLIT)
    early = Filters(until_ms=SPLIT)
    turns = of_type(events, "codex_turn_event")
    tools = of_type(events, *TOOL_EVENT_TYPES)
    reviews = of_type(events, "codex_review_event")
    for window, keep in ((late, lambda ms: ms >= SPLIT), (early, lambda ms: ms < SPLIT)):
        assert sum(r.turns for r in reports.daily(store, window)) == sum(
            keep(t["started_at"] * 1000) for t in turns
        )
        assert sum(r.calls for r in reports.tools(store, window)) == sum(
            keep(c["started_at_ms"]) for c in tools
        )
        assert sum(r.reviews for r in reports.approvals(store, window)) == sum(
            keep(r["started_at_ms"]) for r in reviews
        )
    assert sum(r.turns for r in reports.daily(store, late)) == 2
    assert {r.thread_id for r in reports.sessions(store, late)} == {
        t["thread_id"] for t in turns if t["started_at"] * 1000 >= SPLIT
    }
    # Hooks carry no time: they follow their turn's.
    hook_turns = {h["turn_id"] for h in of_type(events, "codex_hook_run")}
    hook_time = {t["turn_id"]: t["started_at"] * 1000 for t in turns if t["turn_id"] in hook_turns}
    assert sum(r.runs for r in reports.hooks(store, early)) == sum(
        hook_time[h["turn_id"]] < SPLIT for h in of_type(events, "codex_hook_run")
    )
    assert reports.hooks(store, late) == []


def test_client_filter(store: Store, events: list[dict[str, Any]]) -> None:
    f = Filters(client="agentlytics-tests")
    turns = [
        t
        for t in of_type(events, "codex_turn_event")
        if t["app_server_client"]["client_name"] == f.client
    ]
    tools = [
        c
        for c in of_type(events, *TOOL_EVENT_TYPES)
        if c["app_server_client"]["client_name"] == f.client
    ]
    assert len(turns) == 2
    assert sum(r.turns for r in reports.daily(store, f)) == len(turns)
    assert sum(r.calls for r in reports.tools(store, f)) == len(tools)
    assert reports.overview(store, f).total_tokens == sum(t["total_tokens"] for t in turns)


def test_model_filter(store: Store, events: list[dict[str, Any]]) -> None:
    everything = reports.tools(store, Filters())
    assert reports.tools(store, Filters(model="gpt-5.5")) == everything
    assert reports.tools(store, Filters(model="gpt-4o")) == []
    assert reports.daily(store, Filters(model="gpt-4o")) == []
    assert reports.sessions(store, Filters(model="gpt-4o")) == []


def test_project_filter(tmp_path: Path, warehouse: Path, events: list[dict[str, Any]]) -> None:
    path = tmp_path / "projects.duckdb"
    shutil.copy(warehouse, path)
    (spawn,) = [t for t in of_type(events, "codex_thread_initialized") if t["parent_thread_id"]]
    parent, child = spawn["parent_thread_id"], spawn["thread_id"]
    con = duckdb.connect(str(path))
    con.execute(
        "INSERT INTO thread_projects VALUES (?, 'abc123', 'agentlytics', 'main'), "
        "(?, 'abc123', 'agentlytics', 'main')",
        [parent, child],
    )
    con.close()
    with open_store(str(path)) as store:
        for key in ("agentlytics", "abc123"):
            f = Filters(project=key)
            assert {r.thread_id for r in reports.sessions(store, f)} == {parent, child}
            turns = [
                t for t in of_type(events, "codex_turn_event") if t["thread_id"] in (parent, child)
            ]
            assert sum(r.turns for r in reports.daily(store, f)) == len(turns)
            assert [(r.parent_thread_id, r.thread_id) for r in reports.subagents(store, f)] == [
                (parent, child)
            ]
        assert reports.sessions(store, Filters(project="elsewhere")) == []
