"""The layers hold: the app-level import graph, counting imports inside functions too, has
no cycle, and each app imports only the apps below it (README, "Development")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Bottom to top. An app may import the apps before it in this list, never one after it.
LAYERS = (
    ("itp_trial",),
    ("subjects",),
    ("infusions",),
    ("visits",),
    ("safety",),
    ("reporting", "exchange", "demo"),
)
APPS = tuple(app for layer in LAYERS for app in layer)
LEVEL = {app: n for n, layer in enumerate(LAYERS) for app in layer}
# The project's wiring, not a layer: settings name the apps, the root URLconf includes them
# by string, the Celery app discovers their tasks.
WIRING = {ROOT / "itp_trial" / "settings"}


def _modules(app: str) -> list[Path]:
    return [
        path
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts and not any(w in path.parents for w in WIRING)
    ]


def _package(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])


def _imported(path: Path, package: str) -> set[str]:
    """Every module `path` (in `package`) imports, at the top or inside a function, made
    absolute."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join([*base, node.module] if node.module else base))
            else:
                found.add(node.module or "")
    return found


def app_graph() -> dict[str, dict[str, list[str]]]:
    """app -> the other apps it imports -> the modules that import them."""
    graph: dict[str, dict[str, list[str]]] = {app: {} for app in APPS}
    for app in APPS:
        for path in _modules(app):
            for module in _imported(path, _package(path)):
                target = module.split(".")[0]
                if target in APPS and target != app:
                    graph[app].setdefault(target, []).append(str(path.relative_to(ROOT)))
    return graph


def cycle(graph: dict[str, dict[str, list[str]]]) -> list[str] | None:
    """One cycle of the graph, as the apps along it, or None."""
    done: set[str] = set()

    def visit(app: str, path: list[str]) -> list[str] | None:
        if app in path:
            return [*path[path.index(app) :], app]
        if app in done:
            return None
        for target in graph[app]:
            found = visit(target, [*path, app])
            if found:
                return found
        done.add(app)
        return None

    for app in graph:
        found = visit(app, [])
        if found:
            return found
    return None


def test_it_finds_every_app_module():
    assert all(_modules(app) for app in APPS)
    assert ROOT / "visits" / "services" / "sync.py" in _modules("visits")


def test_it_has_no_import_cycle_between_apps():
    graph = app_graph()
    found = cycle(graph)
    where = (
        {f"{a} -> {b}": graph[a][b] for a, b in zip(found, found[1:], strict=False)}
        if found
        else {}
    )
    assert found is None, where


def test_it_imports_only_downwards():
    upwards = {
        f"{app} -> {target}": modules
        for app, targets in app_graph().items()
        for target, modules in targets.items()
        if LEVEL[target] >= LEVEL[app]
    }
    assert upwards == {}


@pytest.mark.parametrize(
    "graph, expected",
    [
        ({"a": {"b": []}, "b": {}}, None),
        ({"a": {"b": []}, "b": {"a": []}}, ["a", "b", "a"]),
        ({"a": {"b": []}, "b": {"c": []}, "c": {"b": []}}, ["b", "c", "b"]),
    ],
)
def test_it_detects_a_cycle(graph, expected):
    assert cycle(graph) == expected


def test_it_counts_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from safety.tasks import x\n    from ..models import y\n")
    assert _imported(module, "visits.services") == {"safety.tasks", "visits.models"}
