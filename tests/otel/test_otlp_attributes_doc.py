"""docs/otlp-attributes.md lists what the sink really sends: every attribute key of the OTLP
export of every event of the real captures (both Codex versions) is in its family's table."""

from __future__ import annotations

import re
from collections import defaultdict

from agentlytics.otel.mapping import EVENT_ID_ATTRIBUTE, REDACTED_ATTRIBUTE, export_event
from tests.helpers import ROOT, replay_events, versioned_captures


def _documented() -> dict[str, list[re.Pattern[str]]]:
    """Family → the key patterns its table documents (``N`` an index, ``<key>`` a map key)."""
    out: dict[str, list[re.Pattern[str]]] = defaultdict(list)
    family = None
    for line in (ROOT / "docs" / "otlp-attributes.md").read_text().splitlines():
        heading = re.match(r"## `(.+)`$", line)
        if heading:
            family = heading.group(1)
            continue
        if family is None or not line.startswith("| `"):
            continue
        cell = line.split("|")[2]
        if cell.strip().startswith(("resource:", "not exported (hash)")):
            continue
        for key in re.findall(r"`([^`]+)`", cell):
            pattern = re.escape(key).replace(r"\.N\.", r"\.\d+\.").replace("<key>", r"[^.]+")
            tail = r"(\..+)?" if "(an object" in cell else ""
            out[family].append(re.compile(f"{pattern}{tail}$"))
    return out


def test_every_exported_attribute_of_the_real_captures_is_documented() -> None:
    documented = _documented()
    undocumented: set[tuple[str, str]] = set()
    events = replay_events(*versioned_captures())
    assert len(events) > 100
    for event in events:
        family = event["event_type"]
        assert documented[family], family
        for key in export_event(event, "id").attributes:
            if key in (EVENT_ID_ATTRIBUTE, REDACTED_ATTRIBUTE):
                continue
            if not any(p.match(key) for p in documented[family]):
                undocumented.add((family, key))
    assert not undocumented, sorted(undocumented)
