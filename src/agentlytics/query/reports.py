"""Every report as a typed function ``(store, filters, …) -> rows``: all report SQL is here.

The SQL reads the typed family tables (:mod:`agentlytics.warehouse.schema`), never JSON, and
sticks to what DuckDB and PostgreSQL share; engine differences go through ``store.dialect``.
Cost is computed in SQL from the store's price table (a ``VALUES`` list joined on the turn's
model) with the formula of :mod:`agentlytics.query.pricing`; a group holding a turn with tokens
on an unpriced model has no cost (NULL), never a partial one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final, Literal

from agentlytics.query.dialect import Period
from agentlytics.query.filters import Filters
from agentlytics.query.rows import (
    ApprovalRow,
    ApprovalSourceRow,
    CompactionRow,
    CountRow,
    DailyRow,
    GoalRow,
    GuardianRiskRow,
    HookRow,
    MonthlyRow,
    Overview,
    PeriodRow,
    SessionDetail,
    SessionRow,
    SlowCallRow,
    SubagentNode,
    SubagentRow,
    ToolRow,
    TurnDetail,
    TurnReviewRow,
    TurnStatusRow,
    TurnToolRow,
    WeeklyRow,
)
from agentlytics.query.store import Store
from agentlytics.warehouse.schema import FAMILY_TABLES

# -- filters ---------------------------------------------------------------------------------

#: Per table: where its time comes from ("own" ts_ms, or its turn's / thread's turns), and its
#: model (an own column, or via its turn / its thread's turns).
_SCOPES: Final[dict[str, tuple[Literal["own", "turn"], str]]] = {
    "turns": ("own", "model"),
    "threads": ("own", "model"),
    "tool_calls": ("own", "@turn"),
    "reviews": ("own", "@turn"),
    "guardian_reviews": ("own", "@turn"),
    "compactions": ("own", "@turn"),
    "hooks": ("turn", "model_slug"),
    "goals": ("turn", "@thread"),
    "accepted_lines": ("own", "model_slug"),
}


def _where(f: Filters, table: str, alias: str) -> tuple[str, list[object]]:
    """SQL condition (and its parameters) selecting the rows of ``table`` the filters keep."""
    ts_from, model_from = _SCOPES[table]
    conds: list[str] = []
    params: list[object] = []
    window: list[str] = []
    window_params: list[object] = []
    if f.since_ms is not None:
        window.append("ts_ms >= ?")
        window_params.append(f.since_ms)
    if f.until_ms is not None:
        window.append("ts_ms < ?")
        window_params.append(f.until_ms)
    if window:
        if ts_from == "own":
            conds += [f"{alias}.{w}" for w in window]
            params += window_params
        else:
            inner = " AND ".join(window)
            conds.append(
                f"({alias}.turn_id IN (SELECT turn_id FROM turns WHERE {inner}) OR "
                f"({alias}.turn_id IS NULL AND {alias}.thread_id IN "
                f"(SELECT thread_id FROM turns WHERE {inner})))"
            )
            params += window_params * 2
    if f.model is not None:
        if model_from == "@turn":
            conds.append(f"{alias}.turn_id IN (SELECT turn_id FROM turns WHERE model = ?)")
        elif model_from == "@thread":
            conds.append(f"{alias}.thread_id IN (SELECT thread_id FROM turns WHERE model = ?)")
        else:
            conds.append(f"{alias}.{model_from} = ?")
        params.append(f.model)
    if f.client is not None:
        conds.append(f"({alias}.client_name = ? OR {alias}.product_client_id = ?)")
        params += [f.client, f.client]
    if f.project is not None:
        conds.append(
            f"{alias}.thread_id IN (SELECT thread_id FROM thread_projects "
            "WHERE repo_name = ? OR repo_hash = ?)"
        )
        params += [f.project, f.project]
    return (" AND ".join(conds) or "TRUE"), params


# -- cost ------------------------------------------------------------------------------------


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _prices_cte(store: Store) -> str:
    """``prices(model, p_in, p_cached, p_out, p_reason)``: the store's price table as rows."""
    models = store.prices.models
    if not models:
        return (
            "prices AS (SELECT CAST(NULL AS VARCHAR) AS model, 0.0 AS p_in, 0.0 AS p_cached, "
            "0.0 AS p_out, 0.0 AS p_reason WHERE 1 = 0)"
        )
    values = ", ".join(
        f"({_literal(name)}, {float(p.input)!r}, {float(p.cached_input)!r}, "
        f"{float(p.output)!r}, {float(p.reasoning)!r})"
        for name, p in sorted(models.items())
    )
    return f"prices(model, p_in, p_cached, p_out, p_reason) AS (VALUES {values})"


def _turn_cost(t: str = "t", p: str = "p") -> str:
    """USD × 1e6 of one turn row ``t`` joined to its price ``p`` (NULL when unpriced)."""
    return (
        f"((coalesce({t}.input_tokens, 0) - coalesce({t}.cached_input_tokens, 0)) * {p}.p_in"
        f" + coalesce({t}.cached_input_tokens, 0) * {p}.p_cached"
        f" + (coalesce({t}.output_tokens, 0) - coalesce({t}.reasoning_output_tokens, 0))"
        f" * {p}.p_out + coalesce({t}.reasoning_output_tokens, 0) * {p}.p_reason)"
    )


def _grouped_cost(
    keys: dict[str, str],
    where: str,
    extra: dict[str, str] | None = None,
    source: str = "turns t",
) -> str:
    """CTEs ``by_model`` and ``costed_groups``: the filtered turns grouped by ``keys`` (name →
    SQL over ``t``) and model, with token sums (``turns``, ``i``, ``ci``, ``o``, ``ro``,
    ``tt``), any ``extra`` aggregates, and each group's cost (``cost_e6``: USD × 1e6, NULL when
    unpriced; ``unpriced``: it has tokens on a model the price table lacks).

    Cost is linear in the token counts, so it is priced per group rather than per turn: the
    price join then touches a few rows per key instead of every turn. Roll up with
    :data:`_ROLLED_COST`. ``source`` may join other tables to ``turns t`` for the keys.
    """
    select = "".join(f"{expr} AS {name}, " for name, expr in keys.items())
    group = "".join(f"{expr}, " for expr in keys.values())
    extras = "".join(f", {expr} AS {name}" for name, expr in (extra or {}).items())
    return f"""by_model AS (
        SELECT {select}t.model AS model, count(*) AS turns,
               coalesce(sum(t.input_tokens), 0) AS i,
               coalesce(sum(t.cached_input_tokens), 0) AS ci,
               coalesce(sum(t.output_tokens), 0) AS o,
               coalesce(sum(t.reasoning_output_tokens), 0) AS ro,
               coalesce(sum(t.total_tokens), 0) AS tt{extras}
        FROM {source} WHERE {where} GROUP BY {group}t.model),
    costed_groups AS (
        SELECT b.*, ((b.i - b.ci) * p.p_in + b.ci * p.p_cached + (b.o - b.ro) * p.p_out
                     + b.ro * p.p_reason) AS cost_e6,
               (p.model IS NULL AND b.i + b.o > 0) AS unpriced
        FROM by_model b LEFT JOIN prices p ON p.model = b.model)"""


def _run(store: Store, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    """Rows of ``sql``; an array cell (quantiles, see the dialect) is spliced into the row."""
    rows = store.rows(store.dialect.placeholders(sql), params)
    return [
        tuple(v for cell in row for v in (cell if isinstance(cell, list) else (cell,)))
        for row in rows
    ]


def iso_ms(ms: int | None) -> str | None:
    """Epoch milliseconds as ISO 8601 UTC text (``2026-12-03T10:40:00.123Z``)."""
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _f(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


# -- reports ---------------------------------------------------------------------------------


def event_count(store: Store) -> int:
    """Events stored (all types, unfiltered): 0 means an empty warehouse."""
    rows = _run(store, "SELECT count(*) FROM events")
    return int(rows[0][0])


def tools(store: Store, filters: Filters) -> list[ToolRow]:
    """Per tool kind and name: calls, failures (any terminal status but ``completed``) and
    duration percentiles (calls of unknown duration are counted, not in the percentiles)."""
    where, params = _where(filters, "tool_calls", "c")
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
            p50_ms=_f(r[4]),
            p95_ms=_f(r[5]),
            p99_ms=_f(r[6]),
        )
        for r in _run(store, sql, params)
    ]


def slowest_calls(store: Store, filters: Filters, limit: int) -> list[SlowCallRow]:
    """The ``limit`` slowest single tool calls (ties: earliest first)."""
    where, params = _where(filters, "tool_calls", "c")
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
        for r in _run(store, sql, params)
    ]


_PERIOD_ROW: Final[dict[Period, type[DailyRow] | type[WeeklyRow] | type[MonthlyRow]]] = {
    "day": DailyRow,
    "week": WeeklyRow,
    "month": MonthlyRow,
}


def periods(
    store: Store, filters: Filters, unit: Period, *, by_model: bool = False
) -> list[PeriodRow]:
    """One row per UTC day / ISO week / month a turn started in (× the turn's model when
    ``by_model``): turns, the four token kinds, total tokens and cost."""
    where, params = _where(filters, "turns", "t")
    # Bucket by UTC day number first (cheap integer grouping), then label the few groups.
    day = "CAST(floor(t.ts_ms / 86400000.0) AS BIGINT)"
    period = store.dialect.period(unit, "day_no * 86400000")
    model = "model" if by_model else "CAST(NULL AS VARCHAR)"
    sql = f"""
        WITH {_prices_cte(store)}, {_grouped_cost({"day_no": day}, where)}
        SELECT {period} AS period, {model} AS model, sum(turns), sum(i), sum(ci), sum(o),
               sum(ro), sum(tt), {_ROLLED_COST}
        FROM costed_groups GROUP BY 1, 2 ORDER BY 1, 2"""
    row_type = _PERIOD_ROW[unit]
    out: list[PeriodRow] = []
    for r in _run(store, sql, params):
        values = {
            "model": r[1],
            "turns": int(r[2]),
            "input_tokens": int(r[3]),
            "cached_input_tokens": int(r[4]),
            "output_tokens": int(r[5]),
            "reasoning_output_tokens": int(r[6]),
            "total_tokens": int(r[7]),
            "cost_usd": _f(r[8]),
        }
        out.append(row_type(**{unit: r[0]}, **values))
    return out


def daily(store: Store, filters: Filters, *, by_model: bool = False) -> list[PeriodRow]:
    return periods(store, filters, "day", by_model=by_model)


def weekly(store: Store, filters: Filters, *, by_model: bool = False) -> list[PeriodRow]:
    return periods(store, filters, "week", by_model=by_model)


def monthly(store: Store, filters: Filters, *, by_model: bool = False) -> list[PeriodRow]:
    return periods(store, filters, "month", by_model=by_model)


def unpriced_models(store: Store, filters: Filters) -> list[str]:
    """Models of the filtered turns with tokens that the price table does not know."""
    where, params = _where(filters, "turns", "t")
    sql = f"""
        SELECT t.model, sum(coalesce(t.input_tokens, 0) + coalesce(t.output_tokens, 0))
        FROM turns t WHERE {where} GROUP BY t.model"""
    known = store.prices.models
    return sorted(
        model or "(unknown model)"
        for model, tokens in _run(store, sql, params)
        if tokens and model not in known
    )


def _i(value: object) -> int:
    return 0 if value is None else int(value)  # type: ignore[call-overload]


def _oi(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


#: Turns with their cost (USD × 1e6, NULL when unpriced) and whether they are unpriced.
def _costed_turns(where: str) -> str:
    return f"""costed AS (
        SELECT t.*, {_turn_cost()} AS cost_e6,
               (p.model IS NULL AND
                coalesce(t.input_tokens, 0) + coalesce(t.output_tokens, 0) > 0) AS unpriced
        FROM turns t LEFT JOIN prices p ON p.model = t.model WHERE {where})"""


_ROLLED_COST: Final = (
    "CASE WHEN bool_or(unpriced) THEN NULL ELSE coalesce(sum(cost_e6), 0) / 1000000.0 END"
)

#: Every (child thread, parent thread, subagent source) known from thread starts and turns.
_LINKS: Final = """links AS (
        SELECT thread_id, max(parent_thread_id) AS parent_thread_id,
               max(subagent_source) AS subagent_source
        FROM (SELECT thread_id, parent_thread_id, subagent_source FROM threads
              WHERE parent_thread_id IS NOT NULL
              UNION ALL
              SELECT thread_id, parent_thread_id, subagent_source FROM turns
              WHERE parent_thread_id IS NOT NULL) AS l
        GROUP BY thread_id)"""


#: Per thread: first turn start and last turn end (start + duration), epoch ms.
_SPAN: Final = {
    "first_ms": "min(t.ts_ms)",
    "last_ms": "max(t.ts_ms + coalesce(t.duration_ms, 0))",
}


def sessions(store: Store, filters: Filters, *, limit: int | None = None) -> list[SessionRow]:
    """One row per thread, newest first: its start, wall-clock duration (first turn start to
    last turn end), turns, tokens, cost, tool calls, reviews and subagents (all it spawned)."""
    tw, tp = _where(filters, "turns", "t")
    hw, hp = _where(filters, "threads", "h")
    cw, cp = _where(filters, "tool_calls", "c")
    rw, rp = _where(filters, "reviews", "r")
    limit_sql = "" if limit is None else f"LIMIT {int(limit)}"
    # The threads to show first (a start time per thread is all that needs every row); only
    # their turns, tool calls and reviews are then summed and priced.
    chosen = "SELECT thread_id FROM starts"
    sql = f"""
        WITH {_prices_cte(store)}, {_LINKS},
        starts AS MATERIALIZED (
            SELECT thread_id, min(ts_ms) AS started_ms FROM (
                SELECT t.thread_id, t.ts_ms FROM turns t WHERE {tw}
                UNION ALL
                SELECT h.thread_id, h.ts_ms FROM threads h WHERE {hw}) AS s
            GROUP BY thread_id
            ORDER BY started_ms DESC NULLS LAST, thread_id {limit_sql}),
        {_grouped_cost({"thread_id": "t.thread_id"}, f"{tw} AND t.thread_id IN ({chosen})", _SPAN)},
        per_turns AS (
            SELECT thread_id, min(first_ms) AS first_ms, max(last_ms) AS last_ms,
                   sum(turns) AS turns, sum(tt) AS total_tokens, {_ROLLED_COST} AS cost_usd
            FROM costed_groups GROUP BY thread_id),
        tc AS (SELECT c.thread_id, count(*) AS n FROM tool_calls c
               WHERE {cw} AND c.thread_id IN ({chosen}) GROUP BY c.thread_id),
        rc AS (SELECT r.thread_id, count(*) AS n FROM reviews r
               WHERE {rw} AND r.thread_id IN ({chosen}) GROUP BY r.thread_id),
        kids AS (SELECT parent_thread_id AS thread_id, count(*) AS n FROM links
                 WHERE parent_thread_id IN ({chosen}) GROUP BY parent_thread_id)
        SELECT s.thread_id, s.started_ms, tu.last_ms - tu.first_ms, coalesce(tu.turns, 0),
               coalesce(tu.total_tokens, 0),
               CASE WHEN tu.thread_id IS NULL THEN 0.0 ELSE tu.cost_usd END,
               coalesce(tc.n, 0), coalesce(rc.n, 0), coalesce(kids.n, 0)
        FROM starts s LEFT JOIN per_turns tu ON tu.thread_id = s.thread_id
                      LEFT JOIN tc ON tc.thread_id = s.thread_id
                      LEFT JOIN rc ON rc.thread_id = s.thread_id
                      LEFT JOIN kids ON kids.thread_id = s.thread_id
        ORDER BY s.started_ms DESC NULLS LAST, s.thread_id"""
    return [
        SessionRow(
            thread_id=r[0],
            started_at=iso_ms(r[1]),
            duration_ms=_oi(r[2]),
            turns=int(r[3]),
            total_tokens=int(r[4]),
            cost_usd=_f(r[5]),
            tool_calls=int(r[6]),
            reviews=int(r[7]),
            subagents=int(r[8]),
        )
        for r in _run(store, sql, [*tp, *hp, *tp, *cp, *rp])
    ]


def session(store: Store, thread_id: str) -> SessionDetail | None:
    """One thread in full (filters do not apply): its turns in order with their tool calls,
    reviews and tokens, and the tree of subagents it spawned. None: no such thread."""
    head = _run(
        store,
        """SELECT max(model), max(parent_thread_id), min(ts_ms), count(*) FROM threads
           WHERE thread_id = ?""",
        [thread_id],
    )[0]
    turn_rows = _run(
        store,
        f"""WITH {_prices_cte(store)}, {_costed_turns("t.thread_id = ?")}
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
    for r in _run(
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
                duration_ms=_oi(r[5]),
                started_at=iso_ms(r[6]),
                review_count=int(r[7]),
            )
        )
    reviews_by_turn: dict[str, list[TurnReviewRow]] = {}
    for r in _run(
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
                duration_ms=_oi(r[5]),
                command_source=r[6],
            )
        )
    turns = [
        TurnDetail(
            turn_id=r[0],
            started_at=iso_ms(r[1]),
            status=r[2],
            model=r[3],
            duration_ms=_oi(r[4]),
            input_tokens=int(r[5]),
            cached_input_tokens=int(r[6]),
            output_tokens=int(r[7]),
            reasoning_output_tokens=int(r[8]),
            total_tokens=int(r[9]),
            cost_usd=_f(r[10]),
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
        rows = _run(
            store,
            f"""WITH {_prices_cte(store)}, {_LINKS},
            kids AS (SELECT * FROM links WHERE parent_thread_id IN ({marks})),
            {_costed_turns("t.thread_id IN (SELECT thread_id FROM kids)")}
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
                cost_usd=_f(r[5]),
                children=[],
            )
            nodes[r[0]] = node
            children.setdefault(r[1], []).append(node)
            level.append(r[0])
    for thread, node in nodes.items():
        node.children = children.get(thread, [])
    return children.get(root, [])


def _outcomes(col: str, alias: str) -> str:
    return ", ".join(
        f"count(*) FILTER (WHERE {alias}.{col} = '{value}')"
        for value in ("approved", "denied", "aborted", "timed_out")
    )


def approvals(store: Store, filters: Filters) -> list[ApprovalRow]:
    """Reviews per subject kind and reviewer (user / guardian): outcomes and latency (request
    to answer; reviews of unknown duration are counted, not in the percentiles)."""
    where, params = _where(filters, "reviews", "r")
    q = store.dialect.quantiles
    sql = f"""
        SELECT r.subject_kind, r.reviewer, count(*), {_outcomes("status", "r")},
               {q("r.duration_ms", (0.5, 0.95))}
        FROM reviews r WHERE {where}
        GROUP BY r.subject_kind, r.reviewer ORDER BY 3 DESC, 1, 2"""
    return [
        ApprovalRow(
            subject=r[0],
            reviewer=r[1],
            reviews=int(r[2]),
            approved=int(r[3]),
            denied=int(r[4]),
            aborted=int(r[5]),
            timed_out=int(r[6]),
            p50_ms=_f(r[7]),
            p95_ms=_f(r[8]),
        )
        for r in _run(store, sql, params)
    ]


def approval_sources(store: Store, filters: Filters) -> list[ApprovalSourceRow]:
    """Command approvals per ``command_source`` (shell / unified_exec / user_shell) and
    reviewer."""
    where, params = _where(filters, "reviews", "r")
    q = store.dialect.quantiles
    sql = f"""
        SELECT r.command_source, r.reviewer, count(*), {_outcomes("status", "r")},
               {q("r.duration_ms", (0.5, 0.95))}
        FROM reviews r WHERE {where} AND r.subject_kind = 'command_execution'
        GROUP BY r.command_source, r.reviewer ORDER BY 3 DESC, 1 NULLS LAST, 2"""
    return [
        ApprovalSourceRow(
            command_source=r[0],
            reviewer=r[1],
            reviews=int(r[2]),
            approved=int(r[3]),
            denied=int(r[4]),
            aborted=int(r[5]),
            timed_out=int(r[6]),
            p50_ms=_f(r[7]),
            p95_ms=_f(r[8]),
        )
        for r in _run(store, sql, params)
    ]


def guardian_risk(store: Store, filters: Filters) -> list[GuardianRiskRow]:
    """Guardian reviews per assigned risk level: terminal outcomes and completion latency."""
    where, params = _where(filters, "guardian_reviews", "g")
    q = store.dialect.quantiles
    sql = f"""
        SELECT g.risk_level, count(*), {_outcomes("terminal_status", "g")},
               count(*) FILTER (WHERE g.terminal_status = 'failed_closed'),
               {q("g.completion_latency_ms", (0.5, 0.95))}
        FROM guardian_reviews g WHERE {where}
        GROUP BY g.risk_level ORDER BY 2 DESC, 1 NULLS LAST"""
    return [
        GuardianRiskRow(
            risk_level=r[0],
            reviews=int(r[1]),
            approved=int(r[2]),
            denied=int(r[3]),
            aborted=int(r[4]),
            timed_out=int(r[5]),
            failed_closed=int(r[6]),
            p50_ms=_f(r[7]),
            p95_ms=_f(r[8]),
        )
        for r in _run(store, sql, params)
    ]


def subagents(store: Store, filters: Filters) -> list[SubagentRow]:
    """Per parent → child thread: the child's turns, tokens, cost and tool calls (most
    expensive first; unpriced last)."""
    tw, tp = _where(filters, "turns", "t")
    cw, cp = _where(filters, "tool_calls", "c")
    keep = "" if filters.empty else "WHERE tu.thread_id IS NOT NULL OR tc.thread_id IS NOT NULL"
    children = f"{tw} AND t.thread_id IN (SELECT thread_id FROM links)"
    sql = f"""
        WITH {_prices_cte(store)}, {_LINKS},
        {_grouped_cost({"thread_id": "t.thread_id"}, children)},
        tu AS (SELECT thread_id, sum(turns) AS turns, sum(i) AS i, sum(ci) AS ci, sum(o) AS o,
                      sum(ro) AS ro, sum(tt) AS tt, {_ROLLED_COST} AS cost_usd
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
            cost_usd=_f(r[9]),
            tool_calls=int(r[10]),
        )
        for r in _run(store, sql, [*tp, *cp])
    ]


#: A goal event's status behind its kind's rank (one character): the ``max`` of it over a goal
#: is its latest status, in one aggregate (no window over every goal event).
_GOAL_STATUS_KEY: Final = (
    "CASE g.event_kind WHEN 'cleared' THEN '3' WHEN 'status_changed' THEN '2' "
    "WHEN 'usage_accounted' THEN '1' ELSE '0' END || g.goal_status"
)

_GOAL_TURNS: Final = "goal_turns gt JOIN turns t ON t.turn_id = gt.turn_id"
_STANDALONE_TURNS: Final = "standalone s JOIN turns t ON t.turn_id = s.turn_id"
_KIND: Final = {"trigger": "s.trigger", "reason": "s.reason", "phase": "s.phase"}


def goals(store: Store, filters: Filters, *, limit: int | None = None) -> list[GoalRow]:
    """One row per goal, largest first (tokens accounted): its latest status, whether it was
    cleared, the tokens and time it accounted, and the cost of the turns it accounted usage on
    (only the ``limit`` goals shown are priced).

    Goal events carry no time of their own: "latest" is by event kind (cleared, then status
    change, then usage accounting, then creation); two of one kind: the greater status text.
    """
    where, params = _where(filters, "goals", "g")
    limit_sql = "" if limit is None else f"LIMIT {int(limit)}"
    sql = f"""
        WITH {_prices_cte(store)},
        g AS (SELECT g.* FROM goals g WHERE {where}),
        agg AS (
            SELECT goal_id, max(thread_id) AS thread_id, count(*) AS events,
                   bool_or(event_kind = 'cleared') AS cleared,
                   bool_or(has_token_budget) AS budget,
                   max(cumulative_tokens_accounted) AS tokens,
                   max(cumulative_time_accounted_seconds) * 1000 AS time_ms,
                   max({_GOAL_STATUS_KEY}) AS status_key
            FROM g GROUP BY goal_id),
        sel AS MATERIALIZED (
            SELECT * FROM agg ORDER BY tokens DESC NULLS LAST, goal_id {limit_sql}),
        goal_turns AS (SELECT DISTINCT goal_id, turn_id FROM g
                       WHERE turn_id IS NOT NULL AND goal_id IN (SELECT goal_id FROM sel)),
        {_grouped_cost({"goal_id": "gt.goal_id"}, "TRUE", None, _GOAL_TURNS)},
        gc AS (SELECT goal_id, sum(turns) AS turns, {_ROLLED_COST} AS cost_usd
               FROM costed_groups GROUP BY goal_id)
        SELECT sel.goal_id, sel.thread_id, substr(sel.status_key, 2), sel.events, sel.cleared,
               sel.budget, sel.tokens, sel.time_ms, coalesce(gc.turns, 0),
               CASE WHEN gc.goal_id IS NULL THEN 0.0 ELSE gc.cost_usd END
        FROM sel LEFT JOIN gc ON gc.goal_id = sel.goal_id
        ORDER BY sel.tokens DESC NULLS LAST, sel.goal_id"""
    return [
        GoalRow(
            goal_id=r[0],
            thread_id=r[1],
            status=r[2],
            events=int(r[3]),
            cleared=bool(r[4]),
            has_token_budget=bool(r[5]),
            accounted_tokens=_oi(r[6]),
            accounted_time_ms=_oi(r[7]),
            turns=int(r[8]),
            cost_usd=_f(r[9]),
        )
        for r in _run(store, sql, params)
    ]


def hooks(store: Store, filters: Filters) -> list[HookRow]:
    """One row per hook (name and source): runs by outcome and the turns they ran in. Hooks
    carry no tokens, so no cost."""
    where, params = _where(filters, "hooks", "h")
    statuses = ", ".join(
        f"count(*) FILTER (WHERE h.status = '{s}')"
        for s in ("completed", "failed", "blocked", "stopped")
    )
    sql = f"""
        SELECT h.hook_name, h.hook_source, count(*), {statuses}, count(DISTINCT h.turn_id)
        FROM hooks h WHERE {where}
        GROUP BY h.hook_name, h.hook_source ORDER BY 3 DESC, 1 NULLS LAST, 2 NULLS LAST"""
    return [
        HookRow(
            hook_name=r[0],
            hook_source=r[1],
            runs=int(r[2]),
            completed=int(r[3]),
            failed=int(r[4]),
            blocked=int(r[5]),
            stopped=int(r[6]),
            turns=int(r[7]),
        )
        for r in _run(store, sql, params)
    ]


def compactions(store: Store, filters: Filters) -> list[CompactionRow]:
    """One row per compaction kind (trigger, reason, phase): outcomes, duration, context
    tokens before and after (summed), and the cost of the turns that only compacted."""
    where, params = _where(filters, "compactions", "k")
    q = store.dialect.quantiles
    outcomes = ", ".join(
        f"count(*) FILTER (WHERE k.status = '{s}')" for s in ("completed", "failed", "interrupted")
    )
    sql = f"""
        WITH {_prices_cte(store)},
        k AS (SELECT k.* FROM compactions k WHERE {where}),
        agg AS (
            SELECT k.trigger, k.reason, k.phase, count(*) AS n, {outcomes},
                   {q("k.duration_ms", (0.5,))} AS p50,
                   sum(k.active_context_tokens_before) AS before_t,
                   sum(k.active_context_tokens_after) AS after_t
            FROM k GROUP BY k.trigger, k.reason, k.phase),
        standalone AS (SELECT DISTINCT trigger, reason, phase, turn_id FROM k
                       WHERE phase = 'standalone_turn'),
        {_grouped_cost(_KIND, "TRUE", None, _STANDALONE_TURNS)},
        sc AS (SELECT trigger, reason, phase, {_ROLLED_COST} AS cost_usd
               FROM costed_groups GROUP BY trigger, reason, phase)
        SELECT agg.*, sc.cost_usd FROM agg LEFT JOIN sc
            ON sc.trigger = agg.trigger AND sc.reason IS NOT DISTINCT FROM agg.reason
               AND sc.phase = agg.phase
        ORDER BY agg.n DESC, agg.trigger, agg.reason NULLS LAST, agg.phase"""
    return [
        CompactionRow(
            trigger=r[0],
            reason=r[1],
            phase=r[2],
            compactions=int(r[3]),
            completed=int(r[4]),
            failed=int(r[5]),
            interrupted=int(r[6]),
            p50_ms=_f(r[7]),
            context_before_tokens=_oi(r[8]),
            context_after_tokens=_oi(r[9]),
            standalone_cost_usd=_f(r[10]),
        )
        for r in _run(store, sql, params)
    ]


def events_by_type(store: Store, filters: Filters) -> list[CountRow]:
    """Stored events per type. Filtered: only the typed families' events (others have no
    thread, time or client to filter on)."""
    if filters.empty:
        rows = _run(store, "SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC, 1")
        return [CountRow(name=r[0], count=int(r[1])) for r in rows]
    parts: list[str] = []
    params: list[object] = []
    for family in FAMILY_TABLES:
        where, p = _where(filters, family.table, "x")
        kind = "x.event_type" if len(family.event_types) > 1 else _literal(family.event_types[0])
        parts.append(f"SELECT {kind} AS event_type FROM {family.table} x WHERE {where}")
        params += p
    sql = f"""SELECT event_type, count(*) FROM ({" UNION ALL ".join(parts)}) AS e
              GROUP BY 1 ORDER BY 2 DESC, 1"""
    return [CountRow(name=r[0], count=int(r[1])) for r in _run(store, sql, params)]


def turns_by_status(store: Store, filters: Filters) -> list[TurnStatusRow]:
    """Turns per terminal status (``in progress`` for turns without one)."""
    where, params = _where(filters, "turns", "t")
    q = store.dialect.quantiles
    sql = f"""
        SELECT coalesce(t.status, 'in progress'), count(*),
               {q("t.duration_ms", (0.5, 0.95))},
               coalesce(sum(t.total_tokens), 0), coalesce(sum(t.tool_calls), 0)
        FROM turns t WHERE {where} GROUP BY 1 ORDER BY 2 DESC, 1"""
    return [
        TurnStatusRow(
            status=r[0],
            turns=int(r[1]),
            p50_ms=_f(r[2]),
            p95_ms=_f(r[3]),
            total_tokens=int(r[4]),
            tool_calls=int(r[5]),
        )
        for r in _run(store, sql, params)
    ]


def overview(store: Store, filters: Filters, *, agent_share: float | None = None) -> Overview:
    """Totals (threads, turns, tokens, cost, tool calls, reviews, accepted agent lines) and the
    replay summary tables. ``agent_share`` comes from attribution against a repository."""
    tw, tp = _where(filters, "turns", "t")
    hw, hp = _where(filters, "threads", "h")
    cw, cp = _where(filters, "tool_calls", "c")
    rw, rp = _where(filters, "reviews", "r")
    aw, ap = _where(filters, "accepted_lines", "a")
    sql = f"""
        WITH {_prices_cte(store)}, {_grouped_cost({}, tw)},
        tot AS (SELECT coalesce(sum(turns), 0) AS turns, coalesce(sum(i), 0) AS i,
                       coalesce(sum(ci), 0) AS ci, coalesce(sum(o), 0) AS o,
                       coalesce(sum(ro), 0) AS ro, coalesce(sum(tt), 0) AS tt,
                       {_ROLLED_COST} AS cost_usd
                FROM costed_groups),
        th AS (SELECT count(*) AS n FROM (SELECT t.thread_id FROM turns t WHERE {tw} UNION
                                          SELECT h.thread_id FROM threads h WHERE {hw}) AS u),
        tc AS (SELECT count(*) AS n FROM tool_calls c WHERE {cw}),
        rc AS (SELECT count(*) AS n FROM reviews r WHERE {rw}),
        al AS (SELECT coalesce(sum(lines), 0) AS n FROM (
                   SELECT max(a.accepted_added_lines) AS lines FROM accepted_lines a
                   WHERE {aw} GROUP BY a.turn_id) AS per_turn)
        SELECT th.n, tot.*, tc.n, rc.n, al.n FROM tot, th, tc, rc, al"""
    r = _run(store, sql, [*tp, *tp, *hp, *cp, *rp, *ap])[0]
    by_type = events_by_type(store, filters)
    return Overview(
        events=sum(row.count for row in by_type),
        threads=int(r[0]),
        turns=int(r[1]),
        input_tokens=int(r[2]),
        cached_input_tokens=int(r[3]),
        output_tokens=int(r[4]),
        reasoning_output_tokens=int(r[5]),
        total_tokens=int(r[6]),
        cost_usd=_f(r[7]),
        unpriced_models=unpriced_models(store, filters),
        tool_calls=int(r[8]),
        reviews=int(r[9]),
        accepted_agent_lines=int(r[10]),
        agent_share=agent_share,
        events_by_type=by_type,
        turns_by_status=turns_by_status(store, filters),
        tools=tools(store, filters),
        approvals=approvals(store, filters),
    )
