"""The dashboard in a real headless Chromium over a warehouse of the real captures.

Expected figures are computed here from the replayed events themselves (and checked against
``agentlytics report … --format json``), never by the dashboard's or the reports' own code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from agentlytics.query.pricing import bundled
from tests.dashboard.browser import Dashboard
from tests.dashboard.conftest import PageErrors
from tests.helpers import ROOT, all_captures, capture_path, replay_events, run_cli

READY = "body[data-ready]"


def _events() -> list[dict[str, Any]]:
    return replay_events(*all_captures())


def _params(events: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [e["event_params"] for e in events if e["event_type"] == event_type]


def _report(warehouse: Path, *args: str) -> Any:
    out = run_cli("report", *args, "--warehouse", str(warehouse), "--format", "json").stdout
    return json.loads(out)


def _cards(page: Any) -> dict[str, Any]:
    return {
        card.get_attribute("data-card"): json.loads(card.get_attribute("data-value"))
        for card in page.query_selector_all("[data-card]")
    }


@pytest.mark.slow
def test_page_loads_cleanly_and_the_headline_is_the_reports(
    page: Any, captures_dashboard: Dashboard, captures_warehouse: Path, tmp_path: Path
) -> None:
    errors = PageErrors(page, captures_dashboard.url.rstrip("/"))
    page.goto(captures_dashboard.url)
    page.wait_for_selector(READY)
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    cards = _cards(page)

    events = _events()
    turns = _params(events, "codex_turn_event")
    reviews = _params(events, "codex_review_event")
    threads = {p["thread_id"] for p in _params(events, "codex_thread_initialized")}
    threads |= {p["thread_id"] for p in turns}
    prices = bundled()
    costs = [
        prices.estimate(
            t["model"],
            t["input_tokens"],
            t["cached_input_tokens"],
            t["output_tokens"],
            t["reasoning_output_tokens"],
        )
        for t in turns
    ]
    approved = sum(r["status"] == "approved" for r in reviews)
    assert cards["sessions"] == len(threads) == 25
    assert cards["turns"] == len(turns) == 26
    assert cards["tokens"] == sum(t["total_tokens"] or 0 for t in turns)
    assert None not in costs
    assert cards["cost"] == pytest.approx(sum(c for c in costs if c is not None), abs=1e-9)
    assert cards["approval-rate"] == pytest.approx(approved / len(reviews))
    assert (approved, len(reviews)) == (6, 9)
    assert cards["agent-share"] is None  # no repository was attributed

    # … and the same figures as `agentlytics report overview --format json`.
    overview = _report(captures_warehouse, "overview")
    assert cards["sessions"] == overview["threads"]
    assert cards["turns"] == overview["turns"]
    assert cards["tokens"] == overview["total_tokens"]
    assert cards["cost"] == overview["cost_usd"]
    approvals = _report(captures_warehouse, "approvals")
    assert cards["approval-rate"] == pytest.approx(
        sum(r["approved"] for r in approvals) / sum(r["reviews"] for r in approvals)
    )

    # Every tool, approval and session row of the reports is on the page, in their order.
    tools = _report(captures_warehouse, "tools")
    shown = page.locator("[data-table=tools] tbody tr b").all_inner_texts()
    assert shown == [r["tool_name"] for r in tools]
    sessions = _report(captures_warehouse, "sessions")
    rows = page.locator("[data-table=sessions] tbody tr")
    assert [rows.nth(i).get_attribute("data-thread") for i in range(rows.count())] == [
        r["thread_id"] for r in sessions
    ]
    assert page.locator("[data-table=approvals] tbody tr").count() == len(approvals)
    assert page.locator("[data-table=hooks] tbody tr").count() == len(
        {(h["hook_name"], h["hook_source"]) for h in _params(events, "codex_hook_run")}
    )
    # Goals and compactions: a row per row of their reports (goals by status and session).
    goals = _report(captures_warehouse, "goals")
    assert 0 < page.locator("[data-table=goals] tbody tr").count() == len(goals)
    compactions = _report(captures_warehouse, "compactions")
    assert 0 < page.locator("[data-table=compactions] tbody tr").count() == len(compactions)
    assert page.locator("#empty").is_hidden()
    # Charts are drawn by the vendored uPlot, one bar series per model.
    assert page.locator("#chart-tokens canvas").count() == 1
    assert page.locator("#chart-cost canvas").count() == 1
    assert errors.messages == []


def _span_counts(events: list[dict[str, Any]], thread_id: str) -> dict[str, int]:
    tool_types = {
        "codex_command_execution_event",
        "codex_file_change_event",
        "codex_mcp_tool_call_event",
        "codex_dynamic_tool_call_event",
        "codex_collab_agent_tool_call_event",
        "codex_web_search_event",
        "codex_image_generation_event",
    }
    mine = [e for e in events if e["event_params"].get("thread_id") == thread_id]
    return {
        "turn": sum(e["event_type"] == "codex_turn_event" for e in mine),
        "tool": sum(
            e["event_type"] in tool_types and e["event_params"]["started_at_ms"] is not None
            for e in mine
        ),
        "review": sum(e["event_type"] == "codex_review_event" for e in mine),
    }


def test_clicking_a_session_opens_its_timeline_and_subagent_tree(
    page: Any, captures_dashboard: Dashboard, tmp_path: Path
) -> None:
    events = _events()
    spawned = _params(events, "codex_thread_initialized")
    child = next(p for p in spawned if p["parent_thread_id"] is not None)
    parent = child["parent_thread_id"]
    errors = PageErrors(page, captures_dashboard.url.rstrip("/"))
    page.goto(captures_dashboard.url)
    page.wait_for_selector(READY)
    assert page.locator("#session").is_hidden()

    page.click(f"tr[data-thread='{parent}']")
    page.wait_for_selector("#session [data-timeline]")
    assert parse_qs(urlparse(page.url).query)["session"] == [parent]
    assert page.locator("#h-session").inner_text() == f"Session {parent[:8]}…{parent[-4:]}"
    expected = _span_counts(events, parent)
    for lane, count in expected.items():
        assert page.locator(f"#session rect[data-lane={lane}]").count() == count, lane
    assert page.locator("[data-table=session-turns] tbody tr").count() == expected["turn"]
    tree = page.locator("#session [data-tree] a").all_inner_texts()
    assert tree == [
        parent[:8] + "…" + parent[-4:],
        child["thread_id"][:8] + "…" + child["thread_id"][-4:],
    ]
    page.screenshot(path=str(tmp_path / "session.png"), full_page=True)
    # The tree's child opens the subagent's own session, which links back to its parent.
    page.click("#session [data-tree] ul a")
    page.wait_for_function(
        "id => document.querySelector('#h-session').textContent.endsWith(id.slice(-4))",
        arg=child["thread_id"],
    )
    assert page.locator("#session dd a").inner_text() == parent[:8] + "…" + parent[-4:]
    page.focus("#session rect[data-lane=turn]")
    assert page.locator("#span-detail").inner_text().startswith("turn ")

    # A session with a review shows it on the review lane, as many as it had.
    reviewed = next(
        p["thread_id"] for p in _params(events, "codex_review_event") if p["thread_id"] != parent
    )
    page.click(f"tr[data-thread='{reviewed}']")
    page.wait_for_function(
        "id => document.querySelector('#h-session').textContent.endsWith(id.slice(-4))",
        arg=reviewed,
    )
    assert (
        page.locator("#session rect[data-lane=review]").count()
        == _span_counts(events, reviewed)["review"]
    )

    # The URL is the view: reloading it opens the same session.
    page.reload()
    page.wait_for_selector("#session [data-timeline]")
    assert page.locator("#h-session").inner_text().endswith(reviewed[-4:])
    # Escape closes it and gives focus back to its row.
    page.keyboard.press("Escape")
    assert page.locator("#session").is_hidden()
    assert "session" not in parse_qs(urlparse(page.url).query)
    assert errors.messages == []


def test_keyboard_alone_reaches_and_opens_a_session(
    page: Any, captures_dashboard: Dashboard
) -> None:
    page.goto(captures_dashboard.url)
    page.wait_for_selector(READY)
    for _ in range(200):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('tr[data-thread]')"):
            break
    else:
        pytest.fail("no session row is reachable with Tab")
    thread = page.evaluate("document.activeElement.dataset.thread")
    # The focused row is visibly outlined (not the browser default of nothing on a row).
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("Enter")
    page.wait_for_selector("#session [data-timeline]")
    assert parse_qs(urlparse(page.url).query)["session"] == [thread]
    assert page.evaluate("document.activeElement.id") == "session"


@pytest.mark.slow
def test_filters_live_in_the_url_and_match_the_filtered_report(
    page: Any, captures_dashboard: Dashboard, captures_warehouse: Path
) -> None:
    errors = PageErrors(page, captures_dashboard.url.rstrip("/"))
    page.goto(captures_dashboard.url + "?model=no-such-model")
    page.wait_for_selector(READY)
    assert page.input_value("#f-model") == "no-such-model"
    cards = _cards(page)
    overview = _report(captures_warehouse, "overview", "--model", "no-such-model")
    assert cards["turns"] == overview["turns"] == 0
    assert cards["sessions"] == overview["threads"]
    assert page.locator("#chart-tokens").inner_text() == "No turns match these filters."

    # Applying a filter through the form writes it into the URL (so the view can be shared).
    turns = _params(_events(), "codex_turn_event")
    day = min(t["started_at"] for t in turns)
    from datetime import UTC, datetime

    iso = datetime.fromtimestamp(day, tz=UTC).date().isoformat()
    page.fill("#f-model", "gpt-5.5")
    page.fill("#f-since", iso)
    page.fill("#f-until", iso)
    page.click("#filters button[type=submit]")
    page.wait_for_function("() => location.search.includes('model=gpt-5.5')")
    page.wait_for_function(
        "n => JSON.parse(document.querySelector('[data-card=turns]').dataset.value) === n",
        arg=_report(captures_warehouse, "overview", "--model", "gpt-5.5", "--since", iso,
                    "--until", iso)["turns"],
    )  # fmt: skip
    query = parse_qs(urlparse(page.url).query)
    assert query == {"model": ["gpt-5.5"], "since": [iso], "until": [iso]}
    expected = sum(
        t["model"] == "gpt-5.5"
        and datetime.fromtimestamp(t["started_at"], tz=UTC).date().isoformat() == iso
        for t in turns
    )
    assert _cards(page)["turns"] == expected
    page.click("#f-reset")
    page.wait_for_function("() => location.search === ''")
    assert errors.messages == []


def test_phone_layout_has_no_sideways_scroll(
    browser: Any, captures_dashboard: Dashboard, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = context.new_page()
        errors = PageErrors(page, captures_dashboard.url.rstrip("/"))
        page.goto(captures_dashboard.url)
        page.wait_for_selector(READY)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        assert errors.messages == []
    finally:
        context.close()


@pytest.mark.slow
def test_an_empty_store_says_what_to_run(page: Any, tmp_path: Path) -> None:
    with Dashboard(tmp_path / "nothing-yet.duckdb", tmp_path) as dash:
        errors = PageErrors(page, dash.url.rstrip("/"))
        page.goto(dash.url)
        page.wait_for_selector(READY)
        assert page.locator("#empty").is_visible()
        assert "agentlytics replay examples/*.jsonl" in page.locator("#empty").inner_text()
        assert page.locator("#sessions").inner_text() == "No sessions match these filters."
        assert _cards(page)["sessions"] == 0
        page.screenshot(path=str(tmp_path / "empty.png"), full_page=True)
        assert errors.messages == []


def test_offline_the_page_loads_nothing_from_elsewhere(
    page: Any, captures_dashboard: Dashboard
) -> None:
    requested: list[str] = []
    page.on("request", lambda req: requested.append(req.url))
    page.goto(captures_dashboard.url)
    page.wait_for_selector(READY)
    assert requested
    assert all(re.match(re.escape(captures_dashboard.url), url) for url in requested), requested
    assert any(url.endswith("vendor/uPlot.iife.min.js") for url in requested)


@pytest.fixture(scope="module")
def two_projects_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled examples (project example/session, client agentlytics-capture) plus two real
    captures recorded, as the tap would have recorded them, in a clone of another repository
    and from another client (``vscode``)."""
    from tests.support.add_repo_meta import annotate

    work = tmp_path_factory.mktemp("projects")
    others = []
    for name in ("web_search", "dynamic_tool"):
        lines = capture_path(name).read_bytes().splitlines(keepends=True)
        lines = [
            line.replace(
                b'"clientInfo": {"name": "agentlytics-capture"', b'"clientInfo": {"name": "vscode"'
            )
            for line in annotate(lines, "https://github.com/example/other.git", "main")
        ]
        (work / f"{name}.jsonl").write_bytes(b"".join(lines))
        others.append(work / f"{name}.jsonl")
    warehouse = work / "projects.duckdb"
    examples = sorted((ROOT / "examples").glob("*.jsonl"))
    run_cli(
        "replay", "--quiet", "--strict", "--warehouse", str(warehouse), *map(str, examples + others)
    )
    return warehouse


@pytest.mark.slow
def test_project_and_client_filters_are_in_the_url_and_match_the_report(
    page: Any, two_projects_warehouse: Path, tmp_path: Path
) -> None:
    warehouse = two_projects_warehouse
    other_threads = _threads_of(capture_path("web_search"), capture_path("dynamic_tool"))
    every = _report(warehouse, "overview")["threads"]
    assert 0 < len(other_threads) < every
    with Dashboard(warehouse, tmp_path) as dash:
        errors = PageErrors(page, dash.url.rstrip("/"))
        # A shared URL opens the filtered view, its filters in the form.
        page.goto(dash.url + "?project=example/other")
        page.wait_for_selector(READY)
        assert page.input_value("#f-project") == "example/other"
        assert _cards(page)["sessions"] == len(other_threads)
        assert (
            _cards(page)["sessions"]
            == _report(warehouse, "overview", "--project", "example/other")["threads"]
        )
        assert _shown_threads(page) == other_threads

        # Filters typed into the form go into the URL, and the page shows what they select.
        page.fill("#f-project", "")
        page.fill("#f-client", "agentlytics-capture")
        page.click("#filters button[type=submit]")
        page.wait_for_function("() => location.search === '?client=agentlytics-capture'")
        by_client = _report(warehouse, "overview", "--client", "agentlytics-capture")["threads"]
        assert by_client == every - len(other_threads)
        page.wait_for_function(
            "n => JSON.parse(document.querySelector('[data-card=sessions]').dataset.value) === n",
            arg=by_client,
        )
        assert not _shown_threads(page) & other_threads

        # Both at once: nothing is both, and the page says so.
        page.fill("#f-project", "example/other")
        page.click("#filters button[type=submit]")
        page.wait_for_function("() => location.search.includes('project=')")
        assert parse_qs(urlparse(page.url).query) == {
            "project": ["example/other"],
            "client": ["agentlytics-capture"],
        }
        page.wait_for_function(
            "() => JSON.parse(document.querySelector('[data-card=sessions]').dataset.value) === 0"
        )
        assert page.locator("#sessions").inner_text() == "No sessions match these filters."
        # The browser's Back returns to the previous view.
        page.go_back()
        page.wait_for_function("() => location.search === '?client=agentlytics-capture'")
        page.wait_for_function(
            "n => JSON.parse(document.querySelector('[data-card=sessions]').dataset.value) === n",
            arg=by_client,
        )
        assert page.input_value("#f-project") == ""
        page.screenshot(path=str(tmp_path / "filtered.png"), full_page=True)
        assert errors.messages == []


def _threads_of(*captures: Path) -> set[str]:
    return {
        e["event_params"]["thread_id"]
        for e in replay_events(*captures)
        if e["event_type"] in ("codex_thread_initialized", "codex_turn_event")
    }


def _shown_threads(page: Any) -> set[str]:
    rows = page.locator("[data-table=sessions] tbody tr")
    return {rows.nth(i).get_attribute("data-thread") for i in range(rows.count())}


def test_review_latency_distribution_is_the_reviews_bucketed(
    page: Any, captures_dashboard: Dashboard
) -> None:
    """One histogram per reviewer; each bar's count is the number of review events whose
    latency falls in it (counted here from the events, edges 10 ms … 10 min)."""
    reviews = _params(_events(), "codex_review_event")
    edges = [0, 10, 100, 1_000, 10_000, 60_000, 600_000, None]
    expected: dict[str, list[int]] = {}
    for r in reviews:
        counts = expected.setdefault(r["reviewer"], [0] * (len(edges) - 1))
        d = r["duration_ms"]
        assert d is not None  # every review of the captures is timed
        i = next(i for i in range(len(edges) - 1) if edges[i + 1] is None or d < edges[i + 1])
        counts[i] += 1
    assert set(expected) == {"user", "guardian"}
    errors = PageErrors(page, captures_dashboard.url.rstrip("/"))
    page.goto(captures_dashboard.url)
    page.wait_for_selector(READY)
    for reviewer, counts in expected.items():
        bars = page.locator(f"[data-histogram={reviewer}] .col")
        shown = [int(bars.nth(i).get_attribute("data-count")) for i in range(bars.count())]
        assert shown == counts, reviewer
        labels = page.locator(f"[data-histogram={reviewer}] .col small").all_inner_texts()
        assert labels[0] == "< 10 ms" and labels[-1] == "≥ 10 min"
    assert errors.messages == []
