"""``log_format = "json"``: what a log pipeline filters on is a field of its own, not text in ``message``."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.config.logging import configure_logging
from core.testing import settle
from tests.support.echo import item, post_echo
from tests.support.receiver import Receiver, running_receiver

REQUEST_ID = "json-log-test-0001"
_TOUCHED = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "arq", "arq.worker", "arq.jobs", "httpx", "httpcore")


@pytest.fixture
def json_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Logging configured as ``switchboard serve`` does with log_format = "json"; the lines written, parsed."""
    saved = {name: (logging.getLogger(name).handlers[:], logging.getLogger(name).level) for name in _TOUCHED}
    configure_logging("json", "info")
    written = io.StringIO()
    [handler] = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(written)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in written.getvalue().splitlines()]

    yield lines
    for name, (handlers, level) in saved.items():
        logging.getLogger(name).handlers[:] = handlers
        logging.getLogger(name).setLevel(level)


@pytest.fixture
async def receiver() -> Any:
    async with running_receiver() as r:
        yield r


async def test_the_access_line_carries_method_path_status_and_request_id_as_fields(
    app_client: Callable[..., Any], json_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    async with app_client(server={"access_log": True}) as client:
        assert (await client.get("/api/messages?token=x", headers={"X-Request-ID": REQUEST_ID})).status_code == 401
    [line] = [line for line in json_lines() if line["logger"] == "switchboard.access"]
    assert (line["method"], line["path"], line["status"], line["request_id"]) == (
        "GET",
        "/api/messages",
        401,
        REQUEST_ID,
    )
    assert line["duration_ms"] >= 0 and "token" not in json.dumps(line)


async def test_a_failed_attempt_carries_delivery_id_destination_and_attempt_as_fields(
    example_installed: None,
    app_client: Callable[..., Any],
    receiver: Receiver,
    json_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    receiver.fail_with(400)
    async with app_client(
        routes=[{"source": "echo", "destinations": ["crm"]}],
        plugins={"http": {"destinations": {"crm": {"url": receiver.url}}}},
    ) as client:
        [delivery_id] = (await post_echo(client, item("jl1")))["messages"][0]["deliveries"]
        assert await settle(client.gateway) == {"dead": 1}
    [line] = [line for line in json_lines() if line["logger"] == "switchboard.delivery"]
    assert (line["delivery_id"], line["destination"], line["attempt"]) == (delivery_id, "crm", 1)
    assert line["level"] == "warning" and line["outcome"] == "dead" and line["retry_at"] is None


def test_the_not_migrated_line_is_json(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    json_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    import uvicorn

    from core import cli

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    for key in [k for k in os.environ if k.startswith("SWITCHBOARD_")]:
        monkeypatch.delenv(key)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "new.db"}"\nauto_migrate = false\n'
        f'[server]\ndata_dir = "{tmp_path / "data"}"\nlog_format = "json"\n'
    )
    assert cli.main(["serve", "--config", str(config)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]  # serve configured its own logging
    [line] = [line for line in lines if "not migrated" in line["message"]]
    assert line["level"] == "error" and "switchboard db upgrade" in line["message"]


@pytest.mark.parametrize(("level", "quiet"), [("info", True), ("debug", False)])
def test_arq_job_lines_are_quiet_unless_debugging(
    level: str, quiet: bool, json_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    configure_logging("json", level)
    for name in ("arq.worker", "arq.jobs"):
        assert logging.getLogger(name).isEnabledFor(logging.INFO) is not quiet
        assert logging.getLogger(name).isEnabledFor(logging.WARNING)
