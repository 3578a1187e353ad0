"""What differs between the SQL engines the report queries run on, and nothing else.

Report SQL is written once (:mod:`agentlytics.query.reports`) in the subset DuckDB and
PostgreSQL share — ``count(*) FILTER (WHERE …)``, ``coalesce``, CTEs, window functions,
``bool_or`` — with ``?`` placeholders. The rest (quantiles, bucketing epoch milliseconds into
calendar periods, the placeholder style) goes through a :class:`Dialect`.
"""

from __future__ import annotations

from typing import Literal, Protocol

Period = Literal["day", "week", "month"]


class Dialect(Protocol):
    """SQL fragments one engine spells its own way."""

    name: str

    def quantiles(self, expr: str, qs: tuple[float, ...]) -> str:
        """Continuous (interpolated) quantiles ``qs`` of ``expr`` over the group: one sort for
        all of them, as an array of doubles (NULLs when the group has no value, never NULL)."""
        ...

    def period(self, unit: Period, ts_ms: str) -> str:
        """ISO text of the UTC period holding epoch-ms ``ts_ms``: day ``2026-12-03``, week
        ``2026-W49`` (ISO 8601 week), month ``2026-12``."""
        ...

    def placeholders(self, sql: str) -> str:
        """``sql`` with its ``?`` placeholders in the driver's style."""
        ...


class DuckDBDialect:
    name = "duckdb"

    def quantiles(self, expr: str, qs: tuple[float, ...]) -> str:
        nulls = ", ".join("CAST(NULL AS DOUBLE)" for _ in qs)
        return f"coalesce(quantile_cont({expr}, [{', '.join(map(repr, qs))}]), [{nulls}])"

    def period(self, unit: Period, ts_ms: str) -> str:
        fmt = {"day": "%Y-%m-%d", "week": "%G-W%V", "month": "%Y-%m"}[unit]
        return f"strftime(epoch_ms(CAST({ts_ms} AS BIGINT)), '{fmt}')"

    def placeholders(self, sql: str) -> str:
        return sql


class PostgresDialect:
    """For the PostgreSQL store (its backend lives with that store)."""

    name = "postgresql"

    def quantiles(self, expr: str, qs: tuple[float, ...]) -> str:
        array = f"ARRAY[{', '.join(map(repr, qs))}]"
        nulls = f"CAST(ARRAY[{', '.join('NULL' for _ in qs)}] AS double precision[])"
        return f"coalesce(percentile_cont({array}) WITHIN GROUP (ORDER BY {expr}), {nulls})"

    def period(self, unit: Period, ts_ms: str) -> str:
        fmt = {"day": "YYYY-MM-DD", "week": 'IYYY-"W"IW', "month": "YYYY-MM"}[unit]
        return f"to_char(to_timestamp(({ts_ms}) / 1000.0) AT TIME ZONE 'UTC', '{fmt}')"

    def placeholders(self, sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")
