"""The family list is the whole catalog: every fact has a reader, every event one owner.

A fact type that no family handles would be dropped at run time (``unhandled fact``); this test
catches it when the fact is added. The order pins are the run order the golden files rely on.
"""

from __future__ import annotations

import msgspec
import pytest

import agentlytics.facts
from agentlytics.events.catalog import CATALOG
from agentlytics.facts import Fact
from agentlytics.families import FAMILIES, REVIEWS, Family
from agentlytics.observe import reviews as review_edge
from agentlytics.observe.edge import EdgeHandlers, WireObserver
from agentlytics.observe.lifecycle_state import LifecycleEdge
from agentlytics.observe.reviews import ReviewEdge
from agentlytics.reducer.core import dispatch_table

#: Fact types no reducer handler takes, each with the reason. Keep it short: a fact is made to
#: be reduced.
EDGE_INTERNAL: dict[type[Fact], str] = {}


def project_fact_types() -> set[type[Fact]]:
    """Every concrete fact type the package defines (facts.py and any family module)."""
    found: set[type[Fact]] = set()
    todo = [Fact]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("agentlytics."):
                found.add(sub)
    return found


def unhandled(fact_types: set[type[Fact]], families: tuple[Family, ...]) -> set[type[Fact]]:
    handled = {fact_type for family in families for fact_type in family.facts}
    return fact_types - handled - set(EDGE_INTERNAL)


def test_every_fact_is_handled_by_a_family() -> None:
    fact_types = project_fact_types()
    # The walk sees facts.py's whole vocabulary (a sanity check on the walk itself).
    declared = {
        v
        for v in vars(agentlytics.facts).values()
        if isinstance(v, type) and issubclass(v, Fact) and v is not Fact
    }
    assert declared <= fact_types
    assert unhandled(fact_types, FAMILIES) == set()
    assert set(EDGE_INTERNAL) <= fact_types  # no stale entries


def test_a_fact_without_a_family_fails_the_check() -> None:
    class Orphan(Fact, frozen=True):
        thread_id: str

    assert unhandled({Orphan, *project_fact_types()}, FAMILIES) == {Orphan}


def test_every_catalog_event_is_declared_by_exactly_one_family() -> None:
    owners: dict[str, list[str]] = {}
    for family in FAMILIES:
        for event in family.events:
            owners.setdefault(event.EVENT_TYPE, []).append(family.name)
    assert {t: names for t, names in owners.items() if len(names) > 1} == {}
    assert set(owners) == set(CATALOG)


def test_family_names_are_unique() -> None:
    names = [family.name for family in FAMILIES]
    assert len(names) == len(set(names))


def test_shared_facts_run_in_list_order() -> None:
    """Reviews before tools, turns and threads: held reviews go out before the tool event and
    the turn event, and before a closing thread or connection removes what they read."""
    table = dispatch_table(FAMILIES)
    owner = {handler: family.name for family in FAMILIES for handler in family.reducers.values()}
    shared = {
        fact_type.__name__: [owner[h] for h in handlers]
        for fact_type, handlers in table.items()
        if len(handlers) > 1
    }
    assert shared == {
        "ItemStarted": ["reviews", "tools"],
        "ItemCompleted": ["reviews", "tools"],
        "TurnCompleted": ["reviews", "turns"],
        "ThreadClosed": ["reviews", "threads"],
        "ConnectionClosed": ["reviews", "threads"],
        "ClientResponse": ["threads", "turns"],
    }


def test_each_observer_owns_its_families_edge_state() -> None:
    a, b = WireObserver(0, families=FAMILIES), WireObserver(1, families=FAMILIES)
    assert isinstance(a.edge(ReviewEdge), ReviewEdge)
    assert isinstance(a.edge(LifecycleEdge), LifecycleEdge)
    assert a.edge(ReviewEdge) is not b.edge(ReviewEdge)
    # Without the family, the observer has neither its state nor its methods.
    bare = WireObserver(2, families=())
    assert bare.edges == {}
    line = msgspec.json.encode(
        {
            "seq": 0,
            "ts_ms": 1,
            "dir": "server_to_client",
            "msg": {
                "method": "serverRequest/resolved",
                "params": {"threadId": "t", "requestId": 3},
            },
        }
    )
    assert bare.observe_line(line) == []
    assert bare.drops.total == 0  # a known upstream notification nobody reads: not a drop


def test_two_families_claiming_one_method_is_an_error() -> None:
    rival = Family(
        "rival",
        reducers={},
        events=(),
        edge=EdgeHandlers(
            notifications={
                "serverRequest/resolved": review_edge.EDGE.notifications["serverRequest/resolved"]
            }
        ),
    )
    with pytest.raises(ValueError, match="rival: serverRequest/resolved already has a reader"):
        WireObserver(0, families=(REVIEWS, rival))
    core = Family(
        "core-clash",
        reducers={},
        events=(),
        edge=EdgeHandlers(
            notifications={"turn/started": review_edge.EDGE.notifications["serverRequest/resolved"]}
        ),
    )
    with pytest.raises(ValueError, match="turn/started already has a reader"):
        WireObserver(0, families=(core,))
