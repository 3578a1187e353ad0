"""Typed report rows. ``msgspec.to_builtins(row)`` is the ``--format json`` object of a row.

Keys are stable snake_case with the unit in the name (``_ms``, ``_usd``, ``_tokens``); the
``tools``, ``approvals``, ``daily``/``weekly``/``monthly`` and ``sessions`` keys are the
contract of issue 15 and must not change. Times without a unit suffix are ISO 8601 UTC text.
"""

from __future__ import annotations

import msgspec


class Row(msgspec.Struct, kw_only=True):
    """Base of every report row."""


class ToolRow(Row):
    kind: str
    tool_name: str
    calls: int
    failed: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class SlowCallRow(Row):
    kind: str
    tool_name: str
    duration_ms: int
    terminal_status: str
    started_at: str | None
    thread_id: str
    turn_id: str
    item_id: str


class DailyRow(Row):
    day: str | None
    model: str | None
    turns: int
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_output_tokens: int
    total_tokens: int
    cost_usd: float | None


class WeeklyRow(Row):
    week: str | None
    model: str | None
    turns: int
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_output_tokens: int
    total_tokens: int
    cost_usd: float | None


class MonthlyRow(Row):
    month: str | None
    model: str | None
    turns: int
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_output_tokens: int
    total_tokens: int
    cost_usd: float | None


PeriodRow = DailyRow | WeeklyRow | MonthlyRow
