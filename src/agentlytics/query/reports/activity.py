"""Goals, hooks and compactions: what happens around the turns."""

from __future__ import annotations

from typing import Final

from agentlytics.query.filters import Filters
from agentlytics.query.reports.sql import (
    ROLLED_COST,
    as_float,
    condition,
    grouped_cost,
    opt_int,
    prices_cte,
    run,
)
from agentlytics.query.rows import (
    CompactionRow,
    GoalRow,
    HookRow,
)
from agentlytics.query.store import Store

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
    where, params = condition(filters, "goals", "g")
    limit_sql = "" if limit is None else f"LIMIT {int(limit)}"
    sql = f"""
        WITH {prices_cte(store)},
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
        {grouped_cost({"goal_id": "gt.goal_id"}, "TRUE", None, _GOAL_TURNS)},
        gc AS (SELECT goal_id, sum(turns) AS turns, {ROLLED_COST} AS cost_usd
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
            accounted_tokens=opt_int(r[6]),
            accounted_time_ms=opt_int(r[7]),
            turns=int(r[8]),
            cost_usd=as_float(r[9]),
        )
        for r in run(store, sql, params)
    ]


def hooks(store: Store, filters: Filters) -> list[HookRow]:
    """One row per hook (name and source): runs by outcome and the turns they ran in. Hooks
    carry no tokens, so no cost."""
    where, params = condition(filters, "hooks", "h")
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
        for r in run(store, sql, params)
    ]


def compactions(store: Store, filters: Filters) -> list[CompactionRow]:
    """One row per compaction kind (trigger, reason, phase): outcomes, duration, context
    tokens before and after (summed), and the cost of the turns that only compacted."""
    where, params = condition(filters, "compactions", "k")
    q = store.dialect.quantiles
    outcomes = ", ".join(
        f"count(*) FILTER (WHERE k.status = '{s}')" for s in ("completed", "failed", "interrupted")
    )
    sql = f"""
        WITH {prices_cte(store)},
        k AS (SELECT k.* FROM compactions k WHERE {where}),
        agg AS (
            SELECT k.trigger, k.reason, k.phase, count(*) AS n, {outcomes},
                   {q("k.duration_ms", (0.5,))} AS p50,
                   sum(k.active_context_tokens_before) AS before_t,
                   sum(k.active_context_tokens_after) AS after_t
            FROM k GROUP BY k.trigger, k.reason, k.phase),
        standalone AS (SELECT DISTINCT trigger, reason, phase, turn_id FROM k
                       WHERE phase = 'standalone_turn'),
        {grouped_cost(_KIND, "TRUE", None, _STANDALONE_TURNS)},
        sc AS (SELECT trigger, reason, phase, {ROLLED_COST} AS cost_usd
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
            p50_ms=as_float(r[7]),
            context_before_tokens=opt_int(r[8]),
            context_after_tokens=opt_int(r[9]),
            standalone_cost_usd=as_float(r[10]),
        )
        for r in run(store, sql, params)
    ]
