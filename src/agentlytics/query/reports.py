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
    DailyRow,
    MonthlyRow,
    PeriodRow,
    SlowCallRow,
    ToolRow,
    WeeklyRow,
)
from agentlytics.query.store import Store

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


def _group_cost(t: str = "t", p: str = "p") -> str:
    """Aggregate USD of a group of turns; NULL if a turn with tokens is unpriced."""
    return (
        f"CASE WHEN bool_or({p}.model IS NULL AND "
        f"coalesce({t}.input_tokens, 0) + coalesce({t}.output_tokens, 0) > 0) THEN NULL "
        f"ELSE coalesce(sum({_turn_cost(t, p)}), 0) / 1000000.0 END"
    )


def _run(store: Store, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    return store.rows(store.dialect.placeholders(sql), params)


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
    q = store.dialect.quantile
    sql = f"""
        SELECT c.kind, c.tool_name, count(*),
               count(*) FILTER (WHERE c.terminal_status <> 'completed'),
               {q("c.duration_ms", 0.5)}, {q("c.duration_ms", 0.95)}, {q("c.duration_ms", 0.99)}
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
    period = store.dialect.period(unit, "t.ts_ms")
    model = "t.model" if by_model else "CAST(NULL AS VARCHAR)"
    sql = f"""
        WITH {_prices_cte(store)}
        SELECT {period} AS period, {model} AS model, count(*),
               coalesce(sum(t.input_tokens), 0), coalesce(sum(t.cached_input_tokens), 0),
               coalesce(sum(t.output_tokens), 0), coalesce(sum(t.reasoning_output_tokens), 0),
               coalesce(sum(t.total_tokens), 0), {_group_cost()}
        FROM turns t LEFT JOIN prices p ON p.model = t.model
        WHERE {where}
        GROUP BY 1, 2 ORDER BY 1, 2"""
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
        SELECT DISTINCT coalesce(t.model, '(unknown model)') FROM turns t
        WHERE {where} AND coalesce(t.input_tokens, 0) + coalesce(t.output_tokens, 0) > 0
        ORDER BY 1"""
    known = store.prices.models
    return [r[0] for r in _run(store, sql, params) if r[0] not in known]
