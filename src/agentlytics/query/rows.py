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


class SessionRow(Row):
    thread_id: str
    started_at: str | None
    duration_ms: int | None
    turns: int
    total_tokens: int
    cost_usd: float | None
    tool_calls: int
    reviews: int
    subagents: int
    #: The newest turn's status; null for a thread with no turn yet.
    status: str | None


class ApprovalRow(Row):
    subject: str
    reviewer: str
    reviews: int
    approved: int
    denied: int
    aborted: int
    timed_out: int
    p50_ms: float | None
    p95_ms: float | None


class ApprovalLatencyRow(Row):
    """Reviews of one reviewer whose latency (request to answer) falls in one bucket:
    ``min_ms`` ≤ duration < ``max_ms`` (``max_ms`` null: no upper bound; both null: the
    reviews of unknown duration)."""

    reviewer: str
    bucket: str
    min_ms: int | None
    max_ms: int | None
    reviews: int


class ApprovalSourceRow(Row):
    """Command approvals by the command path that asked (``command_source``)."""

    command_source: str | None
    reviewer: str
    reviews: int
    approved: int
    denied: int
    aborted: int
    timed_out: int
    p50_ms: float | None
    p95_ms: float | None


class GuardianRiskRow(Row):
    """Guardian reviews by the risk level the guardian assigned."""

    risk_level: str | None
    reviews: int
    approved: int
    denied: int
    aborted: int
    timed_out: int
    failed_closed: int
    p50_ms: float | None
    p95_ms: float | None


class SubagentRow(Row):
    parent_thread_id: str
    thread_id: str
    subagent_source: str | None
    turns: int
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_output_tokens: int
    total_tokens: int
    cost_usd: float | None
    tool_calls: int


class GoalRow(Row):
    goal_id: str
    thread_id: str
    status: str
    events: int
    cleared: bool
    has_token_budget: bool
    accounted_tokens: int | None
    accounted_time_ms: int | None
    turns: int
    cost_usd: float | None


class HookRow(Row):
    hook_name: str | None
    hook_source: str | None
    runs: int
    completed: int
    failed: int
    blocked: int
    stopped: int
    turns: int


class CompactionRow(Row):
    trigger: str
    reason: str | None
    phase: str
    compactions: int
    completed: int
    failed: int
    interrupted: int
    p50_ms: float | None
    context_before_tokens: int | None
    context_after_tokens: int | None
    #: Cost of the turns that did nothing but compact (phase ``standalone_turn``).
    standalone_cost_usd: float | None


class TurnToolRow(Row):
    kind: str
    tool_name: str
    item_id: str
    terminal_status: str
    duration_ms: int | None
    started_at: str | None
    review_count: int


class TurnReviewRow(Row):
    subject: str
    subject_name: str
    reviewer: str
    status: str
    duration_ms: int | None
    command_source: str | None


class TurnDetail(Row):
    turn_id: str
    started_at: str | None
    status: str | None
    model: str | None
    duration_ms: int | None
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_output_tokens: int
    total_tokens: int
    cost_usd: float | None
    tools: list[TurnToolRow]
    reviews: list[TurnReviewRow]


class SubagentNode(Row):
    thread_id: str
    subagent_source: str | None
    turns: int
    total_tokens: int
    cost_usd: float | None
    children: list[SubagentNode]


class SessionDetail(Row):
    """``report session THREAD_ID``: one object, not an array."""

    thread_id: str
    parent_thread_id: str | None
    model: str | None
    started_at: str | None
    duration_ms: int | None
    turns: list[TurnDetail]
    subagents: list[SubagentNode]


class CountRow(Row):
    name: str
    count: int


class TurnStatusRow(Row):
    status: str
    turns: int
    p50_ms: float | None
    p95_ms: float | None
    total_tokens: int
    tool_calls: int


class Overview(Row):
    """``report overview``: one object — totals, then the replay tables."""

    events: int
    threads: int
    turns: int
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_output_tokens: int
    total_tokens: int
    cost_usd: float | None
    unpriced_models: list[str]
    tool_calls: int
    reviews: int
    accepted_agent_lines: int
    #: Share of a repository's added lines matching agent lines (only with ``--repo``).
    agent_share: float | None
    events_by_type: list[CountRow]
    turns_by_status: list[TurnStatusRow]
    tools: list[ToolRow]
    approvals: list[ApprovalRow]


# Display lines: the flat tables ``session`` and ``attribution`` show for table/markdown/csv.


class TurnLine(Row):
    turn_id: str
    started_at: str | None
    status: str | None
    model: str | None
    duration_ms: int | None
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_output_tokens: int
    total_tokens: int
    cost_usd: float | None


class TurnToolLine(Row):
    turn: int
    kind: str
    tool_name: str
    item_id: str
    terminal_status: str
    duration_ms: int | None
    started_at: str | None
    review_count: int


class TurnReviewLine(Row):
    turn: int
    subject: str
    subject_name: str
    reviewer: str
    status: str
    duration_ms: int | None
    command_source: str | None


class SubagentTreeLine(Row):
    thread_id: str
    subagent_source: str | None
    turns: int
    total_tokens: int
    cost_usd: float | None


class AuthorLine(Row):
    author: str
    commits: int
    added_lines: int
    eligible_lines: int
    matched_lines: int
    share: float | None
