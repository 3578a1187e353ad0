"""Report output: ``table`` (rich, fits the terminal), ``json``, ``csv`` and ``markdown``.

A report's output is its JSON value (an array of row objects; an object for ``overview`` and
``session``) plus the tables shown for the other formats. Tables on a terminal wrap long names
rather than cut them; piped, they are as wide as their content, so no name is ever cut.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

import msgspec

from agentlytics.query.rows import (
    ApprovalRow,
    ApprovalSourceRow,
    GuardianRiskRow,
    Row,
)

Format = Literal["table", "json", "csv", "markdown"]
FORMATS: tuple[Format, ...] = ("table", "json", "csv", "markdown")


@dataclass(slots=True)
class Section:
    """One table of a report: a title and its rows (flat structs of one type)."""

    title: str
    rows: Sequence[Row]
    #: Column names when ``rows`` is empty (an empty table still shows its header).
    columns: Sequence[str] = ()


@dataclass(slots=True)
class Output:
    """What a report prints: its JSON value and the sections other formats show."""

    value: Any
    sections: list[Section]
    notes: list[str] = field(default_factory=list)


def columns_of(section: Section) -> list[str]:
    if section.rows:
        return list(type(section.rows[0]).__struct_fields__)
    return list(section.columns)


def _cell(value: object, *, for_csv: bool) -> str:
    if value is None:
        return "" if for_csv else "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if for_csv:
            return repr(value)
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        return "0" if text == "-0" else text
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


_RATED = (ApprovalRow, ApprovalSourceRow, GuardianRiskRow)


def _display(section: Section) -> tuple[list[str], list[list[str]]]:
    """Header and cells for table/markdown: the row's fields, plus an approval rate."""
    names = columns_of(section)
    rated = bool(section.rows) and isinstance(section.rows[0], _RATED)
    header = [*names, "approved_rate"] if rated else names
    body: list[list[str]] = []
    for row in section.rows:
        cells = [_cell(getattr(row, n), for_csv=False) for n in names]
        if rated:
            approved, reviews = getattr(row, "approved"), getattr(row, "reviews")  # noqa: B009
            cells.append(f"{approved / reviews:.1%}" if reviews else "—")
        body.append(cells)
    return header, body


def write(output: Output, fmt: Format, out: TextIO | None = None) -> None:
    """Print ``output`` in ``fmt`` to ``out`` (stdout); notes go to stderr unless a table."""
    stream = sys.stdout if out is None else out
    if fmt == "json":
        stream.write(msgspec.json.format(msgspec.json.encode(output.value), indent=2).decode())
        stream.write("\n")
    elif fmt == "csv":
        stream.write(to_csv(output.sections[0]))
    elif fmt == "markdown":
        stream.write(to_markdown(output))
    else:
        _table(output, stream)
        for note in output.notes:
            stream.write(note + "\n")
        return
    if fmt != "markdown":
        for note in output.notes:
            sys.stderr.write(note + "\n")


def to_csv(section: Section) -> str:
    """One section as CSV: a header of field names, raw values (floats at full precision)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    names = columns_of(section)
    writer.writerow(names)
    for row in section.rows:
        writer.writerow([_cell(getattr(row, n), for_csv=True) for n in names])
    return buf.getvalue()


def to_markdown(output: Output) -> str:
    parts: list[str] = []
    for section in output.sections:
        header, body = _display(section)
        lines = [f"### {section.title}", ""]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join("---" for _ in header) + "|")
        for cells in body:
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        if not body:
            lines.append("| (none) |" + " |" * (len(header) - 1))
        parts.append("\n".join(lines))
    text = "\n\n".join(parts) + "\n"
    if output.notes:
        text += "\n" + "\n".join(f"> {n}" for n in output.notes) + "\n"
    return text


def _table(output: Output, stream: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    tty = stream.isatty()
    # Piped: as wide as the content (a name is never cut). On a terminal: its width, with
    # long text wrapped inside its cell.
    console = Console(file=stream, width=None if tty else 100_000, no_color=not tty)
    for section in output.sections:
        header, body = _display(section)
        # The title on its own line: as a table title rich pads it to the table's width.
        console.print(Text(section.title, style="italic"))
        table = Table()
        numeric = _numeric_columns(section, header)
        for name in header:
            # Every column folds rather than cuts: on a narrow terminal rich narrows the widest
            # columns first and a name or header wraps over lines; none is dropped or cut.
            justify: Literal["left", "right"] = "right" if name in numeric else "left"
            table.add_column(name, justify=justify, overflow="fold")
        for cells in body:
            table.add_row(*cells)
        if not body:
            table.add_row("(none)", *[""] * (len(header) - 1))
        console.print(table)


def _numeric_columns(section: Section, header: list[str]) -> set[str]:
    """Right-aligned, never wrapped: the int/float fields (by annotation), and rates."""
    out = {"approved_rate"}
    if section.rows:
        hints = type(section.rows[0]).__annotations__
        out |= {n for n in header if any(t in str(hints.get(n, "")) for t in ("int", "float"))}
    return out
