"""The `agentlytics` command line: one entry point, one sub-command per job."""

from __future__ import annotations

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


def main() -> None:
    """Console-script entry point."""
    app()
