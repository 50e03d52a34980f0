"""``Adapter.respond`` sees what was stored (duplicates included); an override without ``stored`` still works."""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from core import Adapter, StandardMessage, Stored, hookimpl


class _TallyParse(Adapter):
    async def authenticate(self, request: Request, body: bytes) -> None:
        return None

    async def parse(self, request: Request, body: bytes) -> list[StandardMessage]:
        return [
            StandardMessage(platform=self.name, external_id=i, kind="text", sender="+255700") for i in json.loads(body)
        ]


class TallyAdapter(_TallyParse):
    """Answers its platform in its own words: the ids stored and how many were retries."""

    name = "tally"

    def respond(self, messages: list[StandardMessage], *, stored: Sequence[Stored] = ()) -> Response | None:
        ids = ",".join(str(s.message_id) for s in stored)
        return PlainTextResponse(f"ids={ids} duplicates={sum(s.duplicate for s in stored)}")


class OldStyleAdapter(_TallyParse):
    """A plugin written against 1.1: ``respond(self, messages)``."""

    name = "oldstyle"

    def respond(self, messages):  # type: ignore[no-untyped-def,override]
        return PlainTextResponse(f"got {len(messages)}")


class TallyPlugin:
    @hookimpl
    def switchboard_adapters(self) -> list[Adapter]:
        return [TallyAdapter(), OldStyleAdapter()]


async def test_respond_is_given_the_stored_ids_and_the_duplicates(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(extra_plugins=[("tally", TallyPlugin())]) as client:
        first = await client.post("/webhooks/tally", content=b'["a", "b"]')
        assert first.status_code == 200
        ids = first.text.split(" ")[0].removeprefix("ids=").split(",")
        assert len(set(ids)) == 2 and first.text.endswith(" duplicates=0")
        again = await client.post("/webhooks/tally", content=b'["b", "c"]')
        assert again.status_code == 200
        retried = again.text.split(" ")[0].removeprefix("ids=").split(",")
        assert retried[0] == ids[1] and retried[1] not in ids and again.text.endswith(" duplicates=1")


async def test_a_respond_override_without_stored_still_answers(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(extra_plugins=[("tally", TallyPlugin())]) as client:
        r = await client.post("/webhooks/oldstyle", content=b'["x", "y"]')
        assert r.status_code == 200 and r.text == "got 2"
