"""``[otlp]`` and ``[collector] metrics_open``: file, then the OpenTelemetry SDK's standard
variables, then ``AGENTLYTICS_OTLP_*`` (which win)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentlytics.config import ConfigError, load
from agentlytics.otel.delivery import otlp_spool_dir


def test_otlp_section_file_then_otel_env_then_agentlytics_env(tmp_path: Path) -> None:
    file = tmp_path / "a.toml"
    file.write_text(
        '[otlp]\nendpoint = "http://file:4318"\ncompression = "none"\n'
        'headers = { "x-api-key" = "k" }\nservice_name = "codex-team"\nmetrics = false\n'
        "[collector]\nmetrics_open = true\n"
    )
    cfg = load(file, {})
    otlp = cfg.otlp
    assert (otlp.endpoint, otlp.compression, otlp.headers) == (
        "http://file:4318",
        "none",
        {"x-api-key": "k"},
    )
    assert (otlp.service_name, otlp.logs, otlp.metrics) == ("codex-team", True, False)
    assert cfg.collector.metrics_open is True
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318",
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=a%20b,x-team=t",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",  # milliseconds, as the SDK reads it
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
    }
    otlp = load(file, env).otlp
    assert otlp.endpoint == "http://otel:4318" and otlp.timeout == 2.5
    assert otlp.headers == {"api-key": "a b", "x-team": "t"} and otlp.compression == "gzip"
    env |= {
        "AGENTLYTICS_OTLP_ENDPOINT": "http://ours:4318",
        "AGENTLYTICS_OTLP_HEADERS": "Authorization: Basic eA==",
        "AGENTLYTICS_OTLP_METRICS": "yes",
        "AGENTLYTICS_OTLP_TIMEOUT": "4",
        "AGENTLYTICS_COLLECTOR_METRICS_OPEN": "0",
    }
    cfg = load(file, env)
    assert cfg.otlp.endpoint == "http://ours:4318" and cfg.otlp.timeout == 4.0
    assert cfg.otlp.headers == {"Authorization": "Basic eA=="} and cfg.otlp.metrics is True
    assert cfg.collector.metrics_open is False


def test_bad_otlp_values_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="compression"):
        load(None, {"AGENTLYTICS_OTLP_COMPRESSION": "zstd"})
    with pytest.raises(ConfigError, match="logs"):
        load(None, {"AGENTLYTICS_OTLP_LOGS": "maybe"})
    # An environment value's error names the variable to fix.
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_HEADERS"):
        load(None, {"OTEL_EXPORTER_OTLP_HEADERS": "no-equals-sign"})


def test_the_otlp_spool_is_apart_from_the_collector_deliverys(tmp_path: Path) -> None:
    cfg = load(None, {"AGENTLYTICS_SPOOL": str(tmp_path / "spool")})
    assert otlp_spool_dir(cfg) == str(tmp_path / "spool" / "otlp")
    cfg = load(None, {"AGENTLYTICS_OTLP_SPOOL": str(tmp_path / "elsewhere")})
    assert otlp_spool_dir(cfg) == str(tmp_path / "elsewhere")


def test_docs_otlp_attributes_md_is_current() -> None:
    from agentlytics.otel.docs import render_markdown
    from tests.helpers import ROOT

    assert (ROOT / "docs" / "otlp-attributes.md").read_text() == render_markdown(), (
        "docs/otlp-attributes.md is stale: "
        "PYTHONPATH=src python -m agentlytics.otel.docs > docs/otlp-attributes.md"
    )


def test_headers_compression_and_service_name_from_the_config_reach_the_receiver(
    tmp_path: Path,
) -> None:
    """`[otlp]` in the file `replay --config` names, end to end: the receiver sees the headers,
    an uncompressed body and the service name; the library takes the endpoint from it too."""
    from agentlytics.client import AnalyticsClient
    from agentlytics.otel.delivery import otlp_delivery
    from tests.helpers import capture_path, run_cli, track_call
    from tests.otlp_receiver import Receiver

    capture = capture_path("shell_accept")
    with Receiver() as receiver:
        file = tmp_path / "agentlytics.toml"
        file.write_text(
            f'[delivery]\nspool = "{tmp_path / "spool"}"\n'
            f'[otlp]\nendpoint = "{receiver.url}"\ncompression = "none"\n'
            'headers = { "x-honeycomb-team" = "key-123" }\nservice_name = "codex-team-a"\n'
        )
        run_cli("replay", "--config", str(file), "--otlp", receiver.url, str(capture))
        cli_requests = len(receiver.headers)
        assert cli_requests >= 2  # logs and metrics
        # the library: no endpoint argument, [otlp] endpoint is used
        delivery, _ = otlp_delivery(load(file, {}))
        client = AnalyticsClient(delivery=delivery)
        for line in capture.read_text().splitlines():
            name, args, kwargs = track_call(json.loads(line))
            getattr(client, name)(*args, **kwargs)
        assert client.close(30)
    assert len(receiver.headers) > cli_requests
    for headers in receiver.headers:
        assert headers["x-honeycomb-team"] == "key-123"
        assert "Content-Encoding" not in headers
    records = receiver.records()
    assert records and {r["resource"]["service.name"] for r in records} == {"codex-team-a"}
    ids = [r["attributes"]["agentlytics.event_id"] for r in records]
    assert len(ids) == 2 * len(set(ids))  # every event once from the CLI, once from the library
