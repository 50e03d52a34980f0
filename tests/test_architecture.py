"""The import rules of docs/architecture.md, checked over the source: a forbidden import fails here.

Only imports that run count; those under ``if TYPE_CHECKING:`` are for annotations and may
point anywhere. Imports inside functions count too (core has none but the CLI's, which load
each command's code when it runs).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Which layer each core module belongs to: the longest matching prefix wins.
LAYERS = {
    "core.errors": "foundation",
    "core.messages": "foundation",
    "core.redaction": "foundation",
    "core.scopes": "foundation",
    "core.hookspecs": "foundation",
    "core.metrics": "foundation",
    "core.periods": "foundation",
    "core.untrusted": "foundation",
    "core.contracts": "contracts",
    "core.mail": "outbound",
    "core.config": "config",
    "core.storage": "storage",
    # Sealing personal data is part of storing it (column types, the raw batches' rows).
    "core.privacy": "storage",
    "core.plugins": "plugins",
    "core.auth": "auth",
    "core.pipeline": "pipeline",
    "core.operations": "operations",
    "core.web": "web",
    # Composition: these build the gateway out of everything else; nothing below imports them.
    "core": "composition",
    "core.gateway": "composition",
    "core.builtin": "composition",
    "core.web.app": "composition",
    "core.pipeline.worker": "composition",
    "core.storage.migrate": "composition",  # core's tables and every plugin's, through the registry
    "core.cli": "composition",
    "core.privacy.cli": "composition",
    "core.testing": "composition",
    "core.testkit": "composition",
    "core.scaffold": "composition",
}
# What each layer may import besides itself (the map in docs/architecture.md).
ALLOWED = {
    "foundation": {"foundation"},
    "contracts": {"foundation"},
    "config": {"foundation"},
    "outbound": {"config", "foundation"},
    "storage": {"config", "foundation"},
    "plugins": {"config", "foundation"},
    "auth": {"storage", "config", "contracts", "foundation"},
    "pipeline": {"storage", "config", "contracts", "foundation"},
    "operations": {"pipeline", "auth", "outbound", "storage", "config", "contracts", "foundation"},
    "web": {"operations", "pipeline", "auth", "outbound", "storage", "config", "contracts", "foundation"},
    "composition": {
        "composition", "web", "operations", "pipeline", "auth", "plugins", "outbound", "storage", "config", "contracts",
        "foundation",
    },
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(path: Path) -> set[str]:
    """Modules ``path`` imports when it runs (``from a import b`` counts as ``a`` and ``a.b``)."""
    found: set[str] = set()
    name = module_name(path) if path.is_relative_to(ROOT) else path.stem
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and is_type_checking(child):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - child.level + 1] + [base]).strip(".")
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def sources(top: str) -> list[Path]:
    return sorted(p for p in (ROOT / top).rglob("*.py") if "migrations" not in p.parts)


def existing(name: str) -> str | None:
    """``name`` if it is a module of ours (``from core.x import y`` may name a function ``y``)."""
    path = ROOT / name.replace(".", "/")
    return name if path.with_suffix(".py").exists() or (path / "__init__.py").exists() else None


def layer_of(module: str) -> str:
    best = max((prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")), key=len)
    return LAYERS[best]


def core_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sources("core"):
        here = module_name(path)
        graph[here] = {m for name in runtime_imports(path) if name.startswith("core") and (m := existing(name))}
        graph[here].discard(here)
    return graph


def test_core_never_imports_plugins_or_the_admin_ui() -> None:
    offenders = [
        f"{module_name(path)} imports {name}"
        for path in sources("core")
        for name in runtime_imports(path)
        if name.split(".")[0] in ("plugins", "admin_ui")
    ]
    assert offenders == []


@pytest.mark.parametrize("plugin", sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists()))
def test_a_plugin_imports_only_the_public_api_and_itself(plugin: str) -> None:
    own = f"plugins.{plugin}"
    offenders = [
        f"{module_name(path)} imports {name}"
        for path in sources(f"plugins/{plugin}")
        for name in runtime_imports(path)
        if (name.startswith("core.") and existing(name) and name != "core.testing")
        or (name.startswith("plugins") and name != "plugins" and not (name == own or name.startswith(own + ".")))
    ]
    assert offenders == [], "plugins use `from core import …` and never import each other"


def test_admin_ui_talks_to_core_not_to_plugins() -> None:
    offenders = [
        f"{module_name(path)} imports {name}"
        for path in sources("admin_ui")
        for name in runtime_imports(path)
        if name.split(".")[0] == "plugins"
    ]
    assert offenders == []


def violations(module: str, imported: set[str]) -> list[str]:
    mine = layer_of(module)
    return [
        f"{module} ({mine}) imports {target} ({layer_of(target)})"
        for target in sorted(imported)
        if target != "core" and layer_of(target) != mine and layer_of(target) not in ALLOWED[mine]
    ]


def test_core_packages_import_only_inward() -> None:
    """web → operations → pipeline/auth → storage → config → foundation; composition on top."""
    assert [v for module, imported in core_graph().items() for v in violations(module, imported)] == []


def test_no_module_is_both_imported_by_and_importing_the_gateway() -> None:
    graph = core_graph()
    importers = {m for m, imported in graph.items() if "core.gateway" in imported}
    reached: set[str] = set()
    todo = ["core.gateway"]
    while todo:
        for target in graph.get(todo.pop(), set()) - reached:
            reached.add(target)
            todo.append(target)
    assert sorted(importers & reached) == []


def test_the_rules_see_a_forbidden_import(tmp_path: Path) -> None:
    """The checker itself: an import of the web layer from storage is found."""
    bad = tmp_path / "bad.py"
    bad.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import core.gateway\nimport core.web.app\n")
    found = runtime_imports(bad)
    assert "core.web.app" in found and "core.gateway" not in found
    assert violations("core.storage.db", {"core.web.app"}) == ["core.storage.db (storage) imports core.web.app (composition)"]
    assert violations("core.pipeline.ingest", {"core.auth.users"}) != []
    assert violations("core.web.webhooks", {"core.pipeline.ingest", "core.errors"}) == []
