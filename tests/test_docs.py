"""docs/plugins.md documents the whole plugin contract: every public name and every hook.

Like Datasette's test_docs.py: a name added to ``core.__all__``, a hook added to
core/hookspecs.py or a Gateway member plugins are told to use, without its line in the
documentation, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import core
from core import hookspecs
from core.gateway import Gateway

DOC = (Path(__file__).resolve().parent.parent / "docs" / "plugins.md").read_text()
HOOKS = sorted(n for n, f in vars(hookspecs).items() if n.startswith("switchboard_") and callable(f))
# The members of the gateway a plugin may use, as docs/plugins.md's "The gateway object" lists them.
GATEWAY_MEMBERS = [
    "settings", "plugin_config", "db", "http", "http_session", "submit", "queue", "destinations", "adapters",
    "audit", "mail", "cron_jobs", "jobs",
]


def documented(name: str) -> bool:
    """``name`` appears as code: `name`, `name(…)`, `name.attr`, `core.name` …"""
    return re.search(rf"`(core\.)?{re.escape(name)}[`(.\[ =]", DOC) is not None


@pytest.mark.parametrize("name", sorted(core.__all__))
def test_every_public_name_is_documented(name: str) -> None:
    assert documented(name), f"core.{name} is public but docs/plugins.md does not document it"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented(hook: str) -> None:
    assert f"`{hook}(" in DOC, f"the hook {hook} is missing from docs/plugins.md's hook table"


@pytest.mark.parametrize("member", GATEWAY_MEMBERS)
def test_the_gateway_members_plugins_use_are_documented(member: str) -> None:
    assert hasattr(Gateway, member) or member in Gateway.__init__.__code__.co_names
    assert f"`gateway.{member}" in DOC, f"gateway.{member} is missing from docs/plugins.md"


def test_the_contract_details_integrators_asked_for_are_documented() -> None:
    for needle in (
        "run_at_startup",  # CronJob's fields
        "must divide a minute, an hour or a day",
        "`Command(name, help, run",
        "`tags=",  # describe
        "`@requires(public=True)`",
        "`raise_for_response(response, what=",
        "Testing one:",  # a cron job
        "## State across processes",
        "`[queue] worker_jobs`",
        "switchboard.commands",
    ):
        assert needle in DOC, needle


def test_the_check_sees_a_missing_name() -> None:
    assert documented("read_json") and not documented("no_such_public_name")
