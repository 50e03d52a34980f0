"""The console's "Web-form organisations" page (``switchboard_admin_pages``): list, add, change, remove.

Mounted by the admin UI at ``/admin/webform/organisations``. The rules are the API's
(``/plugins/webform/organisations``), through the same service (``organisations``): admins
only, config.toml's organisations read-only, a slug taken once. A form with a bad field is
shown again with the field's error beside it, and nothing is changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from core import AdminPage, Conflict, NotFound, admin_console, gateway_of, requires
from plugins.webform import organisations
from plugins.webform.routes import NewOrganisation
from plugins.webform.settings import Organisation

TEMPLATES = Path(__file__).parent / "admin_templates"
PATH = "/webform/organisations"
BASE = f"/admin{PATH}/"
_SLUG_RULE = "1 to 64 lower-case letters, digits, '-' or '_', starting with a letter or digit"
_MAX_FIELD = 20_000  # characters of one form field (50 origins and 20 addresses fit many times)


def admin_page() -> AdminPage:
    """The page, for admins only (as the API's organisation routes are)."""
    return AdminPage(
        path=PATH,
        title="Web forms",
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/", create, methods=["POST"]),
            Route("/{slug}", edit, methods=["GET"]),
            Route("/{slug}", change, methods=["POST"]),
            Route("/{slug}/delete", remove, methods=["POST"]),
        ],
        templates=str(TEMPLATES),
        permission="webform.manage",
    )


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip()[:_MAX_FIELD] if isinstance(value, str) else ""


def _lines(text: str) -> list[str]:
    """One value a line (commas separate too), blanks dropped."""
    return [v.strip() for line in text.splitlines() for v in line.split(",") if v.strip()]


def _values(form: FormData) -> dict[str, str]:
    """The form as typed, to show it again."""
    return {name: _text(form, name) for name in ("slug", "name", "origins", "notify")}


def _parse(model: type[BaseModel], values: dict[str, str], *, with_slug: bool) -> tuple[Any, dict[str, str]]:
    """The organisation the form describes, or the error of each bad field (by field name)."""
    data: dict[str, Any] = {
        "name": values["name"],
        "origins": _lines(values["origins"]),
        "notify": _lines(values["notify"]),
    }
    if with_slug:
        data["slug"] = values["slug"]
    try:
        return model.model_validate(data), {}
    except ValidationError as err:
        errors: dict[str, str] = {}
        for e in err.errors():
            field = str(e["loc"][0]) if e["loc"] else "form"
            message = _SLUG_RULE if field == "slug" else str(e["msg"]).removeprefix("Value error, ")
            errors.setdefault(field, message)
        return None, errors


async def _render(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    editing: organisations.Org | None = None,
    status: int = 200,
) -> Response:
    console = admin_console(request)
    found = await organisations.all_organisations(gateway_of(request))
    done = request.query_params.get("done", "")
    context = {
        "organisations": found,
        "values": values or {"slug": "", "name": "", "origins": "", "notify": ""},
        "errors": errors or {},
        "editing": editing,
        "done": done[:200],
        "base": BASE,
    }
    # Bad input is a 422 for the whole page; an HTMX form (which swaps 2xx answers only) gets it in place.
    if status != 200 and request.headers.get("hx-request") == "true":
        status = 200
    return console.render(request, "webform_organisations.html", context, block="organisations", status_code=status)


def _after(request: Request, done: str) -> Response:
    target = f"{BASE}?done={done}"
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@requires("webform.manage")
async def index(request: Request) -> Response:
    """Every organisation (config.toml's marked read-only) and the form to add one."""
    return await _render(request)


@requires("webform.manage")
async def create(request: Request) -> Response:
    """Add an organisation: the page again with each bad field's error (422), or the list."""
    values = _values(await request.form())
    body, errors = _parse(NewOrganisation, values, with_slug=True)
    if body is None:
        return await _render(request, values=values, errors=errors, status=422)
    org = Organisation(name=body.name, origins=body.origins, notify=body.notify)
    try:
        await organisations.create(gateway_of(request), body.slug, org)
    except Conflict as err:
        return await _render(request, values=values, errors={"slug": str(err)}, status=409)
    return _after(request, f"created:{body.slug}")


async def _found(request: Request) -> organisations.Org:
    org = await organisations.find(gateway_of(request), request.path_params["slug"])
    if org is None:
        raise NotFound("no such organisation")
    return org


def _as_values(org: organisations.Org) -> dict[str, str]:
    return {"slug": org.slug, "name": org.name, "origins": "\n".join(org.origins), "notify": "\n".join(org.notify)}


@requires("webform.manage")
async def edit(request: Request) -> Response:
    """One organisation's form (read-only for one of config.toml)."""
    org = await _found(request)
    return await _render(request, values=_as_values(org), editing=org)


@requires("webform.manage")
async def change(request: Request) -> Response:
    """Change an organisation added here: its form again with each bad field's error (422), or the list."""
    org = await _found(request)
    values = _values(await request.form()) | {"slug": org.slug}
    body, errors = _parse(Organisation, values, with_slug=False)
    if body is None:
        return await _render(request, values=values, errors=errors, editing=org, status=422)
    try:
        await organisations.replace(gateway_of(request), org.slug, body)
    except Conflict as err:
        return await _render(request, values=values, errors={"form": str(err)}, editing=org, status=409)
    return _after(request, f"changed:{org.slug}")


@requires("webform.manage")
async def remove(request: Request) -> Response:
    """Remove an organisation added here (409 for one of config.toml)."""
    org = await _found(request)
    await organisations.delete(gateway_of(request), org.slug)
    return _after(request, f"deleted:{org.slug}")
