"""What every ``agentlytics report`` section shares: its options, their parsing, the run.

A section is ``fn(opts, **own) -> build``; :func:`section_command` makes it a typer command
taking the shared options and ``fn``'s own, and :func:`run` opens the store, builds the output
and renders it. Failures a user can cause are one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import msgspec
import typer

if TYPE_CHECKING:
    from agentlytics.query.filters import Filters
    from agentlytics.query.render import Format, Output
    from agentlytics.query.store import Store

WarehouseOpt = Annotated[
    str,
    typer.Option(
        "--warehouse",
        help="DuckDB warehouse file (or a postgresql:// URL with the PostgreSQL backend).",
    ),
]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="From (inclusive): 2026-12-01, 7d, 12h, ISO time.")
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="Until (exclusive; a date means its end).")
]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Only turns of this model.")]
ProjectOpt = Annotated[
    str | None,
    typer.Option(
        "--project",
        help="Only threads of this repository: its name or hash (a team store knows the hash).",
    ),
]
ClientOpt = Annotated[
    str | None, typer.Option("--client", help="Only this app-server client (name or id).")
]
FormatOpt = Annotated[
    str, typer.Option("--format", "-f", help="table, json, csv or markdown.", metavar="FORMAT")
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="Configuration file (its \\[pricing] section).")
]
BreakdownOpt = Annotated[
    str | None, typer.Option("--breakdown", help="'model': one row per period and model.")
]

DEFAULT_WAREHOUSE = "agentlytics.duckdb"


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"agentlytics report: {message}", err=True)
    raise typer.Exit(code)


class Options:
    """The options every section shares, parsed once."""

    def __init__(
        self,
        warehouse: str,
        since: str | None,
        until: str | None,
        model: str | None,
        project: str | None,
        client: str | None,
        fmt: str,
        config: Path | None,
    ) -> None:
        from agentlytics.query.filters import FilterError, Filters
        from agentlytics.query.render import FORMATS

        if fmt not in FORMATS:
            fail(f"unknown --format {fmt!r}: use one of {', '.join(FORMATS)}")
        self.fmt: Format = fmt
        self.warehouse = warehouse
        self.config = config
        try:
            self.filters: Filters = Filters.parse(
                since=since, until=until, model=model, project=project, client=client
            )
        except FilterError as exc:
            fail(str(exc))


def run(opts: Options, build: Callable[[Store, Filters], Output]) -> None:
    """Open the store, build the report, print it; user errors become one line."""
    from agentlytics.config import ConfigError, load
    from agentlytics.query.pricing import bundled
    from agentlytics.query.render import write
    from agentlytics.query.reports import event_count
    from agentlytics.query.store import StoreError, open_store

    try:
        prices = bundled().with_overrides(load(opts.config).pricing)
    except ConfigError as exc:
        fail(str(exc))
    try:
        store = open_store(opts.warehouse, prices=prices)
    except StoreError as exc:
        fail(str(exc))
    try:
        if event_count(store) == 0:
            fail(f"{opts.warehouse} holds no events yet (replay or collect into it first)", 1)
        output = build(store, opts.filters)
    except StoreError as exc:
        fail(str(exc))
    finally:
        store.close()
    try:
        write(output, opts.fmt)
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        raise typer.Exit(0) from None


def unpriced_note(store: Store, filters: Filters) -> list[str]:
    from agentlytics.query.reports import unpriced_models

    missing = unpriced_models(store, filters)
    if not missing:
        return []
    return [
        f"unpriced models (cost shown as null/—): {', '.join(missing)}; "
        'add them as [pricing.models."NAME"] in agentlytics.toml'
    ]


def flat(title: str, rows: list[object], columns: tuple[str, ...] = ()) -> Output:
    import msgspec

    from agentlytics.query.render import Output, Section
    from agentlytics.query.rows import Row

    typed = [r for r in rows if isinstance(r, Row)]
    return Output([msgspec.to_builtins(r) for r in typed], [Section(title, typed, columns)])


def fields(row_type: type[msgspec.Struct]) -> tuple[str, ...]:
    return tuple(row_type.__struct_fields__)


#: What a section's command hands back: how to build its output from an open store.
Build = Callable[["Store", "Filters"], "Output"]

#: The shared options, in their order on every section (name, annotation, default).
SHARED: dict[str, tuple[object, object]] = {
    "warehouse": (WarehouseOpt, DEFAULT_WAREHOUSE),
    "since": (SinceOpt, None),
    "until": (UntilOpt, None),
    "model": (ModelOpt, None),
    "project": (ProjectOpt, None),
    "client": (ClientOpt, None),
    "fmt": (FormatOpt, "table"),
    "config": (ConfigOpt, None),
}
FILTERS = tuple(SHARED)
UNFILTERED = ("warehouse", "fmt", "config")


def section_command(
    fn: Callable[..., Build], shared: tuple[str, ...] = FILTERS, doc: str | None = None
) -> Callable[..., None]:
    """The typer command of ``fn(opts, **own) -> build``: it takes the ``shared`` options and
    ``fn``'s own, parses the shared ones into ``opts``, lets ``fn`` check its own (before the
    store is opened) and runs the ``build`` it returns.

    Typer reads options from the command's signature, so the command's signature is built
    here: ``fn``'s own arguments, the shared options, then ``fn``'s own options.
    """
    keyword = inspect.Parameter.KEYWORD_ONLY
    own = [
        p.replace(kind=keyword)
        for p in inspect.signature(fn, eval_str=True).parameters.values()
        if p.name != "opts"
    ]
    common = [
        inspect.Parameter(key, keyword, annotation=SHARED[key][0], default=SHARED[key][1])
        for key in shared
    ]
    required = [p for p in own if p.default is inspect.Parameter.empty]
    optional = [p for p in own if p.default is not inspect.Parameter.empty]

    def command(**kwargs: Any) -> None:
        given = {key: kwargs.pop(key) for key in shared}
        opts = Options(**{**dict.fromkeys(FILTERS), **given})
        run(opts, fn(opts, **kwargs))

    signature = [*required, *common, *optional]
    command.__signature__ = inspect.Signature(signature)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in signature}
    command.__doc__ = doc or fn.__doc__
    command.__name__ = fn.__name__
    return command
