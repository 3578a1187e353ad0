"""Any JSON an event could hold maps to valid OTLP attributes the SDK's encoder takes whole."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentlytics.otel.mapping import export_event

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _valid(value: Any) -> bool:
    if isinstance(value, bool | str | float):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, list):
        return len({type(v) for v in value}) <= 1 and all(_valid(v) for v in value)
    return False


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(
    params=st.dictionaries(st.text(max_size=12), _json, max_size=8),
    event_type=st.sampled_from(
        [
            "codex_turn_event",
            "codex_command_execution_event",
            "codex_accepted_line_fingerprints",
            "x",
        ]
    ),
)
def test_any_params_map_to_attributes_the_encoder_takes_whole(
    params: dict[str, Any], event_type: str
) -> None:
    from opentelemetry.exporter.otlp.proto.common._internal import _encode_attributes

    exported = export_event({"event_type": event_type, "event_params": params}, "id")
    assert exported.event_name == event_type
    for key, value in exported.attributes.items():
        assert isinstance(key, str) and _valid(value), (key, value)
    assert len(_encode_attributes(exported.attributes)) == len(exported.attributes)
    assert all(not isinstance(v, list) for _, v in exported.resource)
