"""The overview totals, turns and tokens per period, and the summary tables they show."""

from __future__ import annotations

from typing import Final

from agentlytics.query.dialect import Period
from agentlytics.query.filters import Filters
from agentlytics.query.reports.approvals import approvals
from agentlytics.query.reports.sql import (
    ROLLED_COST,
    as_float,
    condition,
    grouped_cost,
    literal,
    prices_cte,
    run,
)
from agentlytics.query.reports.tools import tools
from agentlytics.query.rows import (
    CountRow,
    DailyRow,
    MonthlyRow,
    Overview,
    PeriodRow,
    TurnStatusRow,
    WeeklyRow,
)
from agentlytics.query.store import Store
from agentlytics.warehouse.schema import FAMILY_TABLES


def event_count(store: Store) -> int:
    """Events stored (all types, unfiltered): 0 means an empty warehouse."""
    rows = run(store, "SELECT count(*) FROM events")
    return int(rows[0][0])


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
    where, params = condition(filters, "turns", "t")
    # Bucket by UTC day number first (cheap integer grouping), then label the few groups.
    day = "CAST(floor(t.ts_ms / 86400000.0) AS BIGINT)"
    period = store.dialect.period(unit, "day_no * 86400000")
    model = "model" if by_model else "CAST(NULL AS VARCHAR)"
    sql = f"""
        WITH {prices_cte(store)}, {grouped_cost({"day_no": day}, where)}
        SELECT {period} AS period, {model} AS model, sum(turns), sum(i), sum(ci), sum(o),
               sum(ro), sum(tt), {ROLLED_COST}
        FROM costed_groups GROUP BY 1, 2 ORDER BY 1, 2"""
    row_type = _PERIOD_ROW[unit]
    out: list[PeriodRow] = []
    for r in run(store, sql, params):
        values = {
            "model": r[1],
            "turns": int(r[2]),
            "input_tokens": int(r[3]),
            "cached_input_tokens": int(r[4]),
            "output_tokens": int(r[5]),
            "reasoning_output_tokens": int(r[6]),
            "total_tokens": int(r[7]),
            "cost_usd": as_float(r[8]),
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
    where, params = condition(filters, "turns", "t")
    sql = f"""
        SELECT t.model, sum(coalesce(t.input_tokens, 0) + coalesce(t.output_tokens, 0))
        FROM turns t WHERE {where} GROUP BY t.model"""
    known = store.prices.models
    return sorted(
        model or "(unknown model)"
        for model, tokens in run(store, sql, params)
        if tokens and model not in known
    )


def events_by_type(store: Store, filters: Filters) -> list[CountRow]:
    """Stored events per type. Filtered: only the typed families' events (others have no
    thread, time or client to filter on)."""
    if filters.empty:
        rows = run(store, "SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC, 1")
        return [CountRow(name=r[0], count=int(r[1])) for r in rows]
    parts: list[str] = []
    params: list[object] = []
    for family in FAMILY_TABLES:
        where, p = condition(filters, family.table, "x")
        kind = "x.event_type" if len(family.event_types) > 1 else literal(family.event_types[0])
        parts.append(f"SELECT {kind} AS event_type FROM {family.table} x WHERE {where}")
        params += p
    sql = f"""SELECT event_type, count(*) FROM ({" UNION ALL ".join(parts)}) AS e
              GROUP BY 1 ORDER BY 2 DESC, 1"""
    return [CountRow(name=r[0], count=int(r[1])) for r in run(store, sql, params)]


def turns_by_status(store: Store, filters: Filters) -> list[TurnStatusRow]:
    """Turns per terminal status (``in progress`` for turns without one)."""
    where, params = condition(filters, "turns", "t")
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
            p50_ms=as_float(r[2]),
            p95_ms=as_float(r[3]),
            total_tokens=int(r[4]),
            tool_calls=int(r[5]),
        )
        for r in run(store, sql, params)
    ]


def overview(store: Store, filters: Filters, *, agent_share: float | None = None) -> Overview:
    """Totals (threads, turns, tokens, cost, tool calls, reviews, accepted agent lines) and the
    replay summary tables. ``agent_share`` comes from attribution against a repository."""
    tw, tp = condition(filters, "turns", "t")
    hw, hp = condition(filters, "threads", "h")
    cw, cp = condition(filters, "tool_calls", "c")
    rw, rp = condition(filters, "reviews", "r")
    aw, ap = condition(filters, "accepted_lines", "a")
    sql = f"""
        WITH {prices_cte(store)}, {grouped_cost({}, tw)},
        tot AS (SELECT coalesce(sum(turns), 0) AS turns, coalesce(sum(i), 0) AS i,
                       coalesce(sum(ci), 0) AS ci, coalesce(sum(o), 0) AS o,
                       coalesce(sum(ro), 0) AS ro, coalesce(sum(tt), 0) AS tt,
                       {ROLLED_COST} AS cost_usd
                FROM costed_groups),
        th AS (SELECT count(*) AS n FROM (SELECT t.thread_id FROM turns t WHERE {tw} UNION
                                          SELECT h.thread_id FROM threads h WHERE {hw}) AS u),
        tc AS (SELECT count(*) AS n FROM tool_calls c WHERE {cw}),
        rc AS (SELECT count(*) AS n FROM reviews r WHERE {rw}),
        al AS (SELECT coalesce(sum(lines), 0) AS n FROM (
                   SELECT max(a.accepted_added_lines) AS lines FROM accepted_lines a
                   WHERE {aw} GROUP BY a.turn_id) AS per_turn)
        SELECT th.n, tot.*, tc.n, rc.n, al.n FROM tot, th, tc, rc, al"""
    r = run(store, sql, [*tp, *tp, *hp, *cp, *rp, *ap])[0]
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
        cost_usd=as_float(r[7]),
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
