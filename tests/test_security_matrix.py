"""The role × route matrix: every route of a fully built app, called by every kind of caller.

The expected outcome of each route is written out below by hand, not derived from the
routes' own ``requires`` markers, so a wrong marker fails here. A route missing from the
table fails too: whoever adds a route adds its row, and so decides who may call it.

Outcomes: ``ok`` (the guard let the call through: the endpoint answered, whatever it
answered to an empty request), ``401`` (no credentials) or ``403`` (not allowed).
Callers: anonymous, a viewer, an operator, an admin, an API key holding every scope
(``*``: keys reach only the routes that name a scope), and an admin whose password was
reset (only the routes to change it are open until they do).

The console under ``/admin`` answers a browser, not an API client: without a session a page is
redirected to the login page and a user who must change their password to that screen (both
``ok`` here: a 303, nothing ran); an API key is refused (403), and a POST to the login form
without its CSRF token is refused (403).

``Authorization: Basic`` is honoured only on the routes listed in ``BASIC_ROUTES`` (dhis2gw's);
elsewhere an admin's Basic credentials get what an anonymous caller gets.
reset (only the routes to change it are open until they do). A report download is public to
the guard, and its link's signature is the authentication: unsigned, every caller gets 403.

CFCBE's webhook URLs (``core.webhook_route``) are public to the guard like ``/webhooks/{platform}``:
their row is what the adapter answers (WhatsApp's handshake refuses a GET without Meta's
parameters; a case adapter wants a key holding ``webhooks:<platform>``, ``*`` included: no
user's token, whatever the role).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from core.auth.users import update_user
from core.testing import api_key_headers, user_headers
from core.web.security import walk_routes

CALLERS = ("anonymous", "viewer", "operator", "admin", "api_key", "must_change")

MATRIX = """
method  path                                 anonymous viewer operator admin api_key must_change
GET     /healthz                             ok        ok     ok       ok    ok      ok
GET     /readyz                              ok        ok     ok       ok    ok      ok
GET     /metrics                             403       403    403      403   403     403
GET     /openapi.json                        ok        ok     ok       ok    ok      ok
GET     /docs                                ok        ok     ok       ok    ok      ok
GET     /docs/static/init.js                 ok        ok     ok       ok    ok      ok
GET     /docs/static/{path}                  ok        ok     ok       ok    ok      ok
GET     /webhooks/{platform}                 ok        ok     ok       ok    ok      ok
POST    /webhooks/{platform}                 ok        ok     ok       ok    ok      ok
OPTIONS /webhooks/{platform}                 ok        ok     ok       ok    ok      ok

POST    /api/auth/token                      ok        ok     ok       ok    ok      ok
POST    /api/auth/refresh                    ok        ok     ok       ok    ok      ok
POST    /api/auth/signup                     ok        ok     ok       ok    ok      ok
POST    /api/auth/logout                     401       ok     ok       ok    403     ok
GET     /api/auth/me                         401       ok     ok       ok    403     ok
POST    /api/auth/password                   401       ok     ok       ok    403     ok

GET     /api/users                           401       403    403      ok    403     403
POST    /api/users                           401       403    403      ok    403     403
GET     /api/users/{user_id}                 401       403    403      ok    403     403
PUT     /api/users/{user_id}                 401       403    403      ok    403     403
DELETE  /api/users/{user_id}                 401       403    403      ok    403     403
POST    /api/users/{user_id}/approve         401       403    403      ok    403     403
POST    /api/users/{user_id}/reject          401       403    403      ok    403     403

GET     /api/api-keys                        401       403    403      ok    403     403
POST    /api/api-keys                        401       403    403      ok    403     403
GET     /api/api-keys/{key_id}               401       403    403      ok    403     403
DELETE  /api/api-keys/{key_id}               401       403    403      ok    403     403
POST    /api/api-keys/{key_id}/rotate        401       403    403      ok    403     403

GET     /api/messages                        401       ok     ok       ok    ok      403
GET     /api/messages/{id}                   401       ok     ok       ok    ok      403
GET     /api/conversations                   401       ok     ok       ok    ok      403
GET     /api/conversations/{id}              401       ok     ok       ok    ok      403
POST    /api/conversations/{id}/messages     401       403    ok       ok    ok      403
GET     /api/deliveries                      401       ok     ok       ok    ok      403
GET     /api/deliveries/{id}                 401       ok     ok       ok    ok      403
POST    /api/deliveries/{id}/requeue         401       403    ok       ok    ok      403
POST    /api/deliveries/{id}/cancel          401       403    ok       ok    ok      403
DELETE  /api/deliveries/{id}                 401       403    ok       ok    ok      403
POST    /api/deliveries/requeue              401       403    ok       ok    ok      403
POST    /api/deliveries/purge                401       403    ok       ok    ok      403
GET     /api/destinations                    401       ok     ok       ok    ok      403
POST    /api/destinations/{name}/pause       401       403    ok       ok    ok      403
POST    /api/destinations/{name}/resume      401       403    ok       ok    ok      403
GET     /api/logs                            401       403    ok       ok    ok      403
GET     /api/logs/{id:int}                   401       403    ok       ok    ok      403
GET     /api/jobs                            401       ok     ok       ok    ok      403
POST    /api/jobs/{name}/run                 401       403    ok       ok    ok      403
POST    /api/jobs/{name}/disable             401       403    403      ok    ok      403
POST    /api/jobs/{name}/enable              401       403    403      ok    ok      403
POST    /api/privacy/erasures                401       403    403      ok    ok      403
POST    /api/privacy/exports                 401       403    403      ok    ok      403
GET     /api/privacy/exports/{export_id}     401       403    403      ok    ok      403
GET     /api/privacy/exports/{export_id}/download 403  403    403      403   403     403
GET     /api/metrics/summary                 401       ok        ok        ok        ok        403

GET     /plugins/example/hello               401       ok     ok       ok    403     403
GET     /plugins/whatsapp/messages/{message_id} 401    ok     ok       ok    ok      403
GET     /plugins/whatsapp/messages/{message_id}/media/{media_id} 401 ok ok ok ok  403
GET     /plugins/whatsapp/contacts/{wa_id}   401       ok     ok       ok    ok      403
PUT     /plugins/whatsapp/contacts/{wa_id}   401       403    ok       ok    ok      403

POST    /plugins/dhis2/aggregate                         401       403    ok       ok    ok      403
POST    /plugins/dhis2/tracker                           401       403    ok       ok    ok      403
POST    /plugins/dhis2/mappings/import                   401       403    ok       ok    ok      403
GET     /plugins/dhis2/mappings                          401       ok     ok       ok    ok      403
GET     /plugins/dhis2/mappings/template.xlsx            401       ok     ok       ok    ok      403
GET     /plugins/dhis2/mappings/export.xlsx              401       ok     ok       ok    ok      403
GET     /plugins/dhis2/mappings/export.csv               401       ok     ok       ok    ok      403
GET     /plugins/dhis2/mappings/{mapping_id:int}         401       ok     ok       ok    ok      403
DELETE  /plugins/dhis2/mappings/{mapping_id:int}         401       403    ok       ok    ok      403
POST    /plugins/dhis2/orgunit-mappings/import           401       403    ok       ok    ok      403
GET     /plugins/dhis2/orgunit-mappings                  401       ok     ok       ok    ok      403
GET     /plugins/dhis2/orgunit-mappings/template.xlsx    401       ok     ok       ok    ok      403
GET     /plugins/dhis2/orgunit-mappings/export.xlsx      401       ok     ok       ok    ok      403
GET     /plugins/dhis2/orgunit-mappings/export.csv       401       ok     ok       ok    ok      403
GET     /plugins/dhis2/orgunit-mappings/{mapping_id:int} 401       ok     ok       ok    ok      403
DELETE  /plugins/dhis2/orgunit-mappings/{mapping_id:int} 401       403    ok       ok    ok      403

GET     /plugins/ceemis/cases/{reference}    401       ok     ok       ok    ok      403
GET     /plugins/devices/devices             401       ok     ok       ok    ok      403
POST    /plugins/devices/devices             401       403    ok       ok    ok      403
GET     /plugins/devices/devices/{device_id} 401       ok     ok       ok    ok      403
PATCH   /plugins/devices/devices/{device_id} 401       403    ok       ok    ok      403
DELETE  /plugins/devices/devices/{device_id} 401       403    403      ok    ok      403
POST    /plugins/devices/devices/{device_id}/deactivate 401 403 ok     ok    ok      403
POST    /plugins/devices/devices/{device_id}/reactivate 401 403 ok     ok    ok      403
POST    /plugins/devices/devices/{device_id}/rotate-key 401 403 ok     ok    ok      403
POST    /plugins/devices/heartbeat           401       403    403      403   403     403
POST    /webhooks/devices/heartbeat          401       403    403      403   403     403
GET     /plugins/devices/readings            401       ok     ok       ok    ok      403
GET     /plugins/devices/subjects/{subject}/summary 401 ok    ok       ok    ok      403
GET     /plugins/devices/alerts              401       ok     ok       ok    ok      403
POST    /plugins/devices/alerts/{alert_id}/acknowledge 401 403 ok      ok    ok      403
GET     /plugins/devices/rules               401       ok     ok       ok    ok      403
POST    /plugins/devices/rules               401       403    403      ok    ok      403
PUT     /plugins/devices/rules/{name}        401       403    403      ok    ok      403
DELETE  /plugins/devices/rules/{name}        401       403    403      ok    ok      403
POST    /api/v2/aggregate                                401       403    ok       ok    ok      403
POST    /api/v2/aggregate/reenqueue/batch                401       403    ok       ok    ok      403
GET     /api/v2/aggregate/reenqueue/{task_id}            401       403    ok       ok    ok      403
POST    /api/v2/aggregate/reenqueue/{task_id}            401       403    ok       ok    ok      403
GET     /api/v2/logs                                     401       ok     ok       ok    ok      403
DELETE  /api/v2/logs/purge                               401       403    ok       ok    ok      403
GET     /api/v2/logs/{id}                                401       ok     ok       ok    ok      403
DELETE  /api/v2/logs/{id}                                401       403    ok       ok    ok      403
GET     /api/v2/mappings                                 401       ok     ok       ok    ok      403
POST    /api/v2/mappings/import/csv                      401       403    ok       ok    ok      403
POST    /api/v2/mappings/import/excel                    401       403    ok       ok    ok      403
GET     /api/v2/mappings/export/excel                    401       ok     ok       ok    ok      403
GET     /api/v2/mappings/export/excel-template           ok        ok     ok       ok    ok      ok
GET     /mappings/export/excel-template                  ok        ok     ok       ok    ok      ok
POST    /api/v2/users/getToken                           401       403    ok       ok    403     403
POST    /api/v2/users/refreshToken                       401       403    ok       ok    403     403
POST    /api/v2/user                                     401       403    403      ok    ok      403
GET     /api/v2/users                                    401       403    403      ok    ok      403
GET     /api/v2/users/{uid}                              401       403    403      ok    ok      403
PUT     /api/v2/users/{uid}                              401       403    403      ok    ok      403
OPTIONS /api/v2/aggregate                                ok        ok     ok       ok    ok      ok
OPTIONS /api/v2/aggregate/reenqueue/batch                ok        ok     ok       ok    ok      ok
OPTIONS /api/v2/aggregate/reenqueue/{task_id}            ok        ok     ok       ok    ok      ok
OPTIONS /api/v2/logs                                     ok        ok     ok       ok    ok      ok
OPTIONS /api/v2/logs/purge                               ok        ok     ok       ok    ok      ok
OPTIONS /api/v2/logs/{id}                                ok        ok     ok       ok    ok      ok
OPTIONS /api/v2/mappings                                 ok        ok     ok       ok    ok      ok
OPTIONS /api/v2/mappings/import/csv                      ok        ok     ok       ok    ok      ok
OPTIONS /api/v2/mappings/import/excel                    ok        ok     ok       ok    ok      ok
OPTIONS /api/v2/mappings/export/excel                    ok        ok     ok       ok    ok      ok
OPTIONS /api/v2/mappings/export/excel-template           ok        ok     ok       ok    ok      ok
OPTIONS /api/v2/user                                     ok        ok     ok       ok    ok      ok
OPTIONS /api/v2/users                                    ok        ok     ok       ok    ok      ok
OPTIONS /api/v2/users/{uid}                              ok        ok     ok       ok    ok      ok
OPTIONS /api/v2/users/getToken                           ok        ok     ok       ok    ok      ok
OPTIONS /api/v2/users/refreshToken                       ok        ok     ok       ok    ok      ok
OPTIONS /mappings/export/excel-template                  ok        ok     ok       ok    ok      ok

GET     /api/webhook/whatsapp/                           403       403    403      403   403     403
POST    /api/webhook/whatsapp/                           401       401    401      401   401     401
GET     /api/webhook/whatsapp                            403       403    403      403   403     403
POST    /api/webhook/whatsapp                            401       401    401      401   401     401
POST    /api/webhook/helpline/case/ceemis/               401       403    403      403   ok      403
POST    /api/webhook/helpline/case/ceemis                401       403    403      403   ok      403
POST    /api/webhook/ceemis/create/                      401       403    403      403   ok      403
POST    /api/webhook/ceemis/create                       401       403    403      403   ok      403
POST    /api/webhook/eemis/                              401       403    403      403   ok      403
POST    /api/webhook/eemis                               401       403    403      403   ok      403
PUT     /api/webhook/helpline/case/ceemis/update/        401       403    403      403   ok      403
PUT     /api/webhook/helpline/case/ceemis/update         401       403    403      403   ok      403
GET     /api/case/status/{reference}/                    401       ok     ok       ok    ok      403
GET     /api/case/status/{reference}                     401       ok     ok       ok    ok      403
POST    /api/webhook/webform/auth/request-verification/  ok        ok     ok       ok    ok      ok
OPTIONS /api/webhook/webform/auth/request-verification/  ok        ok     ok       ok    ok      ok
POST    /api/webhook/webform/auth/request-verification   ok        ok     ok       ok    ok      ok
OPTIONS /api/webhook/webform/auth/request-verification   ok        ok     ok       ok    ok      ok
POST    /api/webhook/webform/auth/verify-otp/            ok        ok     ok       ok    ok      ok
OPTIONS /api/webhook/webform/auth/verify-otp/            ok        ok     ok       ok    ok      ok
POST    /api/webhook/webform/auth/verify-otp             ok        ok     ok       ok    ok      ok
OPTIONS /api/webhook/webform/auth/verify-otp             ok        ok     ok       ok    ok      ok
POST    /api/webhook/webform/                            401       401    401      401   401     401
OPTIONS /api/webhook/webform/                            ok        ok     ok       ok    ok      ok
POST    /api/webhook/webform                             401       401    401      401   401     401
OPTIONS /api/webhook/webform                             ok        ok     ok       ok    ok      ok
GET     /admin/                              ok        ok        ok        ok        403       ok
GET     /admin/login                         ok        ok        ok        ok        403       ok
POST    /admin/login                         403       403       403       403       403       ok
POST    /admin/logout                        ok        ok        ok        ok        403       ok
GET     /admin/password                      ok        ok        ok        ok        403       ok
POST    /admin/password                      ok        ok        ok        ok        403       ok
GET     /admin/deliveries                    ok        ok        ok        ok        403       ok
POST    /admin/deliveries/bulk               ok        403       ok        ok        403       ok
POST    /admin/deliveries/selected           ok        403       ok        ok        403       ok
GET     /admin/deliveries/{id}               ok        ok        ok        ok        403       ok
POST    /admin/deliveries/{id}/requeue       ok        403       ok        ok        403       ok
POST    /admin/deliveries/{id}/cancel        ok        403       ok        ok        403       ok
POST    /admin/deliveries/{id}/delete        ok        403       ok        ok        403       ok
GET     /admin/logs                          ok        403       ok        ok        403       ok
GET     /admin/logs/{id:int}                 ok        403       ok        ok        403       ok
GET     /admin/messages                      ok        ok        ok        ok        403       ok
GET     /admin/messages/{id}                 ok        ok        ok        ok        403       ok
GET     /admin/conversations                 ok        ok        ok        ok        403       ok
GET     /admin/conversations/{id}            ok        ok        ok        ok        403       ok
POST    /admin/conversations/{id}/reply      ok        403       ok        ok        403       ok
GET     /admin/plugins                       ok        ok        ok        ok        403       ok
GET     /admin/search                        ok        ok        ok        ok        403       ok
GET     /admin/destinations                  ok        ok        ok        ok        403       ok
POST    /admin/destinations/{name}/pause     ok        403       ok        ok        403       ok
POST    /admin/destinations/{name}/resume    ok        403       ok        ok        403       ok
POST    /admin/jobs/{name}/run               ok        403       ok        ok        403       ok
POST    /admin/jobs/{name}/disable           ok        403       403       ok        403       ok
POST    /admin/jobs/{name}/enable            ok        403       403       ok        403       ok
GET     /admin/users                         ok        403       403       ok        403       ok
POST    /admin/users                         ok        403       403       ok        403       ok
GET     /admin/users/{id}                    ok        403       403       ok        403       ok
POST    /admin/users/{id}                    ok        403       403       ok        403       ok
GET     /admin/keys                          ok        403       403       ok        403       ok
POST    /admin/keys                          ok        403       403       ok        403       ok
POST    /admin/keys/{id}/revoke              ok        403       403       ok        403       ok
POST    /admin/keys/{id}/rotate              ok        403       403       ok        403       ok
GET     /admin/privacy                       ok        403       403       ok        403       ok
POST    /admin/privacy/erase                 ok        403       403       ok        403       ok
POST    /admin/privacy/export                ok        403       403       ok        403       ok
GET     /admin/static/{path}                 ok        ok        ok        ok        403       ok

POST    /plugins/webform/auth/request-verification ok    ok     ok       ok    ok      ok
OPTIONS /plugins/webform/auth/request-verification ok    ok     ok       ok    ok      ok
POST    /plugins/webform/auth/verify-otp     ok        ok     ok       ok    ok      ok
OPTIONS /plugins/webform/auth/verify-otp     ok        ok     ok       ok    ok      ok
GET     /plugins/webform/organisations       401       403    403      ok    ok      403
POST    /plugins/webform/organisations       401       403    403      ok    ok      403
GET     /plugins/webform/organisations/{slug} 401      403    403      ok    ok      403
PUT     /plugins/webform/organisations/{slug} 401      403    403      ok    ok      403
DELETE  /plugins/webform/organisations/{slug} 401      403    403      ok    ok      403
GET     /plugins/reports/types               401       ok     ok       ok    ok      403
GET     /plugins/reports/reports             401       ok     ok       ok    ok      403
POST    /plugins/reports/reports             401       403    ok       ok    ok      403
GET     /plugins/reports/reports/{report_id} 401       ok     ok       ok    ok      403
DELETE  /plugins/reports/reports/{report_id} 401       403    ok       ok    ok      403
GET     /plugins/reports/download/{report_id} 403      403    403      403   403     403
GET     /plugins/reports/schedules           401       ok     ok       ok    ok      403
POST    /plugins/reports/schedules           401       403    403      ok    ok      403
GET     /plugins/reports/schedules/{name}    401       ok     ok       ok    ok      403
PATCH   /plugins/reports/schedules/{name}    401       403    403      ok    ok      403
DELETE  /plugins/reports/schedules/{name}    401       403    403      ok    ok      403
POST    /plugins/reports/schedules/{name}/run 401      403    ok       ok    ok      403
POST    /plugins/reports/schedules/{name}/disable 401  403    403      ok    ok      403
POST    /plugins/reports/schedules/{name}/enable 401   403    403      ok    ok      403
GET     /admin/ceemis/cases/                 ok        ok        ok        ok        403       ok
GET     /admin/webform/organisations/        ok        403       403       ok        403       ok
POST    /admin/webform/organisations/        ok        403       403       ok        403       ok
GET     /admin/webform/organisations/{slug}  ok        403       403       ok        403       ok
POST    /admin/webform/organisations/{slug}  ok        403       403       ok        403       ok
POST    /admin/webform/organisations/{slug}/delete ok  403       403       ok        403       ok
GET     /admin/dhis2/mappings/               ok        ok        ok        ok        403       ok
POST    /admin/dhis2/mappings/upload         ok        403       ok        ok        403       ok
GET     /admin/dhis2/mappings/template.xlsx  ok        ok        ok        ok        403       ok
GET     /admin/dhis2/mappings/export.csv     ok        ok        ok        ok        403       ok
GET     /admin/dhis2/mappings/export.xlsx    ok        ok        ok        ok        403       ok
GET     /admin/reports/                      ok        ok        ok        ok        403       ok
POST    /admin/reports/request               ok        403       ok        ok        403       ok
GET     /admin/reports/schedules/{name}      ok        ok        ok        ok        403       ok
POST    /admin/reports/schedules/{name}/run  ok        403       ok        ok        403       ok
POST    /admin/reports/schedules/{name}/enable ok      403       403       ok        403       ok
POST    /admin/reports/schedules/{name}/disable ok     403       403       ok        403       ok
POST    /admin/reports/schedules/{name}/delete ok      403       403       ok        403       ok
GET     /admin/reports/{report_id}           ok        ok        ok        ok        403       ok
POST    /admin/reports/{report_id}/delete    ok        403       ok        ok        403       ok
GET     /admin/devices/                      ok        ok        ok        ok        403       ok
POST    /admin/devices/register              ok        403       ok        ok        403       ok
GET     /admin/devices/alerts                ok        ok        ok        ok        403       ok
POST    /admin/devices/alerts/{alert_id}/acknowledge ok 403      ok        ok        403       ok
GET     /admin/devices/{device_id}           ok        ok        ok        ok        403       ok
POST    /admin/devices/{device_id}/deactivate ok       403       ok        ok        403       ok
POST    /admin/devices/{device_id}/rotate-key ok       403       ok        ok        403       ok
"""


# The only routes that accept ``Authorization: Basic`` (dhis2gw's clients send it): there an
# admin's Basic credentials get what the admin's token gets; everywhere else what anonymous gets
# (401, or the console's redirect to its login page), since no other route honours them.
BASIC_ROUTES = """
POST    /api/v2/aggregate
POST    /api/v2/aggregate/reenqueue/batch
GET     /api/v2/aggregate/reenqueue/{task_id}
POST    /api/v2/aggregate/reenqueue/{task_id}
GET     /api/v2/logs
DELETE  /api/v2/logs/purge
GET     /api/v2/logs/{id}
DELETE  /api/v2/logs/{id}
GET     /api/v2/mappings
POST    /api/v2/mappings/import/csv
POST    /api/v2/mappings/import/excel
GET     /api/v2/mappings/export/excel
POST    /api/v2/users/getToken
POST    /api/v2/users/refreshToken
POST    /api/v2/user
GET     /api/v2/users
GET     /api/v2/users/{uid}
PUT     /api/v2/users/{uid}
"""


def expected_table() -> dict[tuple[str, str], dict[str, str]]:
    lines = [line.split() for line in MATRIX.strip().splitlines() if line.strip()]
    header, rows = lines[0], lines[1:]
    assert tuple(header[2:]) == CALLERS
    table: dict[tuple[str, str], dict[str, str]] = {}
    for row in rows:
        assert len(row) == len(header), f"malformed matrix row: {row}"
        key = (row[0], row[1])
        assert key not in table, f"{key} is listed twice"
        table[key] = dict(zip(CALLERS, row[2:], strict=True))
    return table


def _concrete(path: str) -> str:
    """A path to call: parameters filled with values that exist nowhere (the endpoint answers 404)."""
    return (
        path.replace("{user_id}", str(uuid.uuid4()))
        .replace("{key_id}", str(uuid.uuid4()))
        .replace("{id}", str(uuid.uuid4()))
        .replace("{platform}", "no-such-platform")
        .replace("{path}", "no-such-file")
        .replace("{message_id}", str(uuid.uuid4()))
        .replace("{media_id}", "1003383421387256")
        .replace("{wa_id}", "255700000000")
        .replace("{mapping_id:int}", "999999")
        .replace("{task_id}", str(uuid.uuid4()))
        .replace("{id:int}", "999999")
        .replace("{slug}", "no-such-organisation")
        .replace("{report_id}", str(uuid.uuid4()))
        .replace("{device_id}", str(uuid.uuid4()))
        .replace("{alert_id}", str(uuid.uuid4()))
        .replace("{name}", "no-such-destination")
        .replace("{uid}", str(uuid.uuid4()))
        .replace("{reference}", "no-such-case")
    )


async def _credentials(gateway: Any) -> dict[str, dict[str, str]]:
    reset = await user_headers(gateway, "admin", username="reset-admin")
    from core.auth.users import find_user

    user = await find_user(gateway, "reset-admin")
    await update_user(gateway, user.id, must_change_password=True)
    return {
        "anonymous": {},
        "viewer": await user_headers(gateway, "viewer"),
        "operator": await user_headers(gateway, "operator"),
        "admin": await user_headers(gateway, "admin"),
        "api_key": await api_key_headers(gateway, ["*"]),
        "must_change": reset,
    }


def _outcome(status: int) -> str:
    return str(status) if status in (401, 403) else "ok"


@pytest.fixture
async def full_app(example_installed: None, app_client):  # type: ignore[no-untyped-def]
    """Every installed plugin enabled, every optional route switched on, limits out of the way."""
    auth = {"allow_signup": True, "api_rate_per_minute": 1_000_000, "login_rate_per_minute": 1_000_000}
    # dhis2gw's API at /api/v2 and CFCBE's URLs too (both off by default).
    cfcbe = {"cfcbe": {"enabled": True}}
    plugins = {"dhis2": {"compat": {"enabled": True}}, "whatsapp": cfcbe, "ceemis": cfcbe, "webform": cfcbe}
    async with app_client(auth=auth, plugins=plugins) as client:
        yield client


async def test_every_route_of_the_app_is_in_the_matrix(full_app) -> None:  # type: ignore[no-untyped-def]
    present = {(method, path) for path, methods, _, _ in walk_routes(full_app.app.routes) for method in methods}
    listed = set(expected_table())
    assert sorted(present - listed) == [], "routes missing from MATRIX: add a row saying who may call each"
    assert sorted(listed - present) == [], "MATRIX lists routes the app does not have"


async def test_every_caller_gets_what_the_matrix_says_on_every_route(full_app) -> None:  # type: ignore[no-untyped-def]
    credentials = await _credentials(full_app.gateway)
    wrong: list[str] = []
    for (method, path), expected in sorted(expected_table().items()):
        for caller in CALLERS:
            body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            r = await full_app.request(method, _concrete(path), headers=credentials[caller], **body)
            got = _outcome(r.status_code)
            if got != expected[caller]:
                wrong.append(
                    f"{method} {path} as {caller}: expected {expected[caller]}, got {r.status_code} {r.text[:80]}"
                )
    assert wrong == [], "\n".join(wrong)


async def test_basic_credentials_are_honoured_only_on_the_routes_that_declare_them(full_app) -> None:  # type: ignore[no-untyped-def]
    import base64

    from core.auth.users import insert_user

    gateway = full_app.gateway
    await insert_user(gateway, "basic-admin", "admin", await gateway.auth.passwords.hash("a long passphrase 1"))
    basic = {"Authorization": "Basic " + base64.b64encode(b"basic-admin:a long passphrase 1").decode()}
    accepting = {tuple(line.split()) for line in BASIC_ROUTES.strip().splitlines()}
    table = expected_table()
    assert accepting <= set(table), "BASIC_ROUTES lists routes the app does not have"
    wrong: list[str] = []
    for (method, path), expected in sorted(table.items()):
        want = expected["admin"] if (method, path) in accepting else expected["anonymous"]
        body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        r = await full_app.request(method, _concrete(path), headers=basic, **body)
        if _outcome(r.status_code) != want:
            wrong.append(f"{method} {path} with Basic: expected {want}, got {r.status_code} {r.text[:80]}")
    assert wrong == []


async def test_the_guard_answers_the_same_for_a_json_api_and_a_plugin_route(full_app) -> None:  # type: ignore[no-untyped-def]
    core = await full_app.get("/api/users")
    plugin = await full_app.get("/plugins/example/hello")
    assert core.status_code == plugin.status_code == 401
    assert core.headers["www-authenticate"] == plugin.headers["www-authenticate"]


async def test_a_webhook_with_its_platforms_own_authorization_header_reaches_its_adapter(full_app) -> None:  # type: ignore[no-untyped-def]
    # Not a Switchboard credential: the gateway leaves it to the adapter instead of refusing it.
    headers = {"Authorization": "Bearer platform-signed-value", "x-echo-token": "example-token"}
    r = await full_app.post("/webhooks/echo", content=b'[{"id": "w1", "text": "hi"}]', headers=headers)
    assert r.status_code == 200, r.text
