"""The README's report examples print exactly what the README shows, after its quick start."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.helpers import ROOT, run_cli

PROMPT = "$ .venv/bin/agentlytics "


def _console_blocks() -> list[str]:
    return re.findall(r"```console\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def _examples() -> list[tuple[str, str]]:
    """(command, shown output) of every ``$ .venv/bin/agentlytics report …`` in the README."""
    found: list[tuple[str, str]] = []
    for block in _console_blocks():
        parts = re.split(r"^(\$ .*)\n", block, flags=re.M)
        for command, shown in zip(parts[1::2], parts[2::2], strict=True):
            if command.startswith(PROMPT + "report "):
                found.append((command.removeprefix(PROMPT), shown))
    return found


def test_the_readme_shows_three_report_examples() -> None:
    assert len(_examples()) >= 3


@pytest.mark.slow
def test_readme_report_examples_print_what_they_show(tmp_path: Path) -> None:
    # The quick start, in a fresh directory: replay the bundled examples into ./agentlytics.duckdb.
    examples = sorted(str(p) for p in (ROOT / "examples").glob("*.jsonl"))
    run_cli("replay", *examples, cwd=tmp_path)
    for command, shown in _examples():
        proc = run_cli(*shlex.split(command), cwd=tmp_path)
        assert proc.stdout + proc.stderr == shown, command
