"""The public plugin API says when it breaks: versions, plugin requirements, a pinned snapshot.

``SWITCHBOARD_UPDATE_API_SNAPSHOT=1 python -m pytest tests/test_plugin_api.py`` rewrites
tests/public_api.json after a deliberate change of the public API (review the diff).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.metadata
import inspect
import json
import os
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest

import core
from core import hookspecs
from core.contracts import Adapter, Command, CronJob, DeliveryInfo, DeliveryResult, Destination
from core.errors import PluginError
from core.gateway import Gateway
from core.messages import StandardMessage
from core.plugins import PluginRegistry
from core.testing import make_settings

SNAPSHOT = Path(__file__).parent / "public_api.json"


def plugin_module(name: str, api: str | None, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    if api is not None:
        module.SWITCHBOARD_API = api  # type: ignore[attr-defined]
    for key, value in attributes.items():
        setattr(module, key, value)
    return module


def test_version_comes_from_the_installed_distribution() -> None:
    assert core.__version__ == importlib.metadata.version("switchboard-gateway")


def test_the_distribution_has_a_name_of_its_own_and_keeps_the_command_and_entry_points() -> None:
    # "switchboard" on the package index is an unrelated project: a plugin depending on it
    # would install that one.
    assert core.distribution.DISTRIBUTION == "switchboard-gateway"
    dist = importlib.metadata.distribution(core.distribution.DISTRIBUTION)
    points = {(ep.group, ep.name): ep.value for ep in dist.entry_points}
    assert points[("console_scripts", "switchboard")] == "core.cli:main"
    assert points[("switchboard", "dhis2")] == "plugins.dhis2"
    assert core.distribution.version() == dist.version == core.__version__


def test_plugin_api_version_is_public() -> None:
    assert core.PLUGIN_API_VERSION == hookspecs.PLUGIN_API_VERSION
    assert "PLUGIN_API_VERSION" in core.__all__


def test_a_plugin_requiring_another_api_is_refused_naming_it_its_requirement_and_the_running_version(
    tmp_path: Path,
) -> None:
    with pytest.raises(PluginError) as err:
        PluginRegistry(make_settings(tmp_path), [("acme", plugin_module("acme_switchboard", ">=2.0,<3"))])
    message = str(err.value)
    assert "\n" not in message
    assert "plugin acme (acme_switchboard (in-process))" in message
    assert "requires plugin API >=2.0,<3" in message
    assert f"switchboard-gateway {core.__version__}" in message and f"provides {core.PLUGIN_API_VERSION}" in message


def test_a_plugin_whose_requirement_fits_is_loaded_and_marked_compatible(tmp_path: Path) -> None:
    registry = PluginRegistry(make_settings(tmp_path), [("acme", plugin_module("acme", ">=1.0,<2"))])
    info = registry.infos["acme"]
    assert info.enabled and info.api == ">=1.0,<2" and info.api_status == "compatible"


def test_a_plugin_without_a_requirement_is_loaded_as_not_declared(tmp_path: Path) -> None:
    registry = PluginRegistry(make_settings(tmp_path), [("acme", plugin_module("acme", None))])
    assert registry.infos["acme"].api_status == "not declared"


def test_a_requirement_that_is_not_a_specifier_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match=r"SWITCHBOARD_API = 'version one' is not a version specifier"):
        PluginRegistry(make_settings(tmp_path), [("acme", plugin_module("acme", "version one"))])


def test_plugins_command_lists_a_refused_plugin_with_its_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "future_plugin.py").write_text('SWITCHBOARD_API = ">=9"\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    future = importlib.metadata.EntryPoint(name="future", value="future_plugin", group="switchboard")
    real = importlib.metadata.entry_points

    def with_future(**kwargs: Any) -> Any:
        found = list(real(**kwargs))
        return [*found, future] if kwargs.get("group") == "switchboard" else found

    monkeypatch.setattr("core.plugins.entry_points", with_future)
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "p.db"}"\n')
    from core.cli import main

    assert main(["plugins", "--config", str(config)]) == 2
    out, err = capsys.readouterr()
    assert "plugin future (future_plugin unknown) refused: requires plugin API >=9" in err
    api = core.PLUGIN_API_VERSION
    assert f"future unknown (disabled) — future_plugin\n    plugin API: >=9 (incompatible with plugin API {api})" in out
    sys.modules.pop("future_plugin", None)


def test_a_misspelt_hook_is_refused_with_the_hook_it_meant(tmp_path: Path) -> None:
    class Typo:
        @core.hookimpl
        def switchboard_destination(self) -> list[object]:
            return []

    with pytest.raises(PluginError) as err:
        PluginRegistry(make_settings(tmp_path), [("typo", Typo())])
    assert "plugin 'typo'" in str(err.value) and "switchboard_destination" in str(err.value)
    assert "did you mean 'switchboard_destinations'?" in str(err.value)


def test_a_hook_with_an_argument_the_specification_lacks_is_refused(tmp_path: Path) -> None:
    class WrongArguments:
        @core.hookimpl
        def switchboard_routes(self, app: object) -> list[object]:
            return []

    with pytest.raises(PluginError) as err:
        PluginRegistry(make_settings(tmp_path), [("wrong", WrongArguments())])
    assert "plugin wrong" in str(err.value) and "cannot be registered" in str(err.value)
    assert "switchboard_routes" in str(err.value) and "'app'" in str(err.value)


def _fields(cls: type) -> list[list[Any]]:
    return [
        [f.name, str(f.type), f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        for f in dataclasses.fields(cls)
    ]


def _methods(cls: type) -> dict[str, str]:
    return {
        name: str(inspect.signature(member))
        for name, member in sorted(vars(cls).items())
        if callable(member) and not name.startswith("_")
    }


def _signatures() -> dict[str, str]:
    """The signature of every public function (``core.__all__``), as its source spells it."""
    out = {}
    for name in sorted(core.__all__):
        value = getattr(core, name)
        if inspect.isfunction(value):
            out[name] = str(inspect.signature(value))
    return out


def _gateway_members() -> dict[str, str]:
    """The Gateway's public members: methods with their signatures, properties, and the attributes
    its constructor sets (``db``, ``audit``, ``destinations``…) with their annotations."""
    members: dict[str, str] = {"__init__": str(inspect.signature(Gateway.__init__))}
    for name, member in sorted(vars(Gateway).items()):
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            members[name] = "property"
        elif callable(member):
            members[name] = ("async " if inspect.iscoroutinefunction(member) else "") + str(inspect.signature(member))
    init = ast.parse(textwrap.dedent(inspect.getsource(Gateway.__init__)))
    for node in ast.walk(init):
        target = node.target if isinstance(node, ast.AnnAssign) else None
        targets = [target] if target is not None else node.targets if isinstance(node, ast.Assign) else []
        for each in targets:
            if isinstance(each, ast.Attribute) and isinstance(each.value, ast.Name) and each.value.id == "self":
                if not each.attr.startswith("_") and each.attr not in members:
                    annotation = ast.unparse(node.annotation) if isinstance(node, ast.AnnAssign) else ""
                    members[each.attr] = f"attribute {annotation}".strip()
    return dict(sorted(members.items()))


def public_api() -> dict[str, Any]:
    """What plugins are written against, as data: any change shows in the snapshot's diff."""
    hooks = {}
    for name, spec in sorted(vars(hookspecs).items()):
        options = getattr(spec, f"{hookspecs.PROJECT}_spec", None)
        if name.startswith("switchboard_") and options is not None:
            hooks[name] = {
                "arguments": list(inspect.signature(spec).parameters),
                **{k: v for k, v in sorted(options.items()) if v},
            }
    return {
        "plugin_api_version": core.PLUGIN_API_VERSION,
        "exports": sorted(core.__all__),
        "hooks": hooks,
        "fields": {
            cls.__name__: _fields(cls) for cls in (StandardMessage, DeliveryResult, DeliveryInfo, CronJob, Command)
        },
        "methods": {cls.__name__: _methods(cls) for cls in (Adapter, Destination)},
        "signatures": _signatures(),
        "gateway": _gateway_members(),
    }


def test_public_api_matches_the_snapshot() -> None:
    current = public_api()
    if os.environ.get("SWITCHBOARD_UPDATE_API_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(current, indent=2) + "\n")
    pinned = json.loads(SNAPSHOT.read_text())
    assert current == pinned, (
        "the public plugin API changed: if that is deliberate, run with SWITCHBOARD_UPDATE_API_SNAPSHOT=1, "
        "review tests/public_api.json's diff and follow docs/plugins.md's compatibility policy"
    )


def test_every_public_name_resolves() -> None:
    for name in core.__all__:
        assert getattr(core, name) is not None


def test_every_public_name_is_typed_exported_and_resolvable_from_one_listing() -> None:
    """What type checkers see (core's ``TYPE_CHECKING`` imports) is what ``__all__`` and ``__getattr__`` serve."""
    import ast

    tree = ast.parse(Path(core.__file__).read_text(encoding="utf-8"))
    typed = {
        alias.asname or alias.name: node.module
        for block in tree.body
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert sorted(typed) == sorted(core.__all__)
    for name, module in typed.items():
        home = importlib.import_module(module)
        expected = getattr(home, name) if hasattr(home, name) else importlib.import_module(f"{module}.{name}")
        assert getattr(core, name) is expected, name


def test_path_uuid_reads_an_id_from_the_path_and_a_malformed_one_is_not_found() -> None:
    import uuid

    from starlette.requests import Request

    def request(value: str) -> Request:
        return Request({"type": "http", "method": "GET", "path": "/", "headers": [], "path_params": {"report_id": value}})

    wanted = uuid.uuid4()
    assert core.path_uuid(request(str(wanted)), "report_id", "report") == wanted
    with pytest.raises(core.NotFound, match="no such report") as caught:
        core.path_uuid(request("../etc"), "report_id", "report")
    assert caught.value.status_code == 404
