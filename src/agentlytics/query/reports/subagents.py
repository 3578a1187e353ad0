"""Subagents: per parent -> child thread, what the child cost."""

from __future__ import annotations

from agentlytics.query.filters import Filters
from agentlytics.query.reports.sql import (
    LINKS,
    ROLLED_COST,
    as_float,
    condition,
    grouped_cost,
    prices_cte,
    run,
)
from agentlytics.query.rows import (
    SubagentRow,
)
from agentlytics.query.store import Store


def subagents(store: Store, filters: Filters) -> list[SubagentRow]:
    """Per parent → child thread: the child's turns, tokens, cost and tool calls (most
    expensive first; unpriced last)."""
    tw, tp = condition(filters, "turns", "t")
    cw, cp = condition(filters, "tool_calls", "c")
    keep = "" if filters.empty else "WHERE tu.thread_id IS NOT NULL OR tc.thread_id IS NOT NULL"
    children = f"{tw} AND t.thread_id IN (SELECT thread_id FROM links)"
    sql = f"""
        WITH {prices_cte(store)}, {LINKS},
        {grouped_cost({"thread_id": "t.thread_id"}, children)},
        tu AS (SELECT thread_id, sum(turns) AS turns, sum(i) AS i, sum(ci) AS ci, sum(o) AS o,
                      sum(ro) AS ro, sum(tt) AS tt, {ROLLED_COST} AS cost_usd
               FROM costed_groups GROUP BY thread_id),
        tc AS (SELECT c.thread_id, count(*) AS n FROM tool_calls c
               WHERE {cw} AND c.thread_id IN (SELECT thread_id FROM links)
               GROUP BY c.thread_id)
        SELECT l.parent_thread_id, l.thread_id, l.subagent_source, coalesce(tu.turns, 0),
               coalesce(tu.i, 0), coalesce(tu.ci, 0), coalesce(tu.o, 0), coalesce(tu.ro, 0),
               coalesce(tu.tt, 0),
               CASE WHEN tu.thread_id IS NULL THEN 0.0 ELSE tu.cost_usd END AS cost_usd,
               coalesce(tc.n, 0)
        FROM links l LEFT JOIN tu ON tu.thread_id = l.thread_id
                     LEFT JOIN tc ON tc.thread_id = l.thread_id
        {keep}
        ORDER BY cost_usd DESC NULLS LAST, 1, 2"""
    return [
        SubagentRow(
            parent_thread_id=r[0],
            thread_id=r[1],
            subagent_source=r[2],
            turns=int(r[3]),
            input_tokens=int(r[4]),
            cached_input_tokens=int(r[5]),
            output_tokens=int(r[6]),
            reasoning_output_tokens=int(r[7]),
            total_tokens=int(r[8]),
            cost_usd=as_float(r[9]),
            tool_calls=int(r[10]),
        )
        for r in run(store, sql, [*tp, *cp])
    ]
