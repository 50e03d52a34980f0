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

Every route declares the one permission it needs (``requires(...)``); ``PERMISSIONS`` below says,
by hand, which, and a route that declares none fails. A configured role (``reporter``, made of a
few permissions) is called on every route too: where its role holds the route's permission it
gets what an admin gets, elsewhere 403.

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

GET     /api/roles                           401       403    403      ok    403     403
PUT     /api/roles/{name}                    401       403    403      ok    403     403
DELETE  /api/roles/{name}                    401       403    403      ok    403     403

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
GET     /admin/roles                         ok        403       403       ok        403       ok
POST    /admin/roles                         ok        403       403       ok        403       ok
POST    /admin/roles/{name}/delete           ok        403       403       ok        403       ok
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
POST    /admin/devices/alerts/acknowledge    ok        403       ok        ok        403       ok
POST    /admin/devices/alerts/{alert_id}/acknowledge ok 403      ok        ok        403       ok
GET     /admin/devices/{device_id}           ok        ok        ok        ok        403       ok
POST    /admin/devices/{device_id}/deactivate ok       403       ok        ok        403       ok
POST    /admin/devices/{device_id}/rotate-key ok       403       ok        ok        403       ok
POST    /admin/devices/{device_id}/reactivate ok       403       ok        ok        403       ok
"""


# The permission each route needs: ``public`` (no credentials), ``signed-in`` (any user, whatever
# the role), a permission (``core.auth.roles`` and the plugins' ``switchboard_permissions``), or a
# built-in role's name (the example plugin, written as a third party wrote plugins before permissions).
PERMISSIONS = """
GET     /api/webhook/whatsapp/                                    public
POST    /api/webhook/whatsapp/                                    public
GET     /api/webhook/whatsapp                                     public
POST    /api/webhook/whatsapp                                     public
OPTIONS /api/webhook/webform/auth/request-verification/           public
POST    /api/webhook/webform/auth/request-verification/           public
OPTIONS /api/webhook/webform/auth/request-verification            public
POST    /api/webhook/webform/auth/request-verification            public
OPTIONS /api/webhook/webform/auth/verify-otp/                     public
POST    /api/webhook/webform/auth/verify-otp/                     public
OPTIONS /api/webhook/webform/auth/verify-otp                      public
POST    /api/webhook/webform/auth/verify-otp                      public
OPTIONS /api/webhook/webform/                                     public
POST    /api/webhook/webform/                                     public
OPTIONS /api/webhook/webform                                      public
POST    /api/webhook/webform                                      public
POST    /api/v2/aggregate                                         dhis2.submit
POST    /api/v2/aggregate/reenqueue/batch                         deliveries.repair
GET     /api/v2/aggregate/reenqueue/{task_id}                     deliveries.repair
POST    /api/v2/aggregate/reenqueue/{task_id}                     deliveries.repair
GET     /api/v2/logs                                              traffic.read
DELETE  /api/v2/logs/purge                                        deliveries.repair
GET     /api/v2/logs/{id}                                         traffic.read
DELETE  /api/v2/logs/{id}                                         deliveries.repair
GET     /api/v2/mappings                                          dhis2.mappings.read
POST    /api/v2/mappings/import/csv                               dhis2.mappings.manage
POST    /api/v2/mappings/import/excel                             dhis2.mappings.manage
GET     /api/v2/mappings/export/excel                             dhis2.mappings.read
GET     /api/v2/mappings/export/excel-template                    public
POST    /api/v2/user                                              users.manage
GET     /api/v2/users                                             users.manage
GET     /api/v2/users/{uid}                                       users.manage
PUT     /api/v2/users/{uid}                                       users.manage
POST    /api/v2/users/getToken                                    dhis2.submit
POST    /api/v2/users/refreshToken                                dhis2.submit
GET     /mappings/export/excel-template                           public
OPTIONS /api/v2/aggregate                                         public
OPTIONS /api/v2/aggregate/reenqueue/batch                         public
OPTIONS /api/v2/aggregate/reenqueue/{task_id}                     public
OPTIONS /api/v2/logs                                              public
OPTIONS /api/v2/logs/purge                                        public
OPTIONS /api/v2/logs/{id}                                         public
OPTIONS /api/v2/mappings                                          public
OPTIONS /api/v2/mappings/import/csv                               public
OPTIONS /api/v2/mappings/import/excel                             public
OPTIONS /api/v2/mappings/export/excel                             public
OPTIONS /api/v2/mappings/export/excel-template                    public
OPTIONS /api/v2/user                                              public
OPTIONS /api/v2/users                                             public
OPTIONS /api/v2/users/{uid}                                       public
OPTIONS /api/v2/users/getToken                                    public
OPTIONS /api/v2/users/refreshToken                                public
OPTIONS /mappings/export/excel-template                           public
POST    /webhooks/devices/heartbeat                               devices.manage
POST    /api/webhook/helpline/case/ceemis/                        public
POST    /api/webhook/helpline/case/ceemis                         public
PUT     /api/webhook/helpline/case/ceemis/update/                 public
PUT     /api/webhook/helpline/case/ceemis/update                  public
POST    /api/webhook/ceemis/create/                               public
POST    /api/webhook/ceemis/create                                public
POST    /api/webhook/eemis/                                       public
POST    /api/webhook/eemis                                        public
GET     /api/case/status/{reference}/                             content.read
GET     /api/case/status/{reference}                              content.read
GET     /admin/                                                   traffic.read
GET     /admin/login                                              public
POST    /admin/login                                              public
POST    /admin/logout                                    signed-in
GET     /admin/password                                  signed-in
POST    /admin/password                                  signed-in
GET     /admin/deliveries                                         traffic.read
POST    /admin/deliveries/bulk                                    deliveries.repair
POST    /admin/deliveries/selected                                deliveries.repair
GET     /admin/deliveries/{id}                                    content.read
POST    /admin/deliveries/{id}/requeue                            deliveries.repair
POST    /admin/deliveries/{id}/cancel                             deliveries.repair
POST    /admin/deliveries/{id}/delete                             deliveries.repair
GET     /admin/logs                                               audit.read
GET     /admin/logs/{id:int}                                      audit.read
GET     /admin/messages                                           content.read
GET     /admin/messages/{id}                                      content.read
GET     /admin/conversations                                      content.read
GET     /admin/conversations/{id}                                 content.read
POST    /admin/conversations/{id}/reply                           messages.send
GET     /admin/plugins                                            traffic.read
GET     /admin/search                                             content.read
GET     /admin/destinations                                       traffic.read
POST    /admin/destinations/{name}/pause                          destinations.manage
POST    /admin/destinations/{name}/resume                         destinations.manage
POST    /admin/jobs/{name}/run                                    jobs.run
POST    /admin/jobs/{name}/disable                                jobs.manage
POST    /admin/jobs/{name}/enable                                 jobs.manage
GET     /admin/users                                              users.manage
POST    /admin/users                                              users.manage
GET     /admin/users/{id}                                         users.manage
POST    /admin/users/{id}                                         users.manage
GET     /admin/roles                                              users.manage
POST    /admin/roles                                              users.manage
POST    /admin/roles/{name}/delete                                users.manage
GET     /admin/privacy                                            privacy.manage
POST    /admin/privacy/erase                                      privacy.manage
POST    /admin/privacy/export                                     privacy.manage
GET     /admin/keys                                               users.manage
POST    /admin/keys                                               users.manage
POST    /admin/keys/{id}/revoke                                   users.manage
POST    /admin/keys/{id}/rotate                                   users.manage
GET     /admin/static/{path}                                      public
GET     /admin/ceemis/cases/                                      content.read
GET     /admin/devices/                                           devices.read
POST    /admin/devices/register                                   devices.manage
GET     /admin/devices/alerts                                     devices.read
POST    /admin/devices/alerts/acknowledge                         devices.manage
POST    /admin/devices/alerts/{alert_id}/acknowledge              devices.manage
GET     /admin/devices/{device_id}                                devices.read
POST    /admin/devices/{device_id}/deactivate                     devices.manage
POST    /admin/devices/{device_id}/rotate-key                     devices.manage
POST    /admin/devices/{device_id}/reactivate                     devices.manage
GET     /admin/dhis2/mappings/                                    dhis2.mappings.read
POST    /admin/dhis2/mappings/upload                              dhis2.mappings.manage
GET     /admin/dhis2/mappings/template.xlsx                       dhis2.mappings.read
GET     /admin/dhis2/mappings/export.csv                          dhis2.mappings.read
GET     /admin/dhis2/mappings/export.xlsx                         dhis2.mappings.read
GET     /admin/reports/                                           reports.read
POST    /admin/reports/request                                    reports.request
GET     /admin/reports/schedules/{name}                           reports.read
POST    /admin/reports/schedules/{name}/run                       reports.request
POST    /admin/reports/schedules/{name}/enable                    reports.manage
POST    /admin/reports/schedules/{name}/disable                   reports.manage
POST    /admin/reports/schedules/{name}/delete                    reports.manage
GET     /admin/reports/{report_id}                                reports.read
POST    /admin/reports/{report_id}/delete                         reports.request
GET     /admin/webform/organisations/                             webform.manage
POST    /admin/webform/organisations/                             webform.manage
GET     /admin/webform/organisations/{slug}                       webform.manage
POST    /admin/webform/organisations/{slug}                       webform.manage
POST    /admin/webform/organisations/{slug}/delete                webform.manage
GET     /webhooks/{platform}                                      public
OPTIONS /webhooks/{platform}                                      public
POST    /webhooks/{platform}                                      public
GET     /healthz                                                  public
GET     /readyz                                                   public
GET     /openapi.json                                             public
GET     /docs                                                     public
GET     /docs/static/init.js                                      public
GET     /docs/static/{path}                                       public
GET     /metrics                                                  public
POST    /api/auth/token                                           public
POST    /api/auth/refresh                                         public
POST    /api/auth/logout                                 signed-in
GET     /api/auth/me                                     signed-in
POST    /api/auth/password                               signed-in
POST    /api/auth/signup                                          public
GET     /api/roles                                                users.manage
PUT     /api/roles/{name}                                         users.manage
DELETE  /api/roles/{name}                                         users.manage
POST    /api/privacy/erasures                                     privacy.manage
POST    /api/privacy/exports                                      privacy.manage
GET     /api/privacy/exports/{export_id}                          privacy.manage
GET     /api/privacy/exports/{export_id}/download                 public
GET     /api/users                                                users.manage
POST    /api/users                                                users.manage
GET     /api/users/{user_id}                                      users.manage
PUT     /api/users/{user_id}                                      users.manage
DELETE  /api/users/{user_id}                                      users.manage
POST    /api/users/{user_id}/approve                              users.manage
POST    /api/users/{user_id}/reject                               users.manage
GET     /api/api-keys                                             users.manage
POST    /api/api-keys                                             users.manage
GET     /api/api-keys/{key_id}                                    users.manage
DELETE  /api/api-keys/{key_id}                                    users.manage
POST    /api/api-keys/{key_id}/rotate                             users.manage
GET     /api/messages                                             content.read
GET     /api/messages/{id}                                        content.read
GET     /api/deliveries                                           traffic.read
POST    /api/deliveries/requeue                                   deliveries.repair
POST    /api/deliveries/purge                                     deliveries.repair
GET     /api/deliveries/{id}                                      content.read
DELETE  /api/deliveries/{id}                                      deliveries.repair
POST    /api/deliveries/{id}/requeue                              deliveries.repair
POST    /api/deliveries/{id}/cancel                               deliveries.repair
GET     /api/conversations                                        content.read
GET     /api/conversations/{id}                                   content.read
POST    /api/conversations/{id}/messages                          messages.send
GET     /api/logs                                                 audit.read
GET     /api/logs/{id:int}                                        audit.read
GET     /api/jobs                                                 traffic.read
POST    /api/jobs/{name}/run                                      jobs.run
POST    /api/jobs/{name}/disable                                  jobs.manage
POST    /api/jobs/{name}/enable                                   jobs.manage
GET     /api/metrics/summary                                      traffic.read
GET     /api/destinations                                         traffic.read
POST    /api/destinations/{name}/pause                            destinations.manage
POST    /api/destinations/{name}/resume                           destinations.manage
GET     /plugins/ceemis/cases/{reference}                         content.read
GET     /plugins/devices/devices                                  devices.read
POST    /plugins/devices/devices                                  devices.manage
GET     /plugins/devices/devices/{device_id}                      devices.read
PATCH   /plugins/devices/devices/{device_id}                      devices.manage
DELETE  /plugins/devices/devices/{device_id}                      devices.delete
POST    /plugins/devices/devices/{device_id}/deactivate           devices.manage
POST    /plugins/devices/devices/{device_id}/reactivate           devices.manage
POST    /plugins/devices/devices/{device_id}/rotate-key           devices.manage
POST    /plugins/devices/heartbeat                                devices.manage
GET     /plugins/devices/readings                                 devices.read
GET     /plugins/devices/subjects/{subject}/summary               devices.read
GET     /plugins/devices/alerts                                   devices.read
POST    /plugins/devices/alerts/{alert_id}/acknowledge            devices.manage
GET     /plugins/devices/rules                                    devices.read
POST    /plugins/devices/rules                                    devices.rules
PUT     /plugins/devices/rules/{name}                             devices.rules
DELETE  /plugins/devices/rules/{name}                             devices.rules
POST    /plugins/dhis2/aggregate                                  dhis2.submit
POST    /plugins/dhis2/tracker                                    dhis2.submit
POST    /plugins/dhis2/mappings/import                            dhis2.mappings.manage
GET     /plugins/dhis2/mappings                                   dhis2.mappings.read
GET     /plugins/dhis2/mappings/template.xlsx                     dhis2.mappings.read
GET     /plugins/dhis2/mappings/export.xlsx                       dhis2.mappings.read
GET     /plugins/dhis2/mappings/export.csv                        dhis2.mappings.read
GET     /plugins/dhis2/mappings/{mapping_id:int}                  dhis2.mappings.read
DELETE  /plugins/dhis2/mappings/{mapping_id:int}                  dhis2.mappings.manage
POST    /plugins/dhis2/orgunit-mappings/import                    dhis2.mappings.manage
GET     /plugins/dhis2/orgunit-mappings                           dhis2.mappings.read
GET     /plugins/dhis2/orgunit-mappings/template.xlsx             dhis2.mappings.read
GET     /plugins/dhis2/orgunit-mappings/export.xlsx               dhis2.mappings.read
GET     /plugins/dhis2/orgunit-mappings/export.csv                dhis2.mappings.read
GET     /plugins/dhis2/orgunit-mappings/{mapping_id:int}          dhis2.mappings.read
DELETE  /plugins/dhis2/orgunit-mappings/{mapping_id:int}          dhis2.mappings.manage
GET     /plugins/reports/types                                    reports.read
GET     /plugins/reports/reports                                  reports.read
POST    /plugins/reports/reports                                  reports.request
GET     /plugins/reports/reports/{report_id}                      reports.read
DELETE  /plugins/reports/reports/{report_id}                      reports.request
GET     /plugins/reports/download/{report_id}                     public
GET     /plugins/reports/schedules                                reports.read
POST    /plugins/reports/schedules                                reports.manage
GET     /plugins/reports/schedules/{name}                         reports.read
PATCH   /plugins/reports/schedules/{name}                         reports.manage
POST    /plugins/reports/schedules/{name}/run                     reports.request
POST    /plugins/reports/schedules/{name}/disable                 reports.manage
POST    /plugins/reports/schedules/{name}/enable                  reports.manage
DELETE  /plugins/reports/schedules/{name}                         reports.manage
OPTIONS /plugins/webform/auth/request-verification                public
POST    /plugins/webform/auth/request-verification                public
OPTIONS /plugins/webform/auth/verify-otp                          public
POST    /plugins/webform/auth/verify-otp                          public
GET     /plugins/webform/organisations                            webform.manage
POST    /plugins/webform/organisations                            webform.manage
GET     /plugins/webform/organisations/{slug}                     webform.manage
PUT     /plugins/webform/organisations/{slug}                     webform.manage
DELETE  /plugins/webform/organisations/{slug}                     webform.manage
GET     /plugins/whatsapp/messages/{message_id}                   content.read
GET     /plugins/whatsapp/messages/{message_id}/media/{media_id}  content.read
GET     /plugins/whatsapp/contacts/{wa_id}                        content.read
PUT     /plugins/whatsapp/contacts/{wa_id}                        whatsapp.contacts
GET     /plugins/example/hello                                    viewer
"""

# A role of [auth.roles]: who requests reports and watches traffic, without reading personal content.
REPORTER = ["traffic.read", "reports.read", "reports.request"]


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
    auth = {
        "allow_signup": True,
        "api_rate_per_minute": 1_000_000,
        "login_rate_per_minute": 1_000_000,
        "roles": {"reporter": {"permissions": REPORTER}},
    }
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


def permission_table() -> dict[tuple[str, str], str]:
    table: dict[tuple[str, str], str] = {}
    for line in PERMISSIONS.strip().splitlines():
        method, path, permission = line.split()
        assert (method, path) not in table, f"{method} {path} is listed twice"
        table[(method, path)] = permission
    return table


async def test_every_route_declares_the_permission_the_table_gives_it(full_app) -> None:  # type: ignore[no-untyped-def]
    table = permission_table()
    declared = {}
    for path, methods, requirement, _ in walk_routes(full_app.app.routes):
        assert requirement.declared, f"{path} declares no permission: mark its endpoint with requires(...)"
        name = "public" if requirement.public else requirement.permission or "signed-in"
        declared.update({(method, path): name for method in methods})
    assert sorted(set(declared) - set(table)) == [], "routes missing from PERMISSIONS"
    assert sorted(set(table) - set(declared)) == [], "PERMISSIONS lists routes the app does not have"
    wrong = [
        f"{m} {p}: declares {declared[m, p]}, PERMISSIONS says {want}"
        for (m, p), want in table.items()
        if declared[m, p] != want
    ]
    assert wrong == [], "\n".join(wrong)


async def test_a_configured_role_gets_what_its_permissions_allow_on_every_route(full_app) -> None:  # type: ignore[no-untyped-def]
    headers = await user_headers(full_app.gateway, "reporter")
    permissions, matrix = permission_table(), expected_table()
    wrong: list[str] = []
    for (method, path), expected in sorted(matrix.items()):
        needs = permissions[method, path]
        if needs == "public":
            want = expected["viewer"]  # what the endpoint answers a signed-in user
        elif needs == "signed-in" or needs in REPORTER:
            want = expected["admin"]  # let through, as an admin is
        else:
            want = "403"  # a built-in role's name too: the reporter lacks most of what a viewer holds
        body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        r = await full_app.request(method, _concrete(path), headers=headers, **body)
        if _outcome(r.status_code) != want:
            wrong.append(f"{method} {path} as reporter: expected {want}, got {r.status_code} {r.text[:80]}")
    assert wrong == [], "\n".join(wrong)


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
