"""agentlytics: turn coding-agent (Codex app-server) traffic into exact analytics events.

The pipeline, one direction only:
observe (wire -> facts) -> reducer (facts -> events) -> delivery -> sinks -> warehouse -> query.

The documented surface is what this module exports::

    from agentlytics import AnalyticsClient, BackgroundDelivery, Pipeline, open_store, Filters

Names are imported on first use (PEP 562), so ``import agentlytics`` — and ``agentlytics
--help`` — does not pay for DuckDB, the HTTP client or the OpenTelemetry SDK. Everything else
stays importable from its module but is not the documented way.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from agentlytics.version import __version__

#: Public name -> the module that defines it.
_PUBLIC = {
    "AnalyticsClient": "agentlytics.client",
    "Pipeline": "agentlytics.pipeline",
    "BackgroundDelivery": "agentlytics.library.worker",
    "Envelope": "agentlytics.events.envelope",
    "Sink": "agentlytics.sinks.base",
    "SinkError": "agentlytics.sinks.base",
    "Config": "agentlytics.config",
    "load_config": "agentlytics.config",
    "open_store": "agentlytics.query.store",
    "Store": "agentlytics.query.store",
    "StoreError": "agentlytics.query.store",
    "Filters": "agentlytics.query.filters",
    "reports": "agentlytics.query",
}

__all__ = [
    "AnalyticsClient",
    "BackgroundDelivery",
    "Config",
    "Envelope",
    "Filters",
    "Pipeline",
    "Sink",
    "SinkError",
    "Store",
    "StoreError",
    "__version__",
    "load_config",
    "open_store",
    "reports",
]

if TYPE_CHECKING:
    from agentlytics.client import AnalyticsClient
    from agentlytics.config import Config
    from agentlytics.config import load as load_config
    from agentlytics.events.envelope import Envelope
    from agentlytics.library.worker import BackgroundDelivery
    from agentlytics.pipeline import Pipeline
    from agentlytics.query import reports
    from agentlytics.query.filters import Filters
    from agentlytics.query.store import Store, StoreError, open_store
    from agentlytics.sinks.base import Sink, SinkError


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'agentlytics' has no attribute {name!r}")
    target = importlib.import_module(module)
    value = getattr(target, {"load_config": "load"}.get(name, name))
    globals()[name] = value
    return value
