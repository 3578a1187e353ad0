"""One typed config per sink, and the one factory that builds a sink from it.

Every driver (replay, tap, ``--send``, the library's background delivery, the OTLP export)
names the sinks it wants with these configs and builds them here, so a new sink is a module
under ``sinks/``, a config struct and one case of :func:`from_config`. Sinks are imported when
built: a JSONL replay never loads DuckDB or httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, overload

import msgspec

from agentlytics.config import DeliveryConfig, OtlpConfig, PricingConfig

if TYPE_CHECKING:
    from .base import Sink
    from .duckdb import DuckDBSink
    from .http import HttpSink
    from .jsonl import JsonlSink
    from .otlp import OtlpSink


class JsonlSinkConfig(msgspec.Struct, frozen=True):
    """Events as JSON lines to a file (``-``: stdout)."""

    path: str


class DuckDBSinkConfig(msgspec.Struct, frozen=True):
    """Events into a DuckDB warehouse file (``:memory:``: a throwaway one)."""

    path: str


class HttpSinkConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Events POSTed to a collector (``<endpoint>/codex/analytics-events/events``)."""

    endpoint: str
    token: str = ""
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    timeout: float = 10.0
    gzip: bool = True

    @classmethod
    def from_delivery(cls, config: DeliveryConfig) -> HttpSinkConfig:
        """The HTTP sink ``[delivery]`` describes (``AGENTLYTICS_ENDPOINT``, ...)."""
        if not config.endpoint:
            raise ValueError("no delivery endpoint configured (AGENTLYTICS_ENDPOINT)")
        return cls(
            endpoint=config.endpoint,
            token=config.token,
            headers=dict(config.headers),
            timeout=config.timeout,
            gzip=config.gzip,
        )


class OtlpSinkConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Events as OTLP logs and metrics (``[otlp]``), costed with the bundled prices."""

    otlp: OtlpConfig
    pricing: PricingConfig | None = None


SinkConfig = JsonlSinkConfig | DuckDBSinkConfig | HttpSinkConfig | OtlpSinkConfig


@overload
def from_config(config: JsonlSinkConfig) -> JsonlSink: ...
@overload
def from_config(config: DuckDBSinkConfig) -> DuckDBSink: ...
@overload
def from_config(config: HttpSinkConfig) -> HttpSink: ...
@overload
def from_config(config: OtlpSinkConfig) -> OtlpSink: ...
def from_config(config: SinkConfig) -> Sink:
    """The sink a config describes, opened (a file created, a warehouse locked)."""
    if isinstance(config, JsonlSinkConfig):
        from .jsonl import JsonlSink

        return JsonlSink(config.path)
    if isinstance(config, DuckDBSinkConfig):
        from .duckdb import DuckDBSink

        return DuckDBSink(config.path)
    if isinstance(config, HttpSinkConfig):
        from .http import HttpSink

        return HttpSink(
            config.endpoint,
            token=config.token,
            headers=config.headers,
            timeout=config.timeout,
            gzip=config.gzip,
        )
    from agentlytics.query.pricing import bundled

    from .otlp import OtlpSink

    otlp = config.otlp
    prices = bundled() if config.pricing is None else bundled().with_overrides(config.pricing)
    return OtlpSink(
        otlp.endpoint,
        headers=otlp.headers,
        compression=otlp.compression,
        timeout=otlp.timeout,
        service_name=otlp.service_name,
        logs=otlp.logs,
        metrics=otlp.metrics,
        prices=prices,
    )
