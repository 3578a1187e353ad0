"""Sub-commands over a warehouse: ``attribute``, ``migrate``, ``dashboard``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agentlytics.cli.common import use_fingerprint_key


def attribute(
    repo: Annotated[Path, typer.Option("--repo", help="Git repository to attribute.")],
    since: Annotated[
        str | None, typer.Option("--since", help="Start revision (exclusive): SINCE..UNTIL.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="End revision (default HEAD).")
    ] = None,
    warehouse: Annotated[
        Path, typer.Option("--warehouse", help="DuckDB warehouse with fingerprint events.")
    ] = Path("agentlytics.duckdb"),
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the full report as JSON here.")
    ] = None,
    time_slack: Annotated[
        int,
        typer.Option(
            "--time-slack",
            help="Seconds a commit may predate the turn that accepted its lines; -1: no limit.",
        ),
    ] = 24 * 3600,
    limit: Annotated[int, typer.Option("--limit", help="Rows per table on stdout.")] = 20,
) -> None:
    """Share of added lines in REPO's commits that match lines the agent wrote."""
    from agentlytics.warehouse import attribution

    use_fingerprint_key(None)
    try:
        report = attribution.attribute(
            repo, warehouse, since, until, time_slack_s=None if time_slack < 0 else time_slack
        )
    except attribution.AttributionError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    attribution.render_report(report, limit=limit)
    if json_out is not None:
        json_out.write_bytes(attribution.report_json(report))


def migrate(
    warehouse: Annotated[
        Path, typer.Option("--warehouse", help="DuckDB warehouse file to upgrade in place.")
    ] = Path("agentlytics.duckdb"),
    store: Annotated[
        str | None,
        typer.Option(
            "--store", metavar="URL", help="Instead: create/upgrade a postgresql:// store."
        ),
    ] = None,
) -> None:
    """Upgrade a warehouse written by an older agentlytics to the current layout."""
    if store is not None:
        _migrate_store(store)
        return
    from agentlytics.query.command import migrate as run_migrate

    run_migrate(str(warehouse))


def dashboard(
    warehouse: Annotated[
        str,
        typer.Option("--warehouse", help="Store to show: a DuckDB file or a postgresql:// URL."),
    ] = "agentlytics.duckdb",
    host: Annotated[str, typer.Option("--host", help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8766,
    token: Annotated[
        str | None,
        typer.Option(
            "--token", help="Required on every request; needed to bind a non-loopback host."
        ),
    ] = None,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the page in the default browser.")
    ] = False,
    repo: Annotated[
        Path | None,
        typer.Option("--repo", help="Show the agent's share of this repository's added lines."),
    ] = None,
) -> None:
    """Serve a live, read-only web dashboard of a store on http://127.0.0.1:8766/."""
    from agentlytics.dashboard.serve import DashboardError, serve

    try:
        serve(warehouse, host=host, port=port, token=token, open_browser=open_browser, repo=repo)
    except DashboardError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _migrate_store(store: str) -> None:
    """``migrate --store URL``: create or upgrade a PostgreSQL store's schema."""
    from agentlytics.warehouse import postgres

    try:
        before, after = postgres.migrate_url(store)
    except postgres.StoreError as exc:
        typer.echo(f"agentlytics migrate: {exc}", err=True)
        raise typer.Exit(code=2) from None
    where = postgres.redact(store)
    if before == after:
        typer.echo(f"{where}: schema at version {after}, up to date.")
    else:
        typer.echo(f"{where}: schema migrated from version {before} to {after}.")
