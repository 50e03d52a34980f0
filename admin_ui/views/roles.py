"""Roles (``users.manage``): every permission and which role holds it; roles defined here, changed, removed."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from admin_ui.console import console_of
from admin_ui.flash import redirect_with
from admin_ui.views.common import field_errors, text_field
from core.auth.events import record_event, record_role_defined
from core.auth.permissions import requires
from core.auth.stored_roles import define_role, delete_role, stored_roles
from core.errors import HTTPError


async def _roles_page(
    request: Request,
    *,
    form: dict[str, object] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    console = console_of(request)
    gateway = console.gateway
    stored = await stored_roles(gateway)
    editing = {r.name: r for r in stored}.get(request.query_params.get("edit", ""))
    if form is None and editing is not None:
        form = {"name": editing.name, "description": editing.description, "permissions": sorted(editing.permissions)}
    context = gateway.roles.view(stored) | {
        "defined_here": {r.name for r in stored},
        "form": form or {"permissions": []},
        "errors": errors or {},
    }
    return console.render(request, "roles.html", context, status_code=status_code)


@requires("users.manage")
async def roles_page(request: Request) -> Response:
    """Every permission, which role holds it, and the form to define a role (``?edit=<name>``: filled in)."""
    return await _roles_page(request)


@requires("users.manage")
async def define(request: Request) -> Response:
    """Define a role, or replace the permissions of one defined here; a bad field is shown beside its input."""
    gateway = console_of(request).gateway
    form = await request.form()
    name, description = text_field(form, "name"), text_field(form, "description")
    permissions = [str(p) for p in form.getlist("permissions")]
    try:
        before, after = await define_role(gateway, name, permissions, description)
    except HTTPError as exc:
        if not field_errors(exc):
            raise
        typed: dict[str, object] = {"name": name, "description": description, "permissions": permissions}
        return await _roles_page(request, form=typed, errors=field_errors(exc), status_code=exc.status_code)
    record_role_defined(gateway, before, after, request=request, status=303)
    verb = "defined" if before is None else "changed"
    return redirect_with(request, gateway, "/admin/roles", notice=f"Role {name} {verb}.")


@requires("users.manage")
async def remove(request: Request) -> Response:
    """Remove a role defined here (refused while a user has it)."""
    gateway = console_of(request).gateway
    role = await delete_role(gateway, request.path_params["name"])
    record_event(gateway, "role_deleted", request=request, status=303, role=role.name)
    return redirect_with(request, gateway, "/admin/roles", notice=f"Role {role.name} removed.")
