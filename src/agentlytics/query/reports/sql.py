"""The SQL every report shares: the filters' conditions, the cost CTEs, the row runner.

The SQL sticks to what DuckDB and PostgreSQL share; engine differences go through
``store.dialect``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final, Literal

from agentlytics.query.filters import Filters
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
    "accepted_lines": ("own", "model_slug"),
}


def condition(f: Filters, table: str, alias: str) -> tuple[str, list[object]]:
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
        # Locally, thread_projects names every recorded thread's repo. A team store never
        # receives it (it is not delivered): there the repo hash of the delivered
        # accepted-line fingerprints is what ties a thread to a project.
        conds.append(
            f"({alias}.thread_id IN (SELECT thread_id FROM thread_projects "
            "WHERE repo_name = ? OR repo_hash = ?) OR "
            f"{alias}.thread_id IN (SELECT thread_id FROM accepted_lines WHERE repo_hash = ?))"
        )
        params += [f.project, f.project, f.project]
    return (" AND ".join(conds) or "TRUE"), params


# -- cost ------------------------------------------------------------------------------------


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def prices_cte(store: Store) -> str:
    """``prices(model, p_in, p_cached, p_out, p_reason)``: the store's price table as rows."""
    models = store.prices.models
    if not models:
        return (
            "prices AS (SELECT CAST(NULL AS VARCHAR) AS model, 0.0 AS p_in, 0.0 AS p_cached, "
            "0.0 AS p_out, 0.0 AS p_reason WHERE 1 = 0)"
        )
    values = ", ".join(
        f"({literal(name)}, {float(p.input)!r}, {float(p.cached_input)!r}, "
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


def grouped_cost(
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
    :data:`ROLLED_COST`. ``source`` may join other tables to ``turns t`` for the keys.
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


def run(store: Store, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
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


def as_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def opt_int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


#: Turns with their cost (USD × 1e6, NULL when unpriced) and whether they are unpriced.
def costed_turns(where: str) -> str:
    return f"""costed AS (
        SELECT t.*, {_turn_cost()} AS cost_e6,
               (p.model IS NULL AND
                coalesce(t.input_tokens, 0) + coalesce(t.output_tokens, 0) > 0) AS unpriced
        FROM turns t LEFT JOIN prices p ON p.model = t.model WHERE {where})"""


ROLLED_COST: Final = (
    "CASE WHEN bool_or(unpriced) THEN NULL ELSE coalesce(sum(cost_e6), 0) / 1000000.0 END"
)

#: Every (child thread, parent thread, subagent source) known from thread starts and turns.
LINKS: Final = """links AS (
        SELECT thread_id, max(parent_thread_id) AS parent_thread_id,
               max(subagent_source) AS subagent_source
        FROM (SELECT thread_id, parent_thread_id, subagent_source FROM threads
              WHERE parent_thread_id IS NOT NULL
              UNION ALL
              SELECT thread_id, parent_thread_id, subagent_source FROM turns
              WHERE parent_thread_id IS NOT NULL) AS l
        GROUP BY thread_id)"""
