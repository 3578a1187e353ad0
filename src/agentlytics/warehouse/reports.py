"""SQL reports over the warehouse, as data first (tests read it) and rich tables second."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from agentlytics.warehouse.store import Warehouse


@dataclass(slots=True)
class Section:
    """One report table: a title, column names and rows."""

    title: str
    columns: list[str]
    rows: list[tuple[Any, ...]]


def _rows(warehouse: Warehouse, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in warehouse.con.execute(sql).fetchall()]


def events_by_type(warehouse: Warehouse) -> Section:
    return Section(
        "Events by type",
        ["event type", "events"],
        _rows(
            warehouse,
            "SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC, 1",
        ),
    )


def turns_by_status(warehouse: Warehouse) -> Section:
    return Section(
        "Turns by status",
        ["status", "turns", "p50 duration ms", "p95 duration ms", "tokens", "tool calls"],
        _rows(
            warehouse,
            """
            SELECT coalesce(status, 'in progress'), count(*),
                   CAST(quantile_cont(duration_ms, 0.5) AS BIGINT),
                   CAST(quantile_cont(duration_ms, 0.95) AS BIGINT),
                   coalesce(sum(total_tokens), 0), coalesce(sum(tool_calls), 0)
            FROM turns GROUP BY 1 ORDER BY 2 DESC, 1
            """,
        ),
    )


def tool_calls_by_kind(warehouse: Warehouse) -> Section:
    return Section(
        "Tool calls by kind",
        ["kind", "tool", "calls", "failed/rejected", "p50 ms", "p95 ms", "reviewed"],
        _rows(
            warehouse,
            """
            SELECT kind, tool_name, count(*),
                   count(*) FILTER (WHERE terminal_status <> 'completed'),
                   CAST(quantile_cont(duration_ms, 0.5) AS BIGINT),
                   CAST(quantile_cont(duration_ms, 0.95) AS BIGINT),
                   count(*) FILTER (WHERE review_count > 0)
            FROM tool_calls GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2
            """,
        ),
    )


def reviews_by_subject(warehouse: Warehouse) -> Section:
    """Who reviewed what, how often it was approved, and how long the review took.

    Latency is ``duration_ms``: request ``startedAtMs`` to the answer (user) or the guardian's
    ``completedAtMs``; reviews with an unknown (negative) duration are left out of the
    percentiles but still counted.
    """
    return Section(
        "Reviews by subject and reviewer",
        ["subject", "reviewer", "reviews", "approved", "approval rate", "p50 ms", "p95 ms"],
        _rows(
            warehouse,
            """
            SELECT subject_kind, reviewer, count(*),
                   count(*) FILTER (WHERE approved),
                   round(avg(CASE WHEN approved THEN 1.0 ELSE 0.0 END), 3),
                   CAST(quantile_cont(duration_ms, 0.5) AS BIGINT),
                   CAST(quantile_cont(duration_ms, 0.95) AS BIGINT)
            FROM reviews GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2
            """,
        ),
    )


def summary(warehouse: Warehouse) -> list[Section]:
    """The replay report: every section, in display order."""
    return [
        events_by_type(warehouse),
        turns_by_status(warehouse),
        tool_calls_by_kind(warehouse),
        reviews_by_subject(warehouse),
    ]


def render(sections: list[Section], console: Console) -> None:
    for section in sections:
        table = Table(title=section.title, title_justify="left")
        for i, column in enumerate(section.columns):
            table.add_column(column, justify="left" if i == 0 else "right")
        for row in section.rows:
            table.add_row(*("—" if v is None else str(v) for v in row))
        if not section.rows:
            table.add_row("(none)", *[""] * (len(section.columns) - 1))
        console.print(table)
