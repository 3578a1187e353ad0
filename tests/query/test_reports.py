"""Each report's numbers against the captures' events, counted here in Python (not in SQL)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from agentlytics.query import Filters, Store, reports
from agentlytics.warehouse.schema import TOOL_EVENT_TYPES

from .conftest import cost, of_type, qcont

ALL = Filters()


def _day(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d")


def _week(seconds: int) -> str:
    year, week, _ = datetime.fromtimestamp(seconds, UTC).isocalendar()
    return f"{year}-W{week:02d}"


def _month(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m")


def _iso(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    )


def _turn_cost(t: dict[str, Any]) -> float:
    return cost(
        t["input_tokens"] or 0,
        t["cached_input_tokens"] or 0,
        t["output_tokens"] or 0,
        t["reasoning_output_tokens"] or 0,
    )


def test_captures_cover_what_the_reports_read(events: list[dict[str, Any]]) -> None:
    types = Counter(e["event_type"] for e in events)
    for needed in (
        "codex_turn_event",
        "codex_review_event",
        "codex_guardian_review",
        "codex_hook_run",
        "codex_goal_event",
        "codex_compaction_event",
        "codex_collab_agent_tool_call_event",
    ):
        assert types[needed] > 0, needed
    # Every tool kind but image generation occurs in the real captures.
    assert {t for t in TOOL_EVENT_TYPES if types[t]} == set(TOOL_EVENT_TYPES) - {
        "codex_image_generation_event"
    }


def test_tools(store: Store, events: list[dict[str, Any]]) -> None:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if e["event_type"] in TOOL_EVENT_TYPES:
            kind = e["event_type"].removeprefix("codex_").removesuffix("_event")
            groups[(kind, e["event_params"]["tool_name"])].append(e["event_params"])
    expected = {
        key: {
            "calls": len(calls),
            "failed": sum(c["terminal_status"] != "completed" for c in calls),
            "p50_ms": qcont([c["duration_ms"] for c in calls if c["duration_ms"] is not None], 0.5),
            "p95_ms": qcont(
                [c["duration_ms"] for c in calls if c["duration_ms"] is not None], 0.95
            ),
            "p99_ms": qcont(
                [c["duration_ms"] for c in calls if c["duration_ms"] is not None], 0.99
            ),
        }
        for key, calls in groups.items()
    }
    rows = reports.tools(store, ALL)
    got = {
        (r.kind, r.tool_name): {
            k: v for k, v in msgspec.to_builtins(r).items() if k not in ("kind", "tool_name")
        }
        for r in rows
    }
    assert got.keys() == expected.keys()
    for key, want in expected.items():
        assert got[key] == pytest.approx(want), key
    assert [(-r.calls, r.kind, r.tool_name) for r in rows] == sorted(
        (-r.calls, r.kind, r.tool_name) for r in rows
    )
    assert sum(r.calls for r in rows) == 18
    assert {r.kind for r in rows} >= {"command_execution", "collab_agent_tool_call", "web_search"}


def test_slowest_calls(store: Store, events: list[dict[str, Any]]) -> None:
    calls = [
        (e["event_params"]["duration_ms"], e["event_params"]["item_id"])
        for e in events
        if e["event_type"] in TOOL_EVENT_TYPES and e["event_params"]["duration_ms"] is not None
    ]
    top = sorted(calls, key=lambda c: -c[0])[:3]
    rows = reports.slowest_calls(store, ALL, 3)
    assert [(r.duration_ms, r.item_id) for r in rows] == top
    assert rows[0].item_id == "call-slow" and rows[0].duration_ms == 1377


@pytest.mark.parametrize(("unit", "bucket"), [("day", _day), ("week", _week), ("month", _month)])
@pytest.mark.parametrize("by_model", [False, True])
def test_periods(
    store: Store, events: list[dict[str, Any]], unit: str, bucket: Any, by_model: bool
) -> None:
    want: dict[tuple[str, str | None], list[float]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0.0])
    for t in of_type(events, "codex_turn_event"):
        acc = want[(bucket(t["started_at"]), t["model"] if by_model else None)]
        acc[0] += 1
        for i, key in enumerate(
            (
                "input_tokens",
                "cached_input_tokens",
                "output_tokens",
                "reasoning_output_tokens",
                "total_tokens",
            ),
            1,
        ):
            acc[i] += t[key] or 0
        acc[6] += _turn_cost(t)
    rows = reports.periods(store, ALL, unit, by_model=by_model)  # type: ignore[arg-type]
    got = {
        (getattr(r, unit), r.model): [
            r.turns,
            r.input_tokens,
            r.cached_input_tokens,
            r.output_tokens,
            r.reasoning_output_tokens,
            r.total_tokens,
            r.cost_usd,
        ]
        for r in rows
    }
    assert got.keys() == want.keys()
    for key in want:
        assert got[key][:6] == want[key][:6]
        assert got[key][6] == pytest.approx(want[key][6], rel=1e-12)
    # Hand check of the one day: 26 turns, 50,800 input and 1,798 output tokens on gpt-5.5.
    total = sum(r.cost_usd or 0 for r in rows)
    assert total == pytest.approx(50_800 * 5 / 1e6 + 1_798 * 30 / 1e6, rel=1e-12)


def test_sessions(store: Store, events: list[dict[str, Any]]) -> None:
    turns = of_type(events, "codex_turn_event")
    threads = of_type(events, "codex_thread_initialized")
    tools = of_type(events, *TOOL_EVENT_TYPES)
    reviews = of_type(events, "codex_review_event")
    ids = {t["thread_id"] for t in turns} | {t["thread_id"] for t in threads}
    children: dict[str, set[str]] = defaultdict(set)
    for p in turns + threads:
        if p["parent_thread_id"]:
            children[p["parent_thread_id"]].add(p["thread_id"])
    want = {}
    for tid in ids:
        mine = [t for t in turns if t["thread_id"] == tid]
        starts = [t["started_at"] * 1000 for t in mine]
        created = [t["created_at"] * 1000 for t in threads if t["thread_id"] == tid]
        want[tid] = {
            "thread_id": tid,
            "started_at": _iso(min(starts + created)),
            "duration_ms": max(t["started_at"] * 1000 + (t["duration_ms"] or 0) for t in mine)
            - min(starts)
            if mine
            else None,
            "turns": len(mine),
            "total_tokens": sum(t["total_tokens"] or 0 for t in mine),
            "cost_usd": pytest.approx(sum(_turn_cost(t) for t in mine), rel=1e-12),
            "tool_calls": sum(c["thread_id"] == tid for c in tools),
            "reviews": sum(r["thread_id"] == tid for r in reviews),
            "subagents": len(children[tid]),
            "status": max(mine, key=lambda t: (t["started_at"], t["turn_id"]))["status"]
            if mine
            else None,
        }
    rows = reports.sessions(store, ALL)
    assert {r.thread_id: msgspec.to_builtins(r) for r in rows} == want
    assert [r.started_at for r in rows] == sorted((r.started_at for r in rows), reverse=True)
    assert len(reports.sessions(store, ALL, limit=3)) == 3
    assert sum(r.subagents for r in rows) == 1


def test_session_drill_down(store: Store, events: list[dict[str, Any]]) -> None:
    (spawn,) = [t for t in of_type(events, "codex_thread_initialized") if t["parent_thread_id"]]
    parent, child = spawn["parent_thread_id"], spawn["thread_id"]
    detail = reports.session(store, parent)
    assert detail is not None
    mine = sorted(
        (t for t in of_type(events, "codex_turn_event") if t["thread_id"] == parent),
        key=lambda t: (t["started_at"], t["turn_id"]),
    )
    assert [t.turn_id for t in detail.turns] == [t["turn_id"] for t in mine]
    tools = [c for c in of_type(events, *TOOL_EVENT_TYPES) if c["thread_id"] == parent]
    assert [(x.item_id, x.tool_name) for t in detail.turns for x in t.tools] == [
        (c["item_id"], c["tool_name"]) for c in sorted(tools, key=lambda c: c["started_at_ms"])
    ]
    assert [t.total_tokens for t in detail.turns] == [t["total_tokens"] for t in mine]
    child_turns = [t for t in of_type(events, "codex_turn_event") if t["thread_id"] == child]
    (node,) = detail.subagents
    assert node.thread_id == child and node.subagent_source == spawn["subagent_source"]
    assert node.turns == len(child_turns) and node.children == []
    assert node.total_tokens == sum(t["total_tokens"] for t in child_turns)
    assert node.cost_usd == pytest.approx(sum(_turn_cost(t) for t in child_turns), rel=1e-12)
    # A thread with reviews: each review sits under its turn.
    reviewed = of_type(events, "codex_review_event")[0]
    other = reports.session(store, reviewed["thread_id"])
    assert other is not None
    assert [
        (r.subject, r.status)
        for t in other.turns
        for r in t.reviews
        if t.turn_id == reviewed["turn_id"]
    ] == [
        (r["subject_kind"], r["status"])
        for r in of_type(events, "codex_review_event")
        if r["turn_id"] == reviewed["turn_id"]
    ]
    assert reports.session(store, "no-such-thread") is None


def _outcomes(items: list[dict[str, Any]], key: str) -> list[int]:
    return [sum(i[key] == s for i in items) for s in ("approved", "denied", "aborted", "timed_out")]


def test_approvals(store: Store, events: list[dict[str, Any]]) -> None:
    reviews = of_type(events, "codex_review_event")
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in reviews:
        groups[(r["subject_kind"], r["reviewer"])].append(r)
    want = {}
    for (subject, reviewer), items in groups.items():
        durations = [i["duration_ms"] for i in items if i["duration_ms"] is not None]
        want[(subject, reviewer)] = [
            len(items),
            *_outcomes(items, "status"),
            qcont(durations, 0.5),
            qcont(durations, 0.95),
        ]
    got = {
        (r.subject, r.reviewer): [
            r.reviews,
            r.approved,
            r.denied,
            r.aborted,
            r.timed_out,
            r.p50_ms,
            r.p95_ms,
        ]
        for r in reports.approvals(store, ALL)
    }
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == pytest.approx(want[key]), key
    assert sum(v[0] for v in got.values()) == 9
    assert ("command_execution", "guardian") in got


def test_approvals_by_command_source(store: Store, events: list[dict[str, Any]]) -> None:
    commands = [
        r for r in of_type(events, "codex_review_event") if r["subject_kind"] == "command_execution"
    ]
    groups: dict[tuple[str | None, str], list[dict[str, Any]]] = defaultdict(list)
    for r in commands:
        groups[(r["command_source"], r["reviewer"])].append(r)
    got = {
        (r.command_source, r.reviewer): [r.reviews, r.approved, r.denied, r.aborted, r.timed_out]
        for r in reports.approval_sources(store, ALL)
    }
    assert got == {k: [len(v), *_outcomes(v, "status")] for k, v in groups.items()}
    assert got[("shell", "user")] == [3, 0, 1, 2, 0]


def test_guardian_risk(store: Store, events: list[dict[str, Any]]) -> None:
    guardian = of_type(events, "codex_guardian_review")
    rows = reports.guardian_risk(store, ALL)
    levels = Counter(g["risk_level"] for g in guardian)
    assert {r.risk_level: r.reviews for r in rows} == dict(levels)
    (low,) = [r for r in rows if r.risk_level == "low"]
    latencies = [g["completion_latency_ms"] for g in guardian if g["risk_level"] == "low"]
    assert low.approved == sum(g["terminal_status"] == "approved" for g in guardian)
    assert low.p50_ms == pytest.approx(qcont(latencies, 0.5))


def test_subagents(store: Store, events: list[dict[str, Any]]) -> None:
    turns = of_type(events, "codex_turn_event")
    links = {
        (p["parent_thread_id"], p["thread_id"], p["subagent_source"])
        for p in turns + of_type(events, "codex_thread_initialized")
        if p["parent_thread_id"]
    }
    rows = reports.subagents(store, ALL)
    assert {(r.parent_thread_id, r.thread_id, r.subagent_source) for r in rows} == links
    for r in rows:
        mine = [t for t in turns if t["thread_id"] == r.thread_id]
        assert r.turns == len(mine)
        assert r.input_tokens == sum(t["input_tokens"] for t in mine)
        assert r.output_tokens == sum(t["output_tokens"] for t in mine)
        assert r.total_tokens == sum(t["total_tokens"] for t in mine)
        assert r.cost_usd == pytest.approx(sum(_turn_cost(t) for t in mine), rel=1e-12)
        assert r.tool_calls == sum(
            c["thread_id"] == r.thread_id for c in of_type(events, *TOOL_EVENT_TYPES)
        )


def test_goals(store: Store, events: list[dict[str, Any]]) -> None:
    goal_events = of_type(events, "codex_goal_event")
    (row,) = reports.goals(store, ALL)
    assert row.goal_id == goal_events[0]["goal_id"]
    assert row.events == len(goal_events) == 4
    # created → usage_accounted → status_changed(complete) → cleared
    assert row.status == "complete" and row.cleared
    assert row.accounted_tokens == max(g["cumulative_tokens_accounted"] or 0 for g in goal_events)
    goal_turns = {g["turn_id"] for g in goal_events if g["turn_id"]}
    assert row.turns == len(goal_turns)
    turns = [t for t in of_type(events, "codex_turn_event") if t["turn_id"] in goal_turns]
    assert row.cost_usd == pytest.approx(sum(_turn_cost(t) for t in turns), rel=1e-12)


def test_hooks(store: Store, events: list[dict[str, Any]]) -> None:
    hooks = of_type(events, "codex_hook_run")
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for h in hooks:
        groups[(h["hook_name"], h["hook_source"])].append(h)
    got = {
        (r.hook_name, r.hook_source): [r.runs, r.completed, r.failed, r.blocked, r.stopped, r.turns]
        for r in reports.hooks(store, ALL)
    }
    assert got == {
        k: [
            len(v),
            *(
                sum(h["status"] == s for h in v)
                for s in ("completed", "failed", "blocked", "stopped")
            ),
            len({h["turn_id"] for h in v}),
        ]
        for k, v in groups.items()
    }
    assert got[("PreToolUse", "user")][:4] == [2, 1, 0, 1]


def test_compactions(store: Store, events: list[dict[str, Any]]) -> None:
    (compaction,) = of_type(events, "codex_compaction_event")
    (row,) = reports.compactions(store, ALL)
    assert (row.trigger, row.reason, row.phase) == (
        compaction["trigger"],
        compaction["reason"],
        compaction["phase"],
    )
    assert (row.compactions, row.completed, row.p50_ms) == (1, 1, compaction["duration_ms"])
    (turn,) = [
        t for t in of_type(events, "codex_turn_event") if t["turn_id"] == compaction["turn_id"]
    ]
    assert row.standalone_cost_usd == pytest.approx(_turn_cost(turn), rel=1e-12)


def test_overview(store: Store, events: list[dict[str, Any]]) -> None:
    ov = reports.overview(store, ALL)
    turns = of_type(events, "codex_turn_event")
    assert ov.events == len(events)
    assert {c.name: c.count for c in ov.events_by_type} == dict(
        Counter(e["event_type"] for e in events)
    )
    assert ov.turns == len(turns)
    assert ov.threads == len(
        {p["thread_id"] for p in turns + of_type(events, "codex_thread_initialized")}
    )
    assert ov.input_tokens == sum(t["input_tokens"] or 0 for t in turns)
    assert ov.total_tokens == sum(t["total_tokens"] or 0 for t in turns)
    assert ov.cost_usd == pytest.approx(sum(_turn_cost(t) for t in turns), rel=1e-12)
    assert ov.unpriced_models == []
    assert ov.tool_calls == len(of_type(events, *TOOL_EVENT_TYPES))
    assert ov.reviews == len(of_type(events, "codex_review_event"))
    fingerprints = of_type(events, "codex_accepted_line_fingerprints")
    assert ov.accepted_agent_lines == sum(f["accepted_added_lines"] for f in fingerprints) == 6
    statuses = Counter(t["status"] or "in progress" for t in turns)
    assert {s.status: s.turns for s in ov.turns_by_status} == dict(statuses)
