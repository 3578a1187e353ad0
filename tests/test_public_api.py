"""The documented surface: ``from agentlytics import …`` (issue 13, item 4)."""

from __future__ import annotations

import subprocess
import sys

import agentlytics


def test_every_public_name_resolves_to_its_module_object() -> None:
    from agentlytics.client import AnalyticsClient
    from agentlytics.config import load
    from agentlytics.pipeline import Pipeline
    from agentlytics.query import reports
    from agentlytics.query.store import open_store

    assert agentlytics.AnalyticsClient is AnalyticsClient
    assert agentlytics.Pipeline is Pipeline
    assert agentlytics.open_store is open_store
    assert agentlytics.load_config is load
    assert agentlytics.reports is reports
    for name in agentlytics.__all__:
        assert getattr(agentlytics, name) is not None, name


def test_unknown_names_are_attribute_errors() -> None:
    try:
        agentlytics.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_importing_the_package_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, agentlytics; "
        "print(sorted(m for m in ('duckdb', 'httpx', 'opentelemetry', 'psycopg') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_all_lists_exactly_the_lazy_names() -> None:
    assert sorted(agentlytics.__all__) == sorted(["__version__", *agentlytics._PUBLIC])
