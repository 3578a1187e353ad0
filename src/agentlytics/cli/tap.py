"""``agentlytics tap``: relay a live app-server byte for byte and observe it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from agentlytics.cli.common import load_config, use_fingerprint_key

if TYPE_CHECKING:
    from agentlytics.observe.observer import Observer


def tap(
    command: list[str] = typer.Argument(  # noqa: B008
        None, metavar="-- CMD [ARGS...]", help="The server to run, e.g. `codex app-server`."
    ),
    record: Path | None = typer.Option(  # noqa: B008
        None,
        "--record",
        metavar="CAPTURE",
        help="Write every relayed message to this file.",
    ),
    events: str | None = typer.Option(
        None, "--events", metavar="PATH", help="Write the emitted analytics events to PATH."
    ),
    warehouse: Path | None = typer.Option(  # noqa: B008
        None, "--warehouse", metavar="PATH", help="Store events in this DuckDB warehouse."
    ),
    no_warehouse: bool = typer.Option(
        False, "--no-warehouse", help="Do not store events in a warehouse."
    ),
    send: str | None = typer.Option(
        None, "--send", metavar="URL", help="Send events to this collector URL."
    ),
    token: str | None = typer.Option(
        None, "--token", help="Bearer token for --send (default: configured / AGENTLYTICS_TOKEN)."
    ),
    otlp: str | None = typer.Option(
        None, "--otlp", metavar="ENDPOINT", help="Export events to this OTLP/HTTP endpoint."
    ),
) -> None:
    """Relay stdio to and from CMD byte for byte (a live `codex app-server`) and observe it.

    Exits with CMD's exit code (128+N if it died of signal N); SIGINT/SIGTERM/SIGHUP are
    forwarded to it.
    """
    from agentlytics.errors import UserError
    from agentlytics.observe import tap as tap_mod

    try:
        use_fingerprint_key(None)
    except (UserError, typer.BadParameter) as exc:  # the agent must start all the same
        typer.echo(f"agentlytics tap: {exc}; relaying anyway", err=True)
    if warehouse is not None and no_warehouse:
        typer.echo("agentlytics tap: --warehouse and --no-warehouse exclude each other", err=True)
        raise typer.Exit(2)
    if events == "-":
        typer.echo(
            "agentlytics tap: --events - is not allowed: stdout carries the server's JSON-RPC "
            "to the client; write events to a file (--events PATH)",
            err=True,
        )
        raise typer.Exit(2)
    analytics = _live_observer(events, None if no_warehouse else warehouse, send, token, otlp)
    raise typer.Exit(tap_mod.main_tap(command or [], record=record, analytics=analytics))


def _live_observer(
    events: str | None,
    warehouse: Path | None,
    send: str | None,
    token: str | None = None,
    otlp: str | None = None,
) -> Observer | None:
    """The tap's live pipeline, writing to the sinks the options name (None: record only)."""
    from agentlytics.delivery.processor import Processor
    from agentlytics.sinks.base import Sink
    from agentlytics.sinks.config import DuckDBSinkConfig, JsonlSinkConfig, from_config

    sinks: list[Sink] = []
    # Analytics must never keep the server from starting: a sink that cannot be opened (a
    # warehouse locked by another process, a read-only path) is reported and left out.
    try:
        if events is not None:
            sinks.append(from_config(JsonlSinkConfig(events)))
        if warehouse is not None:
            sinks.append(from_config(DuckDBSinkConfig(str(warehouse))))
    except Exception as exc:
        typer.echo(
            f"agentlytics tap: cannot open an analytics sink ({exc}); relaying anyway", err=True
        )
    # --send and --otlp get the tap's sealed events (each fact reduced once, by the tap).
    processors: list[Processor] = []
    if send is not None:
        import msgspec

        from agentlytics.config import Config
        from agentlytics.library.sealed import SealedDelivery

        cfg = load_config(None)
        assert isinstance(cfg, Config)
        try:
            processors.append(
                SealedDelivery.from_config(
                    msgspec.structs.replace(
                        cfg.delivery,
                        endpoint=send,
                        token=cfg.delivery.token if token is None else token,
                    )
                )
            )
        except Exception as exc:  # the agent never pays for analytics failing
            typer.echo(
                f"agentlytics tap: analytics delivery disabled: cannot use the spool "
                f"{cfg.delivery.spool} ({exc}); relaying anyway",
                err=True,
            )
    if otlp is not None:
        from agentlytics.config import Config
        from agentlytics.library.sealed import SealedDelivery, SealedPipeline
        from agentlytics.otel.delivery import otlp_delivery

        otlp_cfg = load_config(None)
        assert isinstance(otlp_cfg, Config)
        try:
            exporter, _ = otlp_delivery(otlp_cfg, otlp, pipeline_factory=SealedPipeline)
        except Exception as exc:  # the agent never pays for analytics failing
            typer.echo(f"agentlytics tap: OTLP export disabled ({exc}); relaying anyway", err=True)
        else:
            processors.append(SealedDelivery(exporter))
    if not sinks and not processors:
        return None
    from agentlytics.live import LiveObserver

    return LiveObserver(sinks, processors=processors)
