"""Regenerate ``docs/dashboard.png``: the page over the README's example warehouse.

The bundled examples are replayed by the real ``replay`` command into a fresh warehouse, a real
``agentlytics dashboard`` serves it, and the system's Chromium takes a full-page screenshot at
1280 px with the newest session that has subagents open (its timeline and subagent tree), the
pointer away from any bar. Fails if the page logs an error.

    PYTHONPATH=src .venv/bin/python -m tests.dashboard.screenshot docs/dashboard.png
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from tests.dashboard.browser import Dashboard, launch
from tests.helpers import ROOT, run_cli


def screenshot(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="dashboard-shot-") as tmp:
        work = Path(tmp)
        warehouse = work / "agentlytics.duckdb"
        examples = sorted((ROOT / "examples").glob("*.jsonl"))
        run_cli("replay", "--quiet", "--warehouse", str(warehouse), *map(str, examples))
        sessions = json.loads(
            run_cli("report", "sessions", "--warehouse", str(warehouse), "--format", "json").stdout
        )
        parent = next(s["thread_id"] for s in sessions if s["subagents"])
        problems: list[str] = []
        with Dashboard(warehouse, work) as dash, sync_playwright() as p:
            browser = launch(p)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.on("console", lambda m: m.type == "error" and problems.append(m.text))
                page.on("pageerror", lambda exc: problems.append(str(exc)))
                page.goto(dash.url)
                page.wait_for_selector("body[data-ready]")
                page.click(f"tr[data-thread='{parent}']")
                page.wait_for_selector("#session [data-tree]")
                page.mouse.move(0, 0)
                page.screenshot(path=str(out), full_page=True)
            finally:
                browser.close()
        if problems:
            raise SystemExit(f"the page logged errors: {problems}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, nargs="?", default=ROOT / "docs" / "dashboard.png")
    args = parser.parse_args()
    screenshot(args.out)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
