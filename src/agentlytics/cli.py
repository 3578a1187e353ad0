"""The `agentlytics` command line: one entry point, one sub-command per job."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    name="agentlytics",
    help="Analytics for coding agents: replay captures, tap a live app-server, deliver, report.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Analytics for coding agents (Codex app-server)."""


@app.command(
    "tap",
    context_settings={"allow_interspersed_args": False},
)
def tap(
    command: list[str] = typer.Argument(  # noqa: B008
        None, metavar="-- CMD [ARGS...]", help="The server to run, e.g. `codex app-server`."
    ),
    record: Path | None = typer.Option(  # noqa: B008
        None, "--record", metavar="CAPTURE", help="Write every relayed message to this file.",
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
) -> None:
    """Relay stdio to and from CMD byte for byte (a live `codex app-server`) and observe it.

    Exits with CMD's exit code (128+N if it died of signal N); SIGINT/SIGTERM/SIGHUP are
    forwarded to it.
    """
    from agentlytics.observe import tap as tap_mod

    if warehouse is not None and no_warehouse:
        typer.echo("agentlytics tap: --warehouse and --no-warehouse exclude each other", err=True)
        raise typer.Exit(2)
    chosen = None if no_warehouse else (warehouse or tap_mod.DEFAULT_TAP_WAREHOUSE)
    code = tap_mod.main_tap(
        command or [], record=record, events=events, warehouse=chosen, send=send
    )
    raise typer.Exit(code)


def main() -> None:
    """Console-script entry point."""
    app()
