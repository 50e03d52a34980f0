"""A list's dates are days in UTC, "Until" included: From = Until = today finds today's rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.testing import GatewayClient
from tests.console.conftest import log_in
from tests.support.echo import item, post_echo


@pytest.mark.parametrize("path", ["/admin/messages", "/admin/deliveries", "/admin/logs"])
async def test_from_and_until_the_same_day_find_that_days_rows_and_show_that_day(gw: GatewayClient, path: str) -> None:
    await post_echo(gw, item("today-1", text="sent today"))
    await log_in(gw, "operator")
    today = datetime.now(UTC).date().isoformat()
    page = await gw.get(path, params={"since": today, "until": today})
    assert page.status_code == 200
    assert "empty" not in page.text.split('id="results"')[1].split("</tbody>")[0]
    assert f'name="until" value="{today}"' in page.text and f'name="since" value="{today}"' in page.text
    assert "Until (UTC, included)" in page.text and "From (UTC)" in page.text


async def test_until_yesterday_leaves_out_todays_rows(gw: GatewayClient) -> None:
    await post_echo(gw, item("today-1", text="sent today"))
    await log_in(gw, "viewer")
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    page = await gw.get("/admin/messages", params={"until": yesterday})
    assert "sent today" not in page.text and f'name="until" value="{yesterday}"' in page.text
