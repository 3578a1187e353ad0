"""Threads: one row each, one in full, and the subagent tree it spawned."""

from __future__ import annotations

from typing import Final

from agentlytics.query.filters import Filters
from agentlytics.query.reports.sql import (
    LINKS,
    ROLLED_COST,
    as_float,
    condition,
    costed_turns,
    grouped_cost,
    iso_ms,
    opt_int,
    prices_cte,
    run,
)
from agentlytics.query.rows import (
    SessionDetail,
    SessionRow,
    SubagentNode,
    TurnDetail,
    TurnReviewRow,
    TurnToolRow,
)
from agentlytics.query.store import Store

#: Per thread: first turn start and last turn end (start + duration), epoch ms.
_SPAN: Final = {
    "first_ms": "min(t.ts_ms)",
    "last_ms": "max(t.ts_ms + coalesce(t.duration_ms, 0))",
}


def sessions(store: Store, filters: Filters, *, limit: int | None = None) -> list[SessionRow]:
    """One row per thread, newest first: its start, wall-clock duration (first turn start to
    last turn end), turns, tokens, cost, tool calls, reviews, subagents (all it spawned) and
    status: its newest turn's (``completed``, ``failed``, ``interrupted``; null before a turn)."""
    tw, tp = condition(filters, "turns", "t")
    hw, hp = condition(filters, "threads", "h")
    cw, cp = condition(filters, "tool_calls", "c")
    rw, rp = condition(filters, "reviews", "r")
    limit_sql = "" if limit is None else f"LIMIT {int(limit)}"
    # The threads to show first (a start time per thread is all that needs every row); only
    # their turns, tool calls and reviews are then summed and priced.
    chosen = "SELECT thread_id FROM starts"
    sql = f"""
        WITH {prices_cte(store)}, {LINKS},
        starts AS MATERIALIZED (
            SELECT thread_id, min(ts_ms) AS started_ms FROM (
                SELECT t.thread_id, t.ts_ms FROM turns t WHERE {tw}
                UNION ALL
                SELECT h.thread_id, h.ts_ms FROM threads h WHERE {hw}) AS s
            GROUP BY thread_id
            ORDER BY started_ms DESC NULLS LAST, thread_id {limit_sql}),
        {grouped_cost({"thread_id": "t.thread_id"}, f"{tw} AND t.thread_id IN ({chosen})", _SPAN)},
        per_turns AS (
            SELECT thread_id, min(first_ms) AS first_ms, max(last_ms) AS last_ms,
                   sum(turns) AS turns, sum(tt) AS total_tokens, {ROLLED_COST} AS cost_usd
            FROM costed_groups GROUP BY thread_id),
        tc AS (SELECT c.thread_id, count(*) AS n FROM tool_calls c
               WHERE {cw} AND c.thread_id IN ({chosen}) GROUP BY c.thread_id),
        rc AS (SELECT r.thread_id, count(*) AS n FROM reviews r
               WHERE {rw} AND r.thread_id IN ({chosen}) GROUP BY r.thread_id),
        kids AS (SELECT parent_thread_id AS thread_id, count(*) AS n FROM links
                 WHERE parent_thread_id IN ({chosen}) GROUP BY parent_thread_id),
        newest AS (SELECT DISTINCT ON (t.thread_id) t.thread_id, t.status FROM turns t
                   WHERE {tw} AND t.thread_id IN ({chosen})
                   ORDER BY t.thread_id, t.ts_ms DESC NULLS LAST, t.turn_id DESC)
        SELECT s.thread_id, s.started_ms, tu.last_ms - tu.first_ms, coalesce(tu.turns, 0),
               coalesce(tu.total_tokens, 0),
               CASE WHEN tu.thread_id IS NULL THEN 0.0 ELSE tu.cost_usd END,
               coalesce(tc.n, 0), coalesce(rc.n, 0), coalesce(kids.n, 0), newest.status
        FROM starts s LEFT JOIN per_turns tu ON tu.thread_id = s.thread_id
                      LEFT JOIN tc ON tc.thread_id = s.thread_id
                      LEFT JOIN rc ON rc.thread_id = s.thread_id
                      LEFT JOIN kids ON kids.thread_id = s.thread_id
                      LEFT JOIN newest ON newest.thread_id = s.thread_id
        ORDER BY s.started_ms DESC NULLS LAST, s.thread_id"""
    return [
        SessionRow(
            thread_id=r[0],
            started_at=iso_ms(r[1]),
            duration_ms=opt_int(r[2]),
            turns=int(r[3]),
            total_tokens=int(r[4]),
            cost_usd=as_float(r[5]),
            tool_calls=int(r[6]),
            reviews=int(r[7]),
            subagents=int(r[8]),
            status=r[9],
        )
        for r in run(store, sql, [*tp, *hp, *tp, *cp, *rp, *tp])
    ]


def session(store: Store, thread_id: str) -> SessionDetail | None:
    """One thread in full (filters do not apply): its turns in order with their tool calls,
    reviews and tokens, and the tree of subagents it spawned. None: no such thread."""
    head = run(
        store,
        """SELECT max(model), max(parent_thread_id), min(ts_ms), count(*) FROM threads
           WHERE thread_id = ?""",
        [thread_id],
    )[0]
    turn_rows = run(
        store,
        f"""WITH {prices_cte(store)}, {costed_turns("t.thread_id = ?")}
        SELECT turn_id, ts_ms, status, model, duration_ms, coalesce(input_tokens, 0),
               coalesce(cached_input_tokens, 0), coalesce(output_tokens, 0),
               coalesce(reasoning_output_tokens, 0), coalesce(total_tokens, 0),
               CASE WHEN unpriced THEN NULL ELSE coalesce(cost_e6, 0) / 1000000.0 END,
               parent_thread_id
        FROM costed ORDER BY ts_ms NULLS LAST, turn_id""",
        [thread_id],
    )
    if not head[3] and not turn_rows:
        return None
    tools_by_turn: dict[str, list[TurnToolRow]] = {}
    for r in run(
        store,
        """SELECT turn_id, kind, tool_name, item_id, terminal_status, duration_ms,
                  started_at_ms, coalesce(review_count, 0)
           FROM tool_calls WHERE thread_id = ? ORDER BY started_at_ms, item_id""",
        [thread_id],
    ):
        tools_by_turn.setdefault(r[0], []).append(
            TurnToolRow(
                kind=r[1],
                tool_name=r[2],
                item_id=r[3],
                terminal_status=r[4],
                duration_ms=opt_int(r[5]),
                started_at=iso_ms(r[6]),
                review_count=int(r[7]),
            )
        )
    reviews_by_turn: dict[str, list[TurnReviewRow]] = {}
    for r in run(
        store,
        """SELECT turn_id, subject_kind, subject_name, reviewer, status, duration_ms,
                  command_source
           FROM reviews WHERE thread_id = ? ORDER BY started_at_ms, review_id""",
        [thread_id],
    ):
        reviews_by_turn.setdefault(r[0], []).append(
            TurnReviewRow(
                subject=r[1],
                subject_name=r[2],
                reviewer=r[3],
                status=r[4],
                duration_ms=opt_int(r[5]),
                command_source=r[6],
            )
        )
    turns = [
        TurnDetail(
            turn_id=r[0],
            started_at=iso_ms(r[1]),
            status=r[2],
            model=r[3],
            duration_ms=opt_int(r[4]),
            input_tokens=int(r[5]),
            cached_input_tokens=int(r[6]),
            output_tokens=int(r[7]),
            reasoning_output_tokens=int(r[8]),
            total_tokens=int(r[9]),
            cost_usd=as_float(r[10]),
            tools=tools_by_turn.get(r[0], []),
            reviews=reviews_by_turn.get(r[0], []),
        )
        for r in turn_rows
    ]
    starts = [r[1] for r in turn_rows if r[1] is not None]
    ends = [r[1] + (r[4] or 0) for r in turn_rows if r[1] is not None]
    first = min([*starts, *([head[2]] if head[2] is not None else [])], default=None)
    parent = head[1] or next((r[11] for r in turn_rows if r[11]), None)
    return SessionDetail(
        thread_id=thread_id,
        parent_thread_id=parent,
        model=head[0] or next((t.model for t in turns if t.model), None),
        started_at=iso_ms(first),
        duration_ms=(max(ends) - min(starts)) if starts else None,
        turns=turns,
        subagents=_subagent_tree(store, thread_id),
    )


def _subagent_tree(store: Store, root: str) -> list[SubagentNode]:
    """The subagents ``root`` spawned, level by level (a thread appears once)."""
    nodes: dict[str, SubagentNode] = {}
    children: dict[str, list[SubagentNode]] = {}
    seen = {root}
    level = [root]
    while level:
        marks = ", ".join("?" for _ in level)
        rows = run(
            store,
            f"""WITH {prices_cte(store)}, {LINKS},
            kids AS (SELECT * FROM links WHERE parent_thread_id IN ({marks})),
            {costed_turns("t.thread_id IN (SELECT thread_id FROM kids)")}
            SELECT k.thread_id, k.parent_thread_id, k.subagent_source, count(c.turn_id),
                   coalesce(sum(c.total_tokens), 0),
                   CASE WHEN bool_or(c.unpriced) THEN NULL
                        ELSE coalesce(sum(c.cost_e6), 0) / 1000000.0 END
            FROM kids k LEFT JOIN costed c ON c.thread_id = k.thread_id
            GROUP BY k.thread_id, k.parent_thread_id, k.subagent_source
            ORDER BY k.thread_id""",
            level,
        )
        level = []
        for r in rows:
            if r[0] in seen:
                continue
            seen.add(r[0])
            node = SubagentNode(
                thread_id=r[0],
                subagent_source=r[2],
                turns=int(r[3]),
                total_tokens=int(r[4]),
                cost_usd=as_float(r[5]),
                children=[],
            )
            nodes[r[0]] = node
            children.setdefault(r[1], []).append(node)
            level.append(r[0])
    for thread, node in nodes.items():
        node.children = children.get(thread, [])
    return children.get(root, [])
