"""What several sub-commands share: the configuration, the capture checks, the drop tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer


def load_config(path: Path | None) -> object:
    from agentlytics.config import ConfigError, load

    try:
        return load(path)
    except ConfigError as exc:
        if path is None or exc.variable:  # the environment (or $AGENTLYTICS_CONFIG) is at fault
            from agentlytics.errors import UserError

            raise UserError(f"configuration: {exc}", code=2) from exc
        raise typer.BadParameter(str(exc), param_hint="--config") from exc


def use_fingerprint_key(config: Path | None) -> None:
    """Apply ``[fingerprints] key`` (opt-in keyed hashes) before any event is made."""
    from agentlytics.config import Config
    from agentlytics.fingerprints.diff import set_fingerprint_key

    cfg = load_config(config)
    assert isinstance(cfg, Config)
    set_fingerprint_key(cfg.fingerprints.key or None)


def check_captures(captures: list[Path]) -> None:
    for capture in captures:
        if str(capture) == "-" or capture.is_file():
            continue
        if capture.is_dir():
            from agentlytics.errors import UserError

            raise UserError(
                f"{capture} is a directory; pass the capture files in it, e.g. {capture}/*.jsonl",
                code=2,
            )
        raise typer.BadParameter(f"no such capture file: {capture}", param_hint="CAPTURE")


def render_samples(console: object, samples: list[Any]) -> None:
    """The first few drops of each reason, with the file:line they came from."""
    from rich.console import Console
    from rich.table import Table

    assert isinstance(console, Console)
    table = Table(title="Sample drops (first of each reason)", title_justify="left")
    for column in ("where", "reason", "detail"):
        table.add_column(column, overflow="fold")
    for drop in samples:
        table.add_row(drop.where or "-", drop.reason, drop.detail[:160])
    console.print(table)


def render_drops(
    console: object,
    wire: dict[str, int],
    reducer: dict[str, int],
    evictions: dict[str, int],
    delivery: dict[str, int] | None = None,
    refused: int = 0,
) -> None:
    """The drop table; ``refused`` files (not captures, not read) are a row of their own, so a
    run that skipped a whole file never says "No input dropped"."""
    from rich.console import Console
    from rich.table import Table

    assert isinstance(console, Console)
    delivery = delivery or {}
    files = {"not a capture file (not read)": refused} if refused else {}
    if not (wire or reducer or evictions or delivery or files):
        console.print("No input dropped.")
        return
    table = Table(title="Dropped input (counted, with reason)", title_justify="left")
    table.add_column("stage")
    table.add_column("reason")
    table.add_column("count", justify="right")
    stages = (
        ("file", files),
        ("wire", wire),
        ("reducer", reducer),
        ("evicted", evictions),
        ("delivery", delivery),
    )
    for stage, counts in stages:
        for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            table.add_row(stage, reason, str(n))
    console.print(table)
