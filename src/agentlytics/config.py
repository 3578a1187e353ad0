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
    pricing: PricingConfig = msgspec.field(default_factory=PricingConfig)


class ConfigError(ValueError):
    """The configuration file or an environment variable has a bad value."""


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
                raise ConfigError(f"AGENTLYTICS_HEADERS: expected 'Name: value', got {part!r}")
            out[name.strip()] = val.strip()
    return out


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
            raise ConfigError(f"config file not found: {file}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: {exc}") from exc
    for var, (section, key, parse) in ENV.items():
        value = env.get(var)
        if value is None:
            continue
        try:
            if key == "gzip":
                parsed: Any = _BOOL[value.strip().lower()]
            else:
                parsed = parse(value)
        except (KeyError, ValueError, msgspec.DecodeError) as exc:
            raise ConfigError(f"{var}={value!r}: not a valid {key}") from exc
        raw.setdefault(section, {})[key] = parsed
    try:
        return msgspec.convert(raw, Config)
    except msgspec.ValidationError as exc:
        where = f"{file}" if file is not None else "environment"
        raise ConfigError(f"{where}: {exc}") from exc
