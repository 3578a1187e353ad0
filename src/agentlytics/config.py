"""All configuration in one place: a TOML file plus environment variables (env wins).

The file is, in order of precedence: an explicit path (``--config``), ``$AGENTLYTICS_CONFIG``,
``./agentlytics.toml``. Missing file = defaults. Every key, its default and its variable are
listed in ``docs/configuration.md``; this module is the single source of both. Values are typed
with msgspec, so a wrong type in the file or the environment is a clear error naming the key,
not a crash deep inside delivery.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

FullPolicy = Literal["spill", "block", "drop"]
SpoolSync = Literal["normal", "full"]

DEFAULT_FILE = "agentlytics.toml"


def default_spool_dir() -> str:
    """Per-user cache directory for the durable spool (XDG-style)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "agentlytics", "spool")


class DeliveryConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """How the client delivers events (``[delivery]``)."""

    #: Base URL; events go to ``<endpoint>/codex/analytics-events/events``. Empty = no HTTP.
    endpoint: str = ""
    #: Bearer token sent as ``Authorization: Bearer <token>``. Empty = no header.
    token: str = ""
    #: Extra request headers (``ChatGPT-Account-ID``, ``originator``, ...).
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    #: Per-request timeout, seconds.
    timeout: float = 10.0
    #: gzip request bodies (``Content-Encoding: gzip``).
    gzip: bool = True
    #: Directory of the durable spool.
    spool: str = msgspec.field(default_factory=default_spool_dir)
    #: ``normal`` survives a process crash; ``full`` also survives power loss (fsync per batch).
    spool_sync: SpoolSync = "normal"
    #: Facts the in-memory queue holds before the full-queue policy applies.
    queue_size: int = 10_000
    #: What ``submit`` does when the queue is full: spill to disk, block, or drop (counted).
    full_policy: FullPolicy = "spill"
    #: With ``block``: longest a submit waits for room before the fact is dropped (counted).
    block_timeout: float = 1.0
    #: A request carries at most this many events ...
    batch_max_events: int = 500
    #: ... and at most this many bytes of event JSON ...
    batch_max_bytes: int = 1_048_576
    #: ... and waits at most this long for more events before it is sent.
    linger_ms: int = 200
    #: First retry delay after a retryable failure; doubles per failure (with jitter).
    backoff_initial: float = 0.5
    #: Cap on the retry delay (a server's ``Retry-After`` may ask for longer).
    backoff_max: float = 30.0
    #: Default timeout of ``flush()`` / ``close()``.
    flush_timeout: float = 25.0
    #: How long interpreter exit waits for delivery before leaving the rest in the spool.
    exit_timeout: float = 5.0
    #: Journal every submitted item (plain records) so a killed process loses at most ...
    journal: bool = True
    #: ... this many milliseconds of calls ...
    journal_ms: int = 20
    #: ... or this many calls, whichever comes first (docs/delivery.md, "The window").
    journal_records: int = 256
    #: Past this size (a connection open for very long) the journal stops taking records.
    journal_max_bytes: int = 128 << 20


class CollectorConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The ``agentlytics collect`` service (``[collector]``)."""

    host: str = "127.0.0.1"
    port: int = 8765
    #: A DuckDB file, or a ``postgresql://`` URL: the team store (``--store``, docs/scaling.md).
    warehouse: str = "collected.duckdb"
    #: Accepted bearer tokens. Empty = the collector refuses to start unless ``--no-auth``.
    tokens: list[str] = msgspec.field(default_factory=list)
    #: Largest request body accepted, as sent (compressed) — 413 above.
    max_request_bytes: int = 16 * 1024 * 1024
    #: Largest body after gzip decompression — 413 above (guards against gzip bombs).
    max_decompressed_bytes: int = 64 * 1024 * 1024
    #: Most events accepted in one request — 413 above.
    max_events: int = 20_000
    #: Serve ``GET /metrics`` (Prometheus) without the bearer token.
    metrics_open: bool = False
    #: Largest request head (request line and headers) — 431 above, with either HTTP parser.
    max_header_bytes: int = 64 * 1024
    #: Most header lines in one request head — 431 above.
    max_headers: int = 100
    #: Seconds a client has to send a request head — 408 (or closed if it sent nothing).
    header_timeout: float = 10.0
    #: Seconds a client has to send the body once the head is in — 408 above.
    body_timeout: float = 30.0
    #: Open connections at most; more are closed at once (uvicorn answers 503 at this many
    #: concurrent requests).
    max_connections: int = 500
    #: Seconds an idle kept-alive connection stays open.
    keep_alive_timeout: int = 5
    #: DuckDB ``memory_limit`` of the warehouse writer (``"512MB"``, ``"2GB"``, ``"25%"`` of
    #: RAM; DuckDB's own default is 80% of RAM). It caps DuckDB's buffers, which each checkpoint
    #: fills: the writer's RSS peaks at about the limit + 220 MB (1,171 MB at 1GB over 10 minutes).
    #: The event-id index stays in it (about 120 bytes per stored event: 1GB holds at most about
    #: 8M events); inserts fail once the index fills it, so the writer warns at 50/75/90%.
    #: Measured in docs/configuration.md ("The writer's memory").
    memory_limit: str = "1GB"
    #: DuckDB threads of the warehouse writer (each holds buffers of its own); 0 = every core.
    threads: int = 2


class FingerprintsConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Accepted-line fingerprints (``[fingerprints]``)."""

    #: Empty: upstream's plain SHA-1 hashes. Otherwise path and line hashes are HMAC-SHA-256
    #: under this key, which a dictionary of common lines or file names cannot reverse — but
    #: they no longer match upstream's or another key's (keep it secret, keep it stable).
    key: str = ""


OtlpCompression = Literal["gzip", "none"]


class OtlpConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Export to an OpenTelemetry (OTLP/HTTP) endpoint (``[otlp]``, docs/otlp.md)."""

    #: Base URL; logs go to ``<endpoint>/v1/logs``, metrics to ``<endpoint>/v1/metrics``.
    endpoint: str = ""
    #: Request headers (an API key: ``{"x-honeycomb-team" = "..."}``, ``Authorization``, ...).
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    #: ``gzip`` or ``none``.
    compression: OtlpCompression = "gzip"
    #: Per-request timeout, seconds.
    timeout: float = 10.0
    #: The resource's ``service.name``.
    service_name: str = "agentlytics"
    #: Export every event as a log record.
    logs: bool = True
    #: Export the derived metrics.
    metrics: bool = True
    #: Spool directory of the OTLP delivery. Empty = ``otlp`` under ``[delivery] spool``.
    spool: str = ""


class ModelPriceConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One model's price in USD per 1M tokens (``[pricing.models."NAME"]``)."""

    input: float
    output: float
    #: Cached input tokens; default: the input price (no cache discount).
    cached_input: float | None = None
    #: Reasoning output tokens; default: the output price.
    reasoning: float | None = None


class PricingConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Report cost estimates (``[pricing]``): entries here override the bundled price table."""

    models: dict[str, ModelPriceConfig] = msgspec.field(default_factory=dict)


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    delivery: DeliveryConfig = msgspec.field(default_factory=DeliveryConfig)
    collector: CollectorConfig = msgspec.field(default_factory=CollectorConfig)
    otlp: OtlpConfig = msgspec.field(default_factory=OtlpConfig)
    pricing: PricingConfig = msgspec.field(default_factory=PricingConfig)
    fingerprints: FingerprintsConfig = msgspec.field(default_factory=FingerprintsConfig)


class ConfigError(ValueError):
    """The configuration file or an environment variable has a bad value.

    ``variable`` names the environment variable at fault (None: the file), so the message
    blames what the user has to fix.
    """

    def __init__(self, message: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


def _split_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _parse_headers(value: str) -> dict[str, str]:
    """``Name: value; Other: value`` (or a JSON object)."""
    value = value.strip()
    if value.startswith("{"):
        decoded: dict[str, str] = msgspec.json.decode(value, type=dict[str, str])
        return decoded
    out: dict[str, str] = {}
    for part in value.split(";"):
        if part.strip():
            name, sep, val = part.partition(":")
            if not sep:
                raise ConfigError(
                    f"AGENTLYTICS_HEADERS: expected 'Name: value', got {part!r}",
                    "AGENTLYTICS_HEADERS",
                )
            out[name.strip()] = val.strip()
    return out


def _parse_bool(value: str) -> bool:
    return _BOOL[value.strip().lower()]


def _parse_otel_headers(value: str) -> dict[str, str]:
    """``OTEL_EXPORTER_OTLP_HEADERS``: ``key=value,key2=value2``, values percent-encoded."""
    from urllib.parse import unquote

    out: dict[str, str] = {}
    for part in value.split(","):
        if part.strip():
            name, sep, val = part.partition("=")
            if not sep:
                raise ConfigError(f"OTEL_EXPORTER_OTLP_HEADERS: expected 'key=value', got {part!r}")
            out[unquote(name.strip())] = unquote(val.strip())
    return out


def _parse_otel_timeout(value: str) -> float:
    """``OTEL_EXPORTER_OTLP_TIMEOUT`` is in milliseconds; ``[otlp] timeout`` in seconds."""
    return float(value) / 1000.0


#: Environment variable -> (section, key, parser). Documented in docs/configuration.md.
ENV: dict[str, tuple[str, str, Any]] = {
    "AGENTLYTICS_ENDPOINT": ("delivery", "endpoint", str),
    "AGENTLYTICS_TOKEN": ("delivery", "token", str),
    "AGENTLYTICS_HEADERS": ("delivery", "headers", _parse_headers),
    "AGENTLYTICS_TIMEOUT": ("delivery", "timeout", float),
    "AGENTLYTICS_GZIP": ("delivery", "gzip", str),
    "AGENTLYTICS_SPOOL": ("delivery", "spool", str),
    "AGENTLYTICS_SPOOL_SYNC": ("delivery", "spool_sync", str),
    "AGENTLYTICS_QUEUE_SIZE": ("delivery", "queue_size", int),
    "AGENTLYTICS_FULL_POLICY": ("delivery", "full_policy", str),
    "AGENTLYTICS_BLOCK_TIMEOUT": ("delivery", "block_timeout", float),
    "AGENTLYTICS_BATCH_MAX_EVENTS": ("delivery", "batch_max_events", int),
    "AGENTLYTICS_BATCH_MAX_BYTES": ("delivery", "batch_max_bytes", int),
    "AGENTLYTICS_LINGER_MS": ("delivery", "linger_ms", int),
    "AGENTLYTICS_BACKOFF_INITIAL": ("delivery", "backoff_initial", float),
    "AGENTLYTICS_BACKOFF_MAX": ("delivery", "backoff_max", float),
    "AGENTLYTICS_FLUSH_TIMEOUT": ("delivery", "flush_timeout", float),
    "AGENTLYTICS_EXIT_TIMEOUT": ("delivery", "exit_timeout", float),
    "AGENTLYTICS_JOURNAL_MS": ("delivery", "journal_ms", int),
    "AGENTLYTICS_JOURNAL_RECORDS": ("delivery", "journal_records", int),
    "AGENTLYTICS_COLLECTOR_HOST": ("collector", "host", str),
    "AGENTLYTICS_COLLECTOR_PORT": ("collector", "port", int),
    "AGENTLYTICS_COLLECTOR_WAREHOUSE": ("collector", "warehouse", str),
    "AGENTLYTICS_COLLECTOR_TOKENS": ("collector", "tokens", _split_list),
    "AGENTLYTICS_COLLECTOR_MAX_REQUEST_BYTES": ("collector", "max_request_bytes", int),
    "AGENTLYTICS_COLLECTOR_MAX_DECOMPRESSED_BYTES": (
        "collector",
        "max_decompressed_bytes",
        int,
    ),
    "AGENTLYTICS_COLLECTOR_MAX_EVENTS": ("collector", "max_events", int),
    "AGENTLYTICS_COLLECTOR_METRICS_OPEN": ("collector", "metrics_open", _parse_bool),
    # The OpenTelemetry SDK's standard variables first, so AGENTLYTICS_OTLP_* (below) win.
    "OTEL_EXPORTER_OTLP_ENDPOINT": ("otlp", "endpoint", str),
    "OTEL_EXPORTER_OTLP_HEADERS": ("otlp", "headers", _parse_otel_headers),
    "OTEL_EXPORTER_OTLP_COMPRESSION": ("otlp", "compression", str),
    "OTEL_EXPORTER_OTLP_TIMEOUT": ("otlp", "timeout", _parse_otel_timeout),
    "OTEL_SERVICE_NAME": ("otlp", "service_name", str),
    "AGENTLYTICS_OTLP_ENDPOINT": ("otlp", "endpoint", str),
    "AGENTLYTICS_OTLP_HEADERS": ("otlp", "headers", _parse_headers),
    "AGENTLYTICS_OTLP_COMPRESSION": ("otlp", "compression", str),
    "AGENTLYTICS_OTLP_TIMEOUT": ("otlp", "timeout", float),
    "AGENTLYTICS_OTLP_SERVICE_NAME": ("otlp", "service_name", str),
    "AGENTLYTICS_OTLP_LOGS": ("otlp", "logs", _parse_bool),
    "AGENTLYTICS_OTLP_METRICS": ("otlp", "metrics", _parse_bool),
    "AGENTLYTICS_OTLP_SPOOL": ("otlp", "spool", str),
    "AGENTLYTICS_FINGERPRINTS_KEY": ("fingerprints", "key", str),
    "AGENTLYTICS_COLLECTOR_MAX_HEADER_BYTES": ("collector", "max_header_bytes", int),
    "AGENTLYTICS_COLLECTOR_MAX_HEADERS": ("collector", "max_headers", int),
    "AGENTLYTICS_COLLECTOR_HEADER_TIMEOUT": ("collector", "header_timeout", float),
    "AGENTLYTICS_COLLECTOR_BODY_TIMEOUT": ("collector", "body_timeout", float),
    "AGENTLYTICS_COLLECTOR_MAX_CONNECTIONS": ("collector", "max_connections", int),
    "AGENTLYTICS_COLLECTOR_KEEP_ALIVE_TIMEOUT": ("collector", "keep_alive_timeout", int),
    "AGENTLYTICS_COLLECTOR_MEMORY_LIMIT": ("collector", "memory_limit", str),
    "AGENTLYTICS_COLLECTOR_THREADS": ("collector", "threads", int),
}

_BOOL = {"1": True, "true": True, "yes": True, "on": True}
_BOOL |= {"0": False, "false": False, "no": False, "off": False}


def config_path(explicit: str | Path | None, environ: Mapping[str, str]) -> Path | None:
    """The file to read: explicit, else ``$AGENTLYTICS_CONFIG``, else ./agentlytics.toml."""
    if explicit:
        return Path(explicit)
    if environ.get("AGENTLYTICS_CONFIG"):
        return Path(environ["AGENTLYTICS_CONFIG"])
    local = Path(DEFAULT_FILE)
    return local if local.is_file() else None


def load(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the file (if any), apply environment overrides, validate types."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    file = config_path(path, env)
    if file is not None:
        try:
            raw = tomllib.loads(file.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {file}", _file_variable(path, env)) from exc
        except IsADirectoryError as exc:
            raise ConfigError(f"{file} is a directory", _file_variable(path, env)) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: {exc}", _file_variable(path, env)) from exc
    from_env: dict[str, str] = {}
    for var, (section, key, parse) in ENV.items():
        value = env.get(var)
        if value is None:
            continue
        try:
            if key == "gzip":
                parsed: Any = _BOOL[value.strip().lower()]
            else:
                parsed = parse(value)
        except ConfigError:
            raise
        except (KeyError, ValueError, msgspec.DecodeError) as exc:
            raise ConfigError(f"{var}={value!r}: not a valid {key}", var) from exc
        raw.setdefault(section, {})[key] = parsed
        from_env[f"$.{section}.{key}"] = var
    try:
        return msgspec.convert(raw, Config)
    except msgspec.ValidationError as exc:
        # "Expected `int`, got `str` - at `$.delivery.queue_size`": name the variable if the
        # value came from one.
        at = str(exc).rpartition(" - at `")[2].rstrip("`")
        named = next((v for k, v in from_env.items() if at == k or at.startswith(k + "[")), None)
        if named is not None:
            raise ConfigError(f"{named}={env[named]!r}: {exc}", named) from exc
        where = f"{file}" if file is not None else "environment"
        raise ConfigError(f"{where}: {exc}", _file_variable(path, env)) from exc


def _file_variable(explicit: str | Path | None, environ: Mapping[str, str]) -> str | None:
    """``AGENTLYTICS_CONFIG`` when it, not ``--config``, chose the file."""
    return "AGENTLYTICS_CONFIG" if not explicit and environ.get("AGENTLYTICS_CONFIG") else None
