"""``protocol/methods.py`` is the method list of the installed Codex's own schema.

``codex app-server generate-json-schema`` of the release the e2e tests run (0.171.0) writes
the protocol; every method it defines, by direction, is exactly the set analytics knows (so a
known method is never counted as unknown, and an unknown one is).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from agentlytics.protocol import methods
from support.codex import CODEX_VERSION, CodexUnavailable, codex_bin

pytestmark = pytest.mark.codex


def _methods(schema: Path, name: str) -> set[str]:
    found: set[str] = set()
    for variant in json.loads((schema / name).read_text())["oneOf"]:
        found.update(variant.get("properties", {}).get("method", {}).get("enum", []))
    return found


def test_methods_are_the_schema_of_the_installed_codex(tmp_path: Path) -> None:
    try:
        codex = codex_bin(CODEX_VERSION)
    except CodexUnavailable as exc:
        pytest.skip(str(exc))
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "CODEX_HOME": str(home / ".codex")}
    out = tmp_path / "schema"
    subprocess.run(
        [codex, "app-server", "generate-json-schema", "--out", str(out)],
        env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert _methods(out, "ClientRequest.json") == methods.CLIENT_REQUESTS
    assert _methods(out, "ClientNotification.json") == methods.CLIENT_NOTIFICATIONS
    assert _methods(out, "ServerRequest.json") == methods.SERVER_REQUESTS
    assert _methods(out, "ServerNotification.json") == methods.SERVER_NOTIFICATIONS
    bundle = json.loads((out / "codex_app_server_protocol.v2.schemas.json").read_text())
    items = bundle["definitions"]["ThreadItem"]["oneOf"]
    assert {v["properties"]["type"]["enum"][0] for v in items} == methods.THREAD_ITEM_TYPES
    assert {"thread/search/partial"} <= methods.SERVER_NOTIFICATIONS
    assert {"modelProvider/default/set"} <= methods.CLIENT_REQUESTS
