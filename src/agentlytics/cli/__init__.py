"""The `agentlytics` command line: one entry point, one sub-command per job.

Sub-commands are thin: they parse options, import the module that does the work (lazily, so
``agentlytics --help`` stays fast) and print. Anything written to stdout by ``--events -`` is
events only; reports and progress go to stderr in that case.
"""

from __future__ import annotations

from typing import Annotated

import typer

from agentlytics.cli import audit, collect, replay, spool, tap, warehouse

app = typer.Typer(
    name="agentlytics",
    help="Analytics for coding agents: replay captures, tap a live app-server, deliver, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from agentlytics import __version__

        typer.echo(f"agentlytics {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an error, not just its line.")
    ] = False,
) -> None:
    """Analytics for coding agents (Codex app-server)."""
    if debug:
        from agentlytics import errors

        errors.DEBUG = True


# The commands in the order ``agentlytics --help`` lists them.
app.command()(replay.replay)
app.command()(collect.collect)
app.add_typer(spool.spool_app, name="spool")
app.command("tap", context_settings={"allow_interspersed_args": False})(tap.tap)
app.command()(warehouse.attribute)
app.command()(audit.audit)
app.command()(audit.schema)


def _add_report() -> None:
    from agentlytics.query.command import report_app

    app.add_typer(report_app, name="report")


_add_report()
app.command()(warehouse.migrate)
app.command()(warehouse.dashboard)


def main() -> None:
    """Console-script entry point: errors are one line (``--debug`` shows the traceback)."""
    from agentlytics.errors import run

    run(app)
