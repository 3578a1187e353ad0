"""``agentlytics collect``: the HTTP collector in front of a DuckDB file or a team store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agentlytics.cli.common import load_config


def collect(
    host: Annotated[str | None, typer.Option("--host", help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="TCP port.")] = None,
    warehouse: Annotated[
        Path | None, typer.Option("--warehouse", help="DuckDB file to store events in.")
    ] = None,
    token: Annotated[
        list[str] | None,
        typer.Option("--token", help="Accepted bearer token (repeatable; or configured)."),
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Accept requests without a token (local tests).")
    ] = False,
    config: Annotated[
        Path | None, typer.Option("--config", help="Configuration file (agentlytics.toml).")
    ] = None,
    otlp: Annotated[
        str | None,
        typer.Option(
            "--otlp", metavar="ENDPOINT", help="Also export what is stored to an OTLP endpoint."
        ),
    ] = None,
    metrics_open: Annotated[
        bool, typer.Option("--metrics-open", help="Serve GET /metrics without the token.")
    ] = False,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="URL",
            help="Team store: postgresql://USER[:PASSWORD]@HOST[:PORT]/DB instead of a DuckDB "
            "file (several collectors may share it).",
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Collector processes (PostgreSQL store only).")
    ] = 1,
) -> None:
    """Receive events over HTTP (POST /codex/analytics-events/events) into a DuckDB file."""
    import msgspec

    from agentlytics.collector.serve import serve
    from agentlytics.config import Config

    cfg = load_config(config)
    assert isinstance(cfg, Config)
    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if warehouse is not None:
        overrides["warehouse"] = str(warehouse)
    if token:
        overrides["tokens"] = list(token)
    if metrics_open:
        overrides["metrics_open"] = True
    if store is not None:
        overrides["warehouse"] = store
    collector = msgspec.structs.replace(cfg.collector, **overrides)
    if not collector.tokens and not no_auth:
        raise typer.BadParameter(
            "no token configured: pass --token (or AGENTLYTICS_COLLECTOR_TOKENS), or --no-auth",
            param_hint="--token",
        )
    _check_store(collector.warehouse, workers)
    if otlp is not None:
        if workers > 1:
            typer.echo("agentlytics collect: --otlp runs with one collector process", err=True)
            raise typer.Exit(code=2)
        from agentlytics.otel.collect import serve_exporting

        serve_exporting(collector, cfg, otlp, allow_no_auth=no_auth)
        return
    serve(collector, allow_no_auth=no_auth, workers=workers)


def _check_store(location: str, workers: int) -> None:
    """Before serving: a PostgreSQL store must answer and be migrated (else one line, exit 2)."""
    from agentlytics.warehouse import postgres

    if not postgres.is_postgres_url(location):
        if workers > 1:
            typer.echo("agentlytics collect: --workers needs a PostgreSQL --store", err=True)
            raise typer.Exit(code=2)
        return
    try:
        postgres.migrate_url(location)
    except postgres.StoreError as exc:
        typer.echo(f"agentlytics collect: {exc}", err=True)
        raise typer.Exit(code=2) from None
