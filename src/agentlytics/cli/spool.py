"""``agentlytics spool``: look into (and requeue from) the delivery spool."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agentlytics.cli.common import load_config

spool_app = typer.Typer(help="Inspect the delivery spool: backlog and quarantined events.")


def _spool_dir(spool: Path | None, config: Path | None) -> Path:
    from agentlytics.config import Config

    if spool is not None:
        return spool
    cfg = load_config(config)
    assert isinstance(cfg, Config)
    return Path(cfg.delivery.spool).expanduser()


@spool_app.command("status")
def spool_status(
    spool: Annotated[Path | None, typer.Option("--spool", help="Spool directory.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Configuration file.")] = None,
    quarantined: Annotated[
        bool, typer.Option("--quarantined", help="List quarantined events with their reason.")
    ] = False,
) -> None:
    """Pending and quarantined events per spool slot."""
    from rich.console import Console
    from rich.table import Table

    from agentlytics.delivery.spool import Spool, iter_quarantined, slots

    directory = _spool_dir(spool, config)
    console = Console()
    table = Table(title=f"Spool {directory}", title_justify="left")
    for column in ("slot", "pending", "quarantined"):
        table.add_column(column, justify="right" if column != "slot" else "left")
    for db in slots(directory):
        handle = Spool(db)
        try:
            counts = handle.counts()
        finally:
            handle.close()
        table.add_row(db.name, str(counts["pending"]), str(counts["quarantined"]))
    console.print(table)
    if quarantined:
        listing = Table(title="Quarantined events", title_justify="left")
        for column in ("slot", "seq", "event_type", "event_id", "reason"):
            listing.add_column(column)
        for db, q in iter_quarantined(directory):
            listing.add_row(db.name, str(q.seq), q.event_type, q.event_id[:16], q.reason)
        console.print(listing)


@spool_app.command("requeue")
def spool_requeue(
    spool: Annotated[Path | None, typer.Option("--spool", help="Spool directory.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Configuration file.")] = None,
) -> None:
    """Put quarantined events back in the send path (they go out with the next delivery)."""
    from agentlytics.delivery.spool import Spool, slots

    total = 0
    for db in slots(_spool_dir(spool, config)):
        handle = Spool(db)
        try:
            total += handle.requeue()
        finally:
            handle.close()
    typer.echo(f"requeued {total} event(s)")
