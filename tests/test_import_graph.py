"""The import graph of ``src/agentlytics``: no cycles, and every import points down the layers.

Every import statement counts, wherever it is: at module level, inside a function (the lazy
imports that keep ``agentlytics --help`` fast) and under ``if TYPE_CHECKING:`` — a cycle
hidden in a function or a type annotation is still a cycle to whoever reads the code. Only
``importlib.import_module`` strings (the public facade's lazy exports) are not seen.

An import of ``a.b.c`` is an edge to the module ``a.b.c`` (``from a.b import c`` to ``a.b.c``
when that is a module, else to ``a.b``), not to the packages above it, whose ``__init__``
runs first anyway.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

from tests.helpers import SRC

Graph = dict[str, set[str]]

#: The layers, lowest first: a module may import its own layer and the layers below it, never
#: one above. An entry is a top-level module or package under ``agentlytics`` (or a module of
#: a package whose modules sit on different layers, as ``otel``'s do); ``agentlytics`` itself
#: is the public facade, above everything.
LAYERS: tuple[tuple[str, ...], ...] = (
    # Foundations: import nothing of ours.
    ("version", "vocabulary", "bounded", "drops", "config", "protocol", "reviewed_actions"),
    # What the pipeline produces and the values it computes from.
    ("facts",),
    ("events",),
    ("fingerprints",),
    # wire -> facts -> events.
    ("reducer",),
    ("observe",),
    # The ordered list of event families: composes observe's edge and the reducer.
    ("families",),
    ("pipeline",),
    # The library's background side: a bounded queue of plain records, a journal and the
    # thread that drains them through a pipeline into delivery's processors.
    ("library",),
    # The storage side: the warehouse and the reports over it.
    ("warehouse",),
    ("query",),
    # Events in their OTLP form (pure data) and the metrics derived from them.
    ("otel", "otel.mapping", "otel.metrics", "otel.audit", "otel.docs"),
    # Servers over the storage side.
    ("errors", "collector", "dashboard"),
    # Drivers: each wires a source through the pipeline to its sinks.
    ("replay", "replay_jobs", "live", "client", "otel.delivery", "otel.replay", "otel.collect"),
    ("cli", "__main__"),
    ("",),  # the facade, agentlytics/__init__.py
)

#: Packages the layer check leaves alone: their own import rules (nothing under them imports
#: observe, reducer, facts or pipeline) are tests/test_layers.py's. They are in the cycle check.
UNLAYERED: frozenset[str] = frozenset({"delivery", "sinks"})

#: The two sides of the package that must not know each other: making events never reads the
#: warehouse, and reading the warehouse never needs the pipeline.
INDEPENDENT: tuple[frozenset[str], frozenset[str]] = (
    frozenset({"facts", "reducer", "observe", "pipeline"}),
    frozenset({"warehouse", "query", "dashboard"}),
)

#: Known imports against the layers, each to be removed by the work named; an entry that no
#: longer occurs fails the test, so the list only shrinks.
KNOWN_VIOLATIONS: frozenset[tuple[str, str]] = frozenset()


def modules(src: Path, package: str) -> dict[str, Path]:
    """Module name -> file, for every ``.py`` of ``package`` under ``src``."""
    found: dict[str, Path] = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imported(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, str | None]]:
    """(module, name imported from it or None) for every import statement in ``tree``."""
    here = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: len(here.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                yield target, alias.name


def module_graph(src: Path, package: str) -> Graph:
    """Module -> the modules of ``package`` it imports (anywhere in its file)."""
    known = modules(src, package)

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: Graph = {name: set() for name in known}
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for target, member in _imported(tree, name, path.name == "__init__.py"):
            if target != package and not target.startswith(package + "."):
                continue
            full = f"{target}.{member}" if member else target
            found = full if full in known else resolve(target)
            if found is not None and found != name:
                graph[name].add(found)
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """One cycle (``a -> b -> ... -> a``) through each strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(node: str) -> None:  # Tarjan; the graph is a few hundred modules deep at most
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_path_in(graph, group) for group in groups]


def _path_in(graph: Mapping[str, set[str]], group: set[str]) -> list[str]:
    """A cycle inside ``group`` (strongly connected), from its first module back to it."""
    start = min(group)
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:  # breadth first: the shortest way back to start
        nxt_frontier: list[str] = []
        for node in frontier:
            for nxt in sorted(graph[node] & group):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if nxt not in parents:
                    parents[nxt] = node
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    raise AssertionError(f"{sorted(group)} is not strongly connected")


def layer_of(module: str) -> int | None:
    """The layer index of an ``agentlytics`` module (None: unlayered); KeyError: undeclared."""
    rest = module.partition(".")[2]
    top = rest.partition(".")[0]
    if top in UNLAYERED:
        return None
    for candidate in (".".join(rest.split(".")[:2]), top, rest):
        for number, layer in enumerate(LAYERS):
            if candidate in layer:
                return number
    raise KeyError(module)


def _unit(module: str) -> str:
    return module.partition(".")[2].partition(".")[0]


GRAPH = module_graph(SRC, "agentlytics")


def test_no_import_cycles() -> None:
    found = cycles(GRAPH)
    assert not found, "import cycles (break each, e.g. move the shared part down a layer):\n" + (
        "\n".join("  " + " -> ".join(cycle) for cycle in found)
    )


def test_every_module_has_a_layer() -> None:
    undeclared = []
    for module in GRAPH:
        try:
            layer_of(module)
        except KeyError:
            undeclared.append(module)
    assert not undeclared, f"declare these in LAYERS (tests/test_import_graph.py): {undeclared}"


def test_imports_point_down_the_layers() -> None:
    upward = []
    for module, targets in sorted(GRAPH.items()):
        mine = layer_of(module)
        for target in sorted(targets):
            theirs = layer_of(target)
            if mine is None or theirs is None or theirs <= mine:
                continue
            if (module, target) not in KNOWN_VIOLATIONS:
                upward.append(f"{module} (layer {mine}) imports {target} (layer {theirs})")
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def test_known_violations_still_occur() -> None:
    gone = sorted(edge for edge in KNOWN_VIOLATIONS if edge[1] not in GRAPH.get(edge[0], set()))
    assert not gone, f"fixed: remove from KNOWN_VIOLATIONS: {gone}"


def test_event_making_and_warehouse_reading_are_independent() -> None:
    left, right = INDEPENDENT
    crossing = [
        f"{module} imports {target}"
        for module, targets in sorted(GRAPH.items())
        for target in sorted(targets)
        if {_unit(module), _unit(target)} & left and {_unit(module), _unit(target)} & right
    ]
    assert not crossing, "\n".join(crossing)


def test_the_graph_sees_lazy_type_checking_and_relative_imports(tmp_path: Path) -> None:
    """The checks above are only as good as the graph: a cycle closed by a function-level,
    a ``TYPE_CHECKING`` or a relative import is found, with its path."""
    pkg = tmp_path / "toy"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from toy import b\n")
    (pkg / "b.py").write_text("def f() -> None:\n    from toy.sub import c\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .. import a\n"
    )
    (pkg / "d.py").write_text("import toy.a\nimport os\n")
    graph = module_graph(tmp_path, "toy")
    assert graph["toy.d"] == {"toy.a"}
    assert cycles(graph) == [["toy.a", "toy.b", "toy.sub.c", "toy.a"]]
    (pkg / "sub" / "c.py").write_text("import toy\n")  # the package, not its modules
    assert cycles(module_graph(tmp_path, "toy")) == []
