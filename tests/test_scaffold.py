"""``switchboard new-plugin``: a package that installs, passes its own tests, and serves webhooks."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx
import pytest

from core.scaffold import ScaffoldError, new_plugin
from core.testing import running_receiver
from tests.support.processes import write_config
from tests.support.serving import free_port


def test_a_name_that_is_not_an_identifier_is_refused(tmp_path: Path) -> None:
    for bad in ("9lives", "acme-crm", "Acme", "class", ""):
        with pytest.raises(ScaffoldError, match="not a plugin name"):
            new_plugin(bad, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_not_overwritten(tmp_path: Path) -> None:
    folder = new_plugin("acme", tmp_path)
    (folder / "pyproject.toml").write_text("# mine\n")
    with pytest.raises(ScaffoldError, match="already exists"):
        new_plugin("acme", tmp_path)
    assert (folder / "pyproject.toml").read_text() == "# mine\n"


def test_the_new_plugin_depends_on_the_gateways_own_distribution(tmp_path: Path) -> None:
    import tomllib

    folder = new_plugin("acme", tmp_path)
    project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    # Not "switchboard": on the package index that is an unrelated project.
    assert project["dependencies"] == ["switchboard-gateway"]
    assert project["entry-points"]["switchboard"] == {"acme": "switchboard_acme"}


def test_the_command_needs_no_configuration_or_database(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "core.cli", "new-plugin", "acme", "--dir", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "SWITCHBOARD_DATABASE__URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"},
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "switchboard-acme" / "switchboard_acme" / "adapter.py").exists()
    assert not list(tmp_path.glob("*.db"))


def fresh_environment(where: Path) -> Path:
    """A new virtual environment that sees this gateway's installed packages (not a copy of them)."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    python = where / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    # addsitedir, not a bare path: the gateway's own editable install is itself a .pth there.
    (Path(purelib) / "switchboard-gateway.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return python


async def test_a_new_plugin_passes_its_tests_and_serves_a_webhook_end_to_end(tmp_path: Path) -> None:
    folder = new_plugin("acme_crm", tmp_path)
    python = fresh_environment(tmp_path / "venv")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(folder)], capture_output=True, text=True
    )
    assert install.returncode == 0, install.stderr
    tests = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=folder, capture_output=True, text=True
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "5 passed" in tests.stdout

    async with running_receiver() as receiver:
        port = free_port()
        config = write_config(
            tmp_path / "config.toml",
            {
                "server": {"data_dir": str(tmp_path / "data"), "port": port, "log_level": "warning"},
                "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"},
                "auth": {"secret_key": "scaffold-secret-key-0123456789-abcdefghijkl"},
                "routes": [{"source": "acme_crm", "destinations": ["acme_crm"]}],
                "plugins": {"acme_crm": {"secret": "e2e-secret-123", "url": receiver.url}},
            },
        )
        log = (tmp_path / "serve.log").open("w")
        server = subprocess.Popen(
            [str(python), "-m", "core.cli", "serve", "--config", str(config)],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            body = json.dumps([{"id": "e2e-1", "from": "+255700000009", "text": "end to end"}]).encode()
            signature = "sha256=" + hmac.new(b"e2e-secret-123", body, hashlib.sha256).hexdigest()
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                for _ in range(300):
                    try:
                        if (await http.get("/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert server.poll() is None, (tmp_path / "serve.log").read_text()
                    await asyncio.sleep(0.1)
                r = await http.post(
                    "/webhooks/acme_crm",
                    content=body,
                    headers={"x-acme-crm-signature": signature, "content-type": "application/json"},
                )
                assert r.status_code == 200, r.text
            for _ in range(300):
                if receiver.accepted():
                    break
                await asyncio.sleep(0.1)
            assert [r.json()["external_id"] for r in receiver.accepted()] == ["e2e-1"]
        finally:
            server.terminate()
            server.wait(timeout=20)
            log.close()
