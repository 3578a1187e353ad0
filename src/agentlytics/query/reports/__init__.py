"""Every report as a typed function ``(store, filters, …) -> rows``: all report SQL is here.

The SQL reads the typed family tables (:mod:`agentlytics.warehouse.schema`), never JSON, and
sticks to what DuckDB and PostgreSQL share; engine differences go through ``store.dialect``.
Cost is computed in SQL from the store's price table (a ``VALUES`` list joined on the turn's
model) with the formula of :mod:`agentlytics.query.pricing`; a group holding a turn with tokens
on an unpriced model has no cost (NULL), never a partial one.

One module per section: :mod:`.overview` (totals and periods), :mod:`.sessions`,
:mod:`.tools`, :mod:`.approvals`, :mod:`.subagents`, :mod:`.activity` (goals, hooks,
compactions); :mod:`.sql` holds what they share (filter conditions, cost CTEs).
"""

from agentlytics.query.reports.activity import compactions, goals, hooks
from agentlytics.query.reports.approvals import (
    approval_latency,
    approval_sources,
    approvals,
    guardian_risk,
)
from agentlytics.query.reports.overview import (
    daily,
    event_count,
    events_by_type,
    monthly,
    overview,
    periods,
    turns_by_status,
    unpriced_models,
    weekly,
)
from agentlytics.query.reports.sessions import session, sessions
from agentlytics.query.reports.sql import iso_ms
from agentlytics.query.reports.subagents import subagents
from agentlytics.query.reports.tools import slowest_calls, tools

__all__ = [
    "approval_latency",
    "approval_sources",
    "approvals",
    "compactions",
    "daily",
    "event_count",
    "events_by_type",
    "goals",
    "guardian_risk",
    "hooks",
    "iso_ms",
    "monthly",
    "overview",
    "periods",
    "session",
    "sessions",
    "slowest_calls",
    "subagents",
    "tools",
    "turns_by_status",
    "unpriced_models",
    "weekly",
]
