"""JSON Schema of the whole catalog: one definition per event, selected by ``event_type``."""

from __future__ import annotations

from typing import Any

import msgspec

from agentlytics.events.catalog import CATALOG, envelope_type


def catalog_json_schema() -> dict[str, Any]:
    """A JSON Schema document whose ``oneOf`` lists every event family's exact envelope."""
    types = [envelope_type(event_type) for event_type in CATALOG]
    refs, components = msgspec.json.schema_components(types, ref_template="#/$defs/{name}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "agentlytics analytics event",
        "description": 'One event: {"event_type": ..., "event_params": {...}}.',
        "oneOf": list(refs),
        "$defs": components,
    }
