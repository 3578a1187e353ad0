"""The query layer: typed reports over any store (a DuckDB warehouse, a PostgreSQL store).

``open_store(location)`` opens a store; each report is a function ``(store, filters) -> rows``
(see :mod:`agentlytics.query.reports`) whose rows' ``msgspec.to_builtins`` form is the
``--format json`` output of ``agentlytics report``.
"""

from agentlytics.query.filters import FilterError, Filters
from agentlytics.query.reports import (
    daily,
    event_count,
    monthly,
    periods,
    slowest_calls,
    tools,
    unpriced_models,
    weekly,
)
from agentlytics.query.store import Store, StoreError, open_store

__all__ = [
    "FilterError",
    "Filters",
    "Store",
    "StoreError",
    "daily",
    "event_count",
    "monthly",
    "open_store",
    "periods",
    "slowest_calls",
    "tools",
    "unpriced_models",
    "weekly",
]
