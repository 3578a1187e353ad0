"""The headline's agent share of code with ``--repo``: attribution against a real git
repository, on a warehouse migrated by the real ``migrate`` command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.browser import Dashboard
from tests.helpers import run_cli
from tests.warehouse.test_attribution import world  # noqa: F401 - the fixture


@pytest.mark.slow
def test_agent_share_of_a_repository(world: dict[str, Any], page: Any, tmp_path: Path) -> None:  # noqa: F811
    run_cli("migrate", "--warehouse", str(world["warehouse"]))
    with Dashboard(world["warehouse"], tmp_path, "--repo", str(world["repo"])) as dash:
        page.goto(dash.url)
        page.wait_for_selector("body[data-ready]")
        card = page.locator("[data-card=agent-share]")
        # 6 of the 14 fingerprintable added lines match agent lines (tests/warehouse).
        assert json.loads(card.get_attribute("data-value")) == pytest.approx(6 / 14)
        assert "42.9%" in card.inner_text()
    with Dashboard(world["warehouse"], tmp_path, "--repo", str(tmp_path)) as dash:
        page.goto(dash.url)
        page.wait_for_selector("body[data-ready]")
        card = page.locator("[data-card=agent-share]")
        assert json.loads(card.get_attribute("data-value")) is None
        # Why there is no share, in the query layer's words, not a traceback.
        assert card.locator(".sub").inner_text() == (
            f"{tmp_path} is not a git repository with a remote: no repo hash to match events on"
        )
