"""``--otlp`` on the real command line (replay, tap, collect) and the collector's ``/metrics``,
scraped over HTTP and parsed with ``prometheus_client.parser``."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.collector_proc import TOKEN, Collector
from tests.helpers import (
    ROOT,
    capture_path,
    cli_env,
    drop_rows,
    replay_events_bytes,
    run_cli,
)
from tests.otlp_receiver import Receiver

EXAMPLES = sorted((ROOT / "examples").glob("*.jsonl"))


def _ids(receiver: Receiver) -> list[str]:
    return sorted(r["attributes"]["agentlytics.event_id"] for r in receiver.records())


def _expected_ids(*captures: Path) -> list[str]:
    return sorted(hashlib.sha256(b).hexdigest() for b in replay_events_bytes(*captures))


def test_replay_otlp_exports_every_event_of_the_examples() -> None:
    """The README's command: `agentlytics replay --otlp http://127.0.0.1:4318 examples/*.jsonl`."""
    with Receiver() as receiver:
        proc = run_cli("replay", "--otlp", receiver.url, *map(str, EXAMPLES))
    expected = _expected_ids(*EXAMPLES)
    assert _ids(receiver) == expected
    text = " ".join(proc.stderr.split())
    assert f"→ {len(expected)} events to {receiver.url}: {len(expected)} delivered" in text
    assert "0 quarantined" in text
    # what the README shows under the command is what it prints (the receiver's port aside)
    readme = (ROOT / "README.md").read_text().splitlines()
    command = readme.index(
        ".venv/bin/agentlytics replay --otlp http://127.0.0.1:4318 examples/*.jsonl"
    )
    shown = []
    for line in readme[command + 1 :]:
        if not line.startswith("# "):
            break
        shown.append(line[2:].replace("http://127.0.0.1:4318", receiver.url))
    assert shown and proc.stderr.splitlines() == shown


@pytest.mark.slow
def test_replay_otlp_with_the_receiver_down_keeps_the_events_for_the_next_run(
    tmp_path: Path,
) -> None:
    from tests.collector_proc import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    spool = tmp_path / "spool"
    capture = capture_path("shell_accept")
    first = subprocess.run(
        [sys.executable, "-m", "agentlytics", "replay", "--otlp", url, "--spool", str(spool),
         str(capture)],
        env={**cli_env(), "AGENTLYTICS_FLUSH_TIMEOUT": "1"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert first.returncode == 1
    assert f"kept in {spool}" in " ".join(first.stderr.split())
    with Receiver(port) as receiver:
        # the next run on the same spool sends the first run's events (and its own, again:
        # the same ids, which the receiver's records show once each per run)
        run_cli("replay", "--otlp", url, "--spool", str(spool), str(capture))
    ids = _ids(receiver)
    expected = _expected_ids(capture)
    assert sorted(set(ids)) == expected
    assert len(ids) == 2 * len(expected)  # at-least-once: the event id tells copies apart


def test_replay_rejects_send_and_otlp_together() -> None:
    proc = run_cli(
        "replay", "--otlp", "http://127.0.0.1:9", "--send", "http://127.0.0.1:9",
        str(EXAMPLES[0]), check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and "not both" in proc.stderr


@pytest.mark.parametrize(
    "with_send", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["otlp", "otlp+send"]
)
def test_tap_otlp_exports_the_live_session(tmp_path: Path, with_send: bool) -> None:
    """tap --otlp (and with --send as well: both deliveries get every fact)."""
    from tests.observe.test_tap import _SCRIPTED_SERVER

    source = capture_path("shell_accept")
    client_lines = [
        json.dumps(json.loads(x)["msg"]) + "\n"
        for x in source.read_text().splitlines()
        if json.loads(x)["dir"] == "client_to_server"
    ]
    capture = tmp_path / "cap.jsonl"
    env = {**cli_env(), "AGENTLYTICS_SPOOL": str(tmp_path / "spool")}
    collector = Collector(tmp_path / "collector").start() if with_send else None
    send = ["--send", collector.url, "--token", TOKEN] if collector is not None else []
    try:
        with Receiver() as receiver:
            proc = subprocess.Popen(
                [sys.executable, "-m", "agentlytics", "tap", "--record", str(capture), *send,
                 "--otlp", receiver.url, "--", sys.executable, "-c", _SCRIPTED_SERVER,
                 str(source)],
                env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=tmp_path,
            )  # fmt: skip
            assert proc.stdin is not None and proc.stdout is not None
            for line in client_lines:
                proc.stdin.write(line.encode())
                proc.stdin.flush()
                time.sleep(0.01)
            proc.stdin.close()
            proc.stdout.read()
            assert proc.wait(timeout=60) == 0
    finally:
        if collector is not None:
            collector.stop()
    if collector is not None:
        assert sorted(i for i, _ in collector.rows()) == _expected_ids(capture)
    assert _ids(receiver) == _expected_ids(capture)
    names = [r["event_name"] for r in receiver.records()]
    assert names == [
        "codex_thread_initialized",
        "codex_review_event",
        "codex_command_execution_event",
        "codex_turn_event",
    ]


def _scrape(url: str, token: str | None = TOKEN) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(url + "/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


@pytest.mark.slow
def test_collect_otlp_exports_what_it_stores_and_metrics_count_it(tmp_path: Path) -> None:
    with Receiver() as receiver:
        collector = Collector(
            tmp_path / "collector",
            args=("--otlp", receiver.url),
            AGENTLYTICS_SPOOL=str(tmp_path / "collector-spool"),
        ).start()
        try:
            # no token, wrong token: refused like ingest
            assert httpx.get(collector.url + "/metrics", timeout=10).status_code == 401
            bad = {"Authorization": "Bearer nope"}
            assert httpx.get(collector.url + "/metrics", headers=bad, timeout=10).status_code == 403
            run_cli("replay", "--send", collector.url, "--token", TOKEN, *map(str, EXAMPLES))
            # the same events again: accepted, nothing new stored
            run_cli("replay", "--send", collector.url, "--token", TOKEN, str(EXAMPLES[0]))
            rejected = httpx.post(
                collector.url + "/codex/analytics-events/events",
                headers={"Authorization": f"Bearer {TOKEN}"},
                content=b'{"events":[{"event_type":"nope","event_params":{}},{}]}',
                timeout=10,
            )
            assert rejected.status_code == 400
            unauthorized = httpx.post(
                collector.url + "/codex/analytics-events/events", content=b"{}", timeout=10
            )
            assert unauthorized.status_code == 401
            deadline = time.monotonic() + 30
            expected = _expected_ids(*EXAMPLES)
            while len(receiver.records()) < len(expected) and time.monotonic() < deadline:
                time.sleep(0.05)
            # The receiver has every record a moment before the delivery counts their answer:
            # the backlog gauge must drain to 0, so scrape until it has (or the deadline).
            samples = _scrape(collector.url)
            while (
                samples["agentlytics_collector_otlp_backlog_events{}"] != 0
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)
                samples = _scrape(collector.url)
        finally:
            collector.stop()
    assert _ids(receiver) == expected  # each stored event exported once
    repeated = len(replay_events_bytes(EXAMPLES[0]))
    assert samples["agentlytics_collector_events_stored_total{}"] == len(expected)
    assert samples["agentlytics_collector_events_accepted_total{}"] == len(expected) + repeated
    assert samples["agentlytics_collector_rejected_requests_total{reason=invalid_batch}"] == 1
    assert samples["agentlytics_collector_rejected_events_total{reason=invalid_batch}"] == 2
    assert samples["agentlytics_collector_rejected_requests_total{reason=unauthorized}"] == 1
    ok = samples["agentlytics_collector_requests_total{status=200}"]
    assert ok >= 2
    assert samples["agentlytics_collector_requests_total{status=400}"] == 1
    assert samples["agentlytics_collector_batch_events_count{}"] == ok
    assert samples["agentlytics_collector_batch_events_sum{}"] == len(expected) + repeated
    assert samples["agentlytics_collector_write_seconds_count{}"] == ok
    assert samples["agentlytics_collector_batch_bytes_sum{}"] > 0
    assert samples["agentlytics_collector_queue_events{}"] == 0
    assert samples["agentlytics_collector_otlp_backlog_events{}"] == 0


@pytest.mark.slow
def test_collect_metrics_open_needs_no_token(tmp_path: Path) -> None:
    collector = Collector(tmp_path / "collector", args=("--metrics-open",)).start()
    try:
        samples = _scrape(collector.url, token=None)
    finally:
        collector.stop()
    assert samples["agentlytics_collector_events_stored_total{}"] == 0
    assert samples["agentlytics_collector_queue_events{}"] == 0
    assert "agentlytics_collector_otlp_backlog_events{}" not in samples  # no export


def _backlog(collector: Collector) -> float:
    return _scrape(collector.url)["agentlytics_collector_otlp_backlog_events{}"]


@pytest.mark.slow
def test_collect_otlp_backlog_counts_what_a_restart_finds_in_the_export_spool(
    tmp_path: Path,
) -> None:
    """The export backlog gauge is what the export spool holds, not this process's own count:
    events a previous `collect --otlp` stored but could not export are backlog after a restart,
    and once exported the gauge is 0 (not minus what the previous process had spooled)."""
    from tests.collector_proc import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "AGENTLYTICS_SPOOL": str(tmp_path / "collector-spool"),
        "AGENTLYTICS_EXIT_TIMEOUT": "0.5",
        "AGENTLYTICS_BACKOFF_MAX": "0.3",
    }
    expected = _expected_ids(*EXAMPLES)

    def wait_for(collector: Collector, value: float) -> float:
        deadline = time.monotonic() + 30
        got = _backlog(collector)
        while got != value and time.monotonic() < deadline:
            time.sleep(0.05)
            got = _backlog(collector)
        return got

    first = Collector(tmp_path / "collector", args=("--otlp", url), **env).start()
    try:
        run_cli("replay", "--send", first.url, "--token", TOKEN, *map(str, EXAMPLES))
        assert wait_for(first, len(expected)) == len(expected)  # the endpoint is down
    finally:
        first.stop()
    second = Collector(tmp_path / "collector", args=("--otlp", url), **env).start()
    try:
        assert _backlog(second) == len(expected)  # still down: the restart found them
        with Receiver(port) as receiver:
            assert wait_for(second, 0) == 0
    finally:
        second.stop()
    assert _ids(receiver) == expected


def test_replay_otlp_reports_dropped_input_and_honours_strict(tmp_path: Path) -> None:
    """Dropped input is counted and shown with its reason, as by `replay` and `replay --send`,
    and `--strict` turns it into exit 1; the events that could be made are still exported."""
    good = capture_path("shell_accept").read_text().splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text(
        "\n".join(
            [
                good[0],
                "{oops",
                *good[1:],
                '{"ts_ms": 1, "dir": "server_to_client", "msg": {"id": 777, "result": {}}}',
            ]
        )
        + "\n"
    )
    local = run_cli("replay", "--no-warehouse", str(broken))
    expected_drops = drop_rows(local.stdout)
    assert ("wire", "malformed line") in expected_drops
    with Receiver() as receiver:
        lenient = run_cli("replay", "--otlp", receiver.url, str(broken), check=False)
        strict = run_cli("replay", "--otlp", receiver.url, "--strict", str(broken), check=False)
        clean = run_cli(
            "replay", "--otlp", receiver.url, "--strict", str(capture_path("shell_accept")),
            check=False,
        )  # fmt: skip
    assert lenient.returncode == 0, lenient.stderr
    assert drop_rows(lenient.stderr) == expected_drops
    assert strict.returncode == 1 and drop_rows(strict.stderr) == expected_drops
    assert clean.returncode == 0 and "No input dropped." in clean.stderr
    # every run exported the capture's events, the broken lines notwithstanding
    assert _ids(receiver) == sorted(3 * _expected_ids(capture_path("shell_accept")))


def test_replay_otlp_refuses_a_file_that_is_not_a_capture(tmp_path: Path) -> None:
    """As locally and with ``--send``: a gzip file is refused whole (a ``file`` drop row and
    one error line, exit 1, never "No input dropped"), and the real capture beside it is still
    exported."""
    good = capture_path("shell_accept")
    gz = tmp_path / "c.jsonl"
    gz.write_bytes(gzip.compress(good.read_bytes()))
    with Receiver() as receiver:
        proc = run_cli("replay", "--otlp", receiver.url, str(gz), str(good), check=False)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "No input dropped" not in proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if "is not a capture file" in line]
    assert line.startswith(f"agentlytics: error: {gz} is not a capture file: it is gzip")
    assert drop_rows(proc.stderr) == {("file", "not a capture file (not read)"): 1}
    assert _ids(receiver) == _expected_ids(good)


def test_replay_otlp_with_an_unusable_spool_is_one_line(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    proc = run_cli(
        "replay", "--otlp", "http://127.0.0.1:9", "--spool", str(not_a_dir),
        str(EXAMPLES[0]), check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"agentlytics: error: cannot use the spool {not_a_dir}: {not_a_dir} is not a directory; "
        "pass --spool a writable directory"
    ]
