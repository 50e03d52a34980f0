"""Conversations become CEEMIS cases by configuration: ``[[routes]] whatsapp → ceemis`` and a case template."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigError
from core.testing import make_settings
from core.web.app import create_app
from tests.ceemis.cases import case_status
from tests.ceemis.conftest import ceemis_config
from tests.ceemis.fake_ceemis import FakeCEEMIS
from tests.fakes.graph_api import FakeGraph, running_graph
from tests.support.dhis2 import settled
from tests.test_cli import run
from tests.whatsapp.conftest import whatsapp_settings
from tests.whatsapp.support import WA_ID, first_item, payload, post_webhook

ROUTES = [{"source": "whatsapp", "destinations": ["ceemis"], "kinds": ["text"]}]
CONVERSATIONS = {"whatsapp": {"case_category": "Labour exploitation", "status": "in_progress"}}


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with running_graph() as fake:
        yield fake


@pytest.fixture
def helpline_app(app_client: Callable[..., Any], ceemis: FakeCEEMIS, graph: FakeGraph) -> Callable[..., Any]:
    """WhatsApp (on a fake Graph API) routed to the fake CEEMIS, by configuration only."""

    def open_app(**ceemis_table: Any) -> Any:
        return app_client(
            plugins={"whatsapp": whatsapp_settings(graph), "ceemis": ceemis_config(ceemis, **ceemis_table)},
            routes=ROUTES,
            delivery={"backoff_base": 0.1, "jitter": 0, "breaker": {"failures": 0}},
        )

    return open_app


async def test_a_conversation_becomes_a_case_and_its_later_messages_update_it_in_order(helpline_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    async with helpline_app(conversations=CONVERSATIONS) as client:
        # One webhook: two messages of Kerry's, one of Neema's, then (another entry) one of Amina's.
        answer = await post_webhook(client, payload("batch"))
        assert answer.status_code == 200, answer.text
        assert await settled(client.gateway) == {"delivered": 4}
        later = payload("text")
        first_item(later)["text"]["body"] = "My employer took my passport."
        await post_webhook(client, later)
        assert await settled(client.gateway) == {"delivered": 5}

    creates = ceemis.answered("create")
    assert sorted((r.form["mw_phone"], r.form["mw_name"], r.form["mw_narative"]) for r in creates) == [
        (WA_ID, "Kerry Fisher", "first"),
        ("254711222333", "Amina", "third"),
        ("255712345678", "Neema Mushi", "Habari, naomba msaada"),
    ]
    assert all(r.form["comp_category"] == "Labour exploitation" for r in creates)
    [kerry_case] = [case_id for case_id, form in ceemis.cases.items() if form["mw_phone"] == WA_ID]
    assert [(u["caseid"], u["status"], u["mw_narative"], u["comp_category"]) for u in ceemis.updates] == [
        (kerry_case, "in_progress", "second", "Labour exploitation"),
        (kerry_case, "in_progress", "My employer took my passport.", "Labour exploitation"),
    ]
    sent = [r.kind for r in ceemis.answered() if r.form.get("mw_phone", WA_ID) == WA_ID]
    assert sent == ["create", "update", "update"]


async def test_the_case_of_a_conversation_is_reported_by_its_ceemis_id(helpline_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    async with helpline_app(conversations=CONVERSATIONS) as client:
        await post_webhook(client, payload("batch"))
        assert await settled(client.gateway) == {"delivered": 4}
        [kerry_case] = [case_id for case_id, form in ceemis.cases.items() if form["mw_phone"] == WA_ID]
        report = await case_status(client, kerry_case)
        assert report["state"] == "delivered" and report["src"] == "whatsapp" and report["ceemis_id"] == kerry_case
        assert [u["state"] for u in report["updates"]] == ["delivered"]


CEEMIS = {"create_url": "https://ceemis.example.org/api/cases/create"}


def test_start_up_refuses_a_route_to_ceemis_from_a_platform_without_a_case_template(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, routes=ROUTES, plugins={"ceemis": CEEMIS})
    with pytest.raises(
        ConfigError, match=r"\[\[routes\]\] #1 .*the destination 'ceemis' cannot take 'text' messages of 'whatsapp'"
    ):
        create_app(settings)


def test_start_up_refuses_a_route_with_kinds_the_case_template_leaves_out(tmp_path: Path) -> None:
    conversations = {"whatsapp": {"case_category": "Abuse", "kinds": ["text", "image"]}}
    plugins = {"ceemis": {**CEEMIS, "conversations": conversations}}
    routes = [{"source": "whatsapp", "destinations": ["ceemis"], "kinds": ["text", "audio"]}]
    with pytest.raises(ConfigError, match="cannot take 'audio' messages of 'whatsapp'"):
        create_app(make_settings(tmp_path, routes=routes, plugins=plugins))
    # A route without kinds would send delivery statuses too, which are no part of a case.
    routes = [{"source": "whatsapp", "destinations": ["ceemis"]}]
    with pytest.raises(
        ConfigError, match=r"cannot take every message of 'whatsapp': give the route kinds \(it takes image, text\)"
    ):
        create_app(make_settings(tmp_path, routes=routes, plugins=plugins))


def test_config_check_names_the_route_a_destination_cannot_take_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        f'[server]\ndata_dir = "{tmp_path / "data"}"\n'
        '[plugins.ceemis]\ncreate_url = "https://ceemis.example.org/api/cases/create"\n'
        '[[routes]]\nsource = "ceemis"\ndestinations = ["ceemis"]\n'
    )
    result = run("config", "check", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "[[routes]] #1" in line and "the destination 'ceemis' cannot take messages of 'ceemis'" in line
