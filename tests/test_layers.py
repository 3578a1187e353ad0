"""The layer rule: delivery and sinks only ever see sealed envelopes.

Nothing under ``agentlytics/delivery/`` or ``agentlytics/sinks/`` may import the stages before
the seal — ``observe``, ``reducer``, ``facts``, ``pipeline`` — not even for type checking: a
processor or a sink that knows about facts or observers is how delivery ended up running the
pipeline. Imports are read with ``ast`` (every ``import`` statement anywhere in the module,
relative ones resolved), so the test needs no import side effects.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "agentlytics"
GUARDED = ("delivery", "sinks")
FORBIDDEN = ("observe", "reducer", "facts", "pipeline")


def module_name(path: Path, root: Path = SRC) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: Path, root: Path = SRC) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in the file, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # ``from agentlytics import facts`` names the module in the alias.
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
    return found


def violations(path: Path, root: Path = SRC) -> list[str]:
    """``file:line imports agentlytics.<forbidden package>``, once per import statement."""
    bad: list[str] = []
    for line, module in imported(path, root):
        parts = module.split(".")
        if len(parts) >= 2 and parts[0] == "agentlytics" and parts[1] in FORBIDDEN:
            found = f"{path.relative_to(root)}:{line} imports agentlytics.{parts[1]}"
            if found not in bad:
                bad.append(found)
    return bad


def guarded_files() -> list[Path]:
    return sorted(p for layer in GUARDED for p in (PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("path", guarded_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_delivery_and_sinks_never_import_the_pipeline_side(path: Path) -> None:
    assert violations(path) == []


def test_the_rule_sees_every_spelling_of_an_import(tmp_path: Path) -> None:
    """The checker itself: absolute, relative, ``from package import module``, and imports
    under ``TYPE_CHECKING`` or inside functions all count."""
    layer = tmp_path / "agentlytics" / "delivery"
    layer.mkdir(parents=True)
    probe = layer / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "import agentlytics.pipeline\n"
        "from ..facts import Fact\n"
        "from agentlytics import reducer\n"
        "if TYPE_CHECKING:\n"
        "    from agentlytics.observe.edge import WireObserver\n"
        "def late():\n"
        "    from agentlytics.events.envelope import Envelope\n",
        encoding="utf-8",
    )
    found = [v.split(":", 1)[1] for v in violations(probe, tmp_path)]
    assert found == [
        "2 imports agentlytics.pipeline",
        "3 imports agentlytics.facts",
        "4 imports agentlytics.reducer",
        "6 imports agentlytics.observe",
    ]
    assert guarded_files(), "the guarded packages must exist"
