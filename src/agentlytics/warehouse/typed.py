"""The typed-table rows of a batch of new events, extracted in Python with msgspec.

Why not DuckDB's own JSON functions at insert time: each ``from_json`` statement has a fixed
cost of milliseconds (one per family and batch) on top of ~5 µs CPU per event, which made the
collector's writer several times slower. msgspec decodes just the fields a family table needs
(skipping the rest of the document) in about a microsecond, and the columns go to DuckDB as
Arrow. The same extraction in SQL (:func:`agentlytics.warehouse.schema.duckdb_fill_sql`)
upgrades older warehouse files; tests check that the two agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Annotated, Any

import msgspec
import pyarrow as pa

from agentlytics.warehouse.schema import (
    FAMILY_BY_TABLE,
    TABLE_OF_EVENT_TYPE,
    Column,
    Family,
)

#: BIGINT is checked on decode: a value outside int64 leaves the event out of its typed table
#: (it stays in ``events``) instead of failing the whole batch's insert.
_PY_TYPES: dict[str, Any] = {
    "VARCHAR": str,
    "BIGINT": Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)],
    "BOOLEAN": bool,
}
_ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "BOOLEAN": pa.bool_(),
}


def _struct(name: str, tree: dict[str, Any]) -> type[msgspec.Struct]:
    """A lenient struct of the given fields (all optional; unknown keys skipped)."""
    fields: list[tuple[str, Any, Any]] = []
    for key, node in tree.items():
        kind = _struct(f"{name}_{key}", node) if isinstance(node, dict) else _PY_TYPES[node]
        fields.append((key, kind | None, None))
    return msgspec.defstruct(name, fields)


@cache
def _decoder(table: str) -> msgspec.json.Decoder[Any]:
    family = FAMILY_BY_TABLE[table]
    tree: dict[str, Any] = {}
    for column in family.columns:
        if column.derive is not None:
            continue
        node = tree
        for key in column.path[:-1]:
            node = node.setdefault(key, {})
        node[column.path[-1]] = column.type
    params = _struct(f"{table}_params", tree)
    # Required, not optional: ``_fields`` reads the params struct from this annotation.
    return msgspec.json.Decoder(msgspec.defstruct(f"{table}_event", [("event_params", params)]))


def _derived(column: Column, values: dict[str, list[Any]], types: list[str]) -> list[Any]:
    assert column.derive is not None
    form, *args = column.derive
    n = len(types)
    if form == "null":
        return [None] * n
    if form == "ms":
        firsts = values[args[0]]
        if len(args) > 1:
            rest = [values[a] for a in args[1:]]
            firsts = [
                v if v is not None else next((r[i] for r in rest if r[i] is not None), None)
                for i, v in enumerate(firsts)
            ]
        return [None if v is None else v * 1000 for v in firsts]
    if form == "copy":
        return values[args[0]]
    if form == "event_type":
        return list(types)
    if form == "kind":
        return [t.replace("codex_", "").replace("_event", "") for t in types]
    if form == "eq":
        target = args[1]
        return [None if v is None else v == target for v in values[args[0]]]
    raise ValueError(f"unknown derivation {column.derive!r}")


@cache
def _fields(table: str) -> tuple[str, ...]:
    """The decoded ``event_params`` struct's field names, in order."""
    envelope = _decoder(table).type
    return tuple(f.name for f in msgspec.structs.fields(envelope.__annotations__["event_params"]))


def family_columns(
    family: Family, ids: list[str], types: list[str], params: list[Any]
) -> list[Sequence[Any]]:
    """One family's rows as Python columns (``event_id`` first, then its DDL's order)."""
    top = _fields(family.table)
    astuple = msgspec.structs.astuple
    # Transposed in C: one tuple per top-level field, across the batch.
    columns = dict(zip(top, zip(*map(astuple, params), strict=True), strict=True))
    values: dict[str, Any] = {}
    for column in family.columns:
        if column.derive is not None:
            continue
        if len(column.path) == 1:
            values[column.name] = columns[column.path[0]]
        else:
            parent, key = column.path
            values[column.name] = [None if o is None else getattr(o, key) for o in columns[parent]]
    out: list[Sequence[Any]] = [ids]
    for column in family.columns:
        data = values.get(column.name)
        if data is None:
            data = values[column.name] = _derived(column, values, types)
        out.append(data)
    return out


def family_table(family: Family, ids: list[str], types: list[str], params: list[Any]) -> pa.Table:
    """One family's rows as an Arrow table in the column order of its DDL."""
    data = family_columns(family, ids, types, params)
    arrays = [pa.array(data[0], pa.string())]
    arrays += [
        pa.array(values, _ARROW_TYPES[column.type])
        for column, values in zip(family.columns, data[1:], strict=True)
    ]
    return pa.Table.from_arrays(arrays, names=["event_id", *(c.name for c in family.columns)])


def typed_tables(
    event_ids: Sequence[str], event_types: Sequence[str], payloads: Sequence[bytes | str]
) -> list[tuple[str, pa.Table]]:
    """``(table, rows)`` for each family present among these (new) events.

    An event whose fields do not decode as the schema says (never, for events the catalog
    validated) is left out of its typed table; it stays in ``events``.
    """
    return [
        (table, family_table(FAMILY_BY_TABLE[table], ids, types, params))
        for table, (ids, types, params) in _decoded(event_ids, event_types, payloads).items()
    ]


def typed_columns(
    event_ids: Sequence[str], event_types: Sequence[str], payloads: Sequence[bytes | str]
) -> dict[str, list[Sequence[Any]]]:
    """:func:`typed_tables` as Python columns (the PostgreSQL store sends them as text, so
    Arrow arrays would only be converted back)."""
    return {
        table: family_columns(FAMILY_BY_TABLE[table], ids, types, params)
        for table, (ids, types, params) in _decoded(event_ids, event_types, payloads).items()
    }


def _decoded(
    event_ids: Sequence[str], event_types: Sequence[str], payloads: Sequence[bytes | str]
) -> dict[str, tuple[list[str], list[str], list[Any]]]:
    """Per family table: the ids, types and decoded ``event_params`` of its events."""
    groups: dict[str, tuple[list[str], list[str], list[Any]]] = {}
    for event_id, event_type, payload in zip(event_ids, event_types, payloads, strict=True):
        table = TABLE_OF_EVENT_TYPE.get(event_type)
        if table is None:
            continue
        try:
            decoded = _decoder(table).decode(payload)
        except (msgspec.ValidationError, msgspec.DecodeError):
            continue
        group = groups.get(table)
        if group is None:
            group = groups[table] = ([], [], [])
        group[0].append(event_id)
        group[1].append(event_type)
        group[2].append(decoded.event_params)
    return groups
