"""Tool calls: per kind and name, and the slowest single calls."""

from __future__ import annotations

from agentlytics.query.filters import Filters
from agentlytics.query.reports.sql import (
    as_float,
    condition,
    iso_ms,
    run,
)
from agentlytics.query.rows import (
    SlowCallRow,
    ToolRow,
)
from agentlytics.query.store import Store


def tools(store: Store, filters: Filters) -> list[ToolRow]:
    """Per tool kind and name: calls, failures (any terminal status but ``completed``) and
    duration percentiles (calls of unknown duration are counted, not in the percentiles)."""
    where, params = condition(filters, "tool_calls", "c")
    q = store.dialect.quantiles
    sql = f"""
        SELECT c.kind, c.tool_name, count(*),
               count(*) FILTER (WHERE c.terminal_status <> 'completed'),
               {q("c.duration_ms", (0.5, 0.95, 0.99))}
        FROM tool_calls c WHERE {where}
        GROUP BY c.kind, c.tool_name ORDER BY 3 DESC, 1, 2"""
    return [
        ToolRow(
            kind=r[0],
            tool_name=r[1],
            calls=int(r[2]),
            failed=int(r[3]),
            p50_ms=as_float(r[4]),
            p95_ms=as_float(r[5]),
            p99_ms=as_float(r[6]),
        )
        for r in run(store, sql, params)
    ]


def slowest_calls(store: Store, filters: Filters, limit: int) -> list[SlowCallRow]:
    """The ``limit`` slowest single tool calls (ties: earliest first)."""
    where, params = condition(filters, "tool_calls", "c")
    sql = f"""
        SELECT c.kind, c.tool_name, c.duration_ms, c.terminal_status, c.started_at_ms,
               c.thread_id, c.turn_id, c.item_id
        FROM tool_calls c WHERE {where} AND c.duration_ms IS NOT NULL
        ORDER BY c.duration_ms DESC, c.started_at_ms, c.item_id LIMIT {int(limit)}"""
    return [
        SlowCallRow(
            kind=r[0],
            tool_name=r[1],
            duration_ms=int(r[2]),
            terminal_status=r[3],
            started_at=iso_ms(r[4]),
            thread_id=r[5],
            turn_id=r[6],
            item_id=r[7],
        )
        for r in run(store, sql, params)
    ]
