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
    "core.distribution": "foundation",
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
    "core.pipeline.exchanges": "foundation",  # what an attempt sent and received: recorded by the mail and HTTP clients
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


def runtime_imports(path: Path, *, submodules: bool = False) -> set[str]:
    """Modules ``path`` imports when it runs (``from a import b`` counts as ``a`` and ``a.b``).

    With ``submodules``, ``from a import b`` counts as ``a.b`` alone when ``a.b`` is a module of
    ours: what runs is ``b``, and ``a`` only as its package, as for any ``import a.b``.
    """
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
                named = {f"{base}.{alias.name}" for alias in child.names}
                if not (submodules and all(existing(name) for name in named)):
                    found.add(base)
                found.update(named)
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


def import_graph(top: str) -> dict[str, set[str]]:
    """Which of ``top``'s modules each of them imports when it runs (a package: its ``__init__``)."""
    root = top.replace("/", ".")
    graph: dict[str, set[str]] = {}
    for path in sources(top):
        here = module_name(path)
        imported = runtime_imports(path, submodules=True)
        graph[here] = {m for name in imported if (name == root or name.startswith(root + ".")) and (m := existing(name))}
        graph[here].discard(here)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The modules that import each other, directly or round a circle (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph.get(module, set())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = [stack.pop()]
            while component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return cycles


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


@pytest.mark.parametrize("top", ["core", "admin_ui", "plugins/dhis2"])
def test_no_import_cycles(top: str) -> None:
    """Dependencies go one way: no module imports, at run time, one that imports it back (even lazily)."""
    assert import_cycles(import_graph(top)) == []


# The dhis2 plugin's sub-packages import one way (its docstring's map): compat → submission →
# delivery, compat and submission → mappings; each may import the modules at the package's top.
DHIS2_ALLOWED = {
    "compat": {"submission", "mappings"},
    "submission": {"delivery", "mappings"},
    "delivery": set(),
    "mappings": set(),
}


def test_the_dhis2_sub_packages_import_one_way() -> None:
    def part(module: str) -> str | None:
        rest = module.removeprefix("plugins.dhis2").lstrip(".").split(".")
        return rest[0] if len(rest) > 1 and rest[0] in DHIS2_ALLOWED else None

    offenders = [
        f"{module} imports {target}"
        for module, imported in import_graph("plugins/dhis2").items()
        for target in sorted(imported)
        if (mine := part(module)) and (theirs := part(target)) and theirs != mine and theirs not in DHIS2_ALLOWED[mine]
    ]
    assert offenders == []


def test_the_cycle_finder_sees_a_circle() -> None:
    """The checker itself: a circle of three is found, a one-way chain and a self-import are not."""
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"d"}}) == []


def test_ids_in_paths_are_read_by_core_path_uuid_only() -> None:
    """``UUID(request.path_params[...])`` is written once, in ``core.path_uuid`` (a malformed id: 404)."""
    offenders = []
    for top in ("core", "plugins", "admin_ui"):
        for path in sources(top):
            if module_name(path) == "core.web.requests":
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if (
                    isinstance(node, ast.Call)
                    and (getattr(node.func, "attr", None) == "UUID" or getattr(node.func, "id", None) == "UUID")
                    and "path_params" in ast.unparse(node)
                ):
                    offenders.append(f"{module_name(path)}:{node.lineno}")
    assert offenders == [], "use core.path_uuid(request, name, what)"


def test_plugins_do_not_reimplement_the_public_helpers() -> None:
    """A plugin's own ``uuid7``/``read_json``/``path_uuid`` drifts from the core's (the devices plugin
    answered 400 where the core answers 415); plugins import the core's."""
    public = {"uuid7", "read_json", "parse_json", "path_uuid", "read_query"}
    offenders = [
        f"{module_name(path)}.{node.name}"
        for path in sources("plugins")
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in public | {"new_id"}
    ]
    assert offenders == []
