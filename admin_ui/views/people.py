"""Users and API keys (``users.manage``): create, change role, deactivate, reset, approve; keys shown once."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, date, datetime, time, timedelta

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin_ui.console import console_of
from admin_ui.flash import redirect_with
from admin_ui.views.common import caller, field_errors, text_field
from core import path_uuid
from core.auth.api_keys import create_key, key_view, list_keys, revoke_key, rotate_key
from core.auth.events import record_decision, record_event, record_user_changes
from core.auth.permissions import requires
from core.auth.stored_roles import stored_roles
from core.auth.users import create_user, get_user, list_users, set_password, update_user, user_view
from core.errors import Conflict, HTTPError


async def _users_page(request: Request, *, status_code: int = 200, **extra: object) -> Response:
    gateway = console_of(request).gateway
    rows, _ = await list_users(gateway, limit=500)
    users = [user_view(r) for r in rows]
    names = [*gateway.roles.names(), *(r.name for r in await stored_roles(gateway))]
    context = {"users": users, "roles": names, "pending": [u for u in users if u["status"] == "pending"]}
    defaults: dict[str, object] = {"form": {}, "errors": {}}
    return console_of(request).render(request, "users.html", context | defaults | extra, status_code=status_code)


@requires("users.manage")
async def users_page(request: Request) -> Response:
    return await _users_page(request)


@requires("users.manage")
async def create_user_view(request: Request) -> Response:
    """A new user, who must change the temporary password at first login; a bad field is shown beside its input."""
    form = await request.form()
    gateway = console_of(request).gateway
    typed = {k: text_field(form, k) for k in ("username", "full_name", "role")}  # never the password
    try:
        user = await create_user(
            gateway, typed["username"], str(form.get("password") or ""), typed["role"] or "viewer",
            full_name=typed["full_name"] or None, must_change_password=True,
        )
    except HTTPError as exc:
        if not field_errors(exc):
            raise
        return await _users_page(request, form=typed, errors=field_errors(exc), status_code=exc.status_code)
    record_event(gateway, "user_created", request=request, status=303, user=user.username, role=user.role)
    return redirect_with(request, gateway, "/admin/users", notice=f"{user.username} created: they choose their own password at first login.")


@requires("users.manage")
async def user_page(request: Request) -> Response:
    """A user's address answers GET too (a reload after a form, a shared link): the users page."""
    await get_user(console_of(request).gateway, path_uuid(request))
    return RedirectResponse("/admin/users", status_code=303)


@requires("users.manage")
async def change_user(request: Request) -> Response:
    """``action``: role (with ``role``), deactivate, activate, approve (with an optional ``role``), reject, reset.

    The audit log gets the same events as the API's (``core.auth.events``): one vocabulary.
    """
    gateway = console_of(request).gateway
    user_id = path_uuid(request)
    form = await request.form()
    action = text_field(form, "action")
    secret: str | None = None
    user = await get_user(gateway, user_id)
    if action in ("approve", "reject"):
        if user.status != "pending":
            raise Conflict(f"{user.username} is not awaiting approval (status: {user.status})")
        role = text_field(form, "role") if action == "approve" else ""
        before, after = await update_user(
            gateway, user_id, status="active" if action == "approve" else "rejected", **({"role": role} if role else {})
        )
        record_decision(gateway, before, after, request=request, status=303)
    elif action in ("role", "deactivate", "activate"):
        change = {"role": text_field(form, "role")} if action == "role" else {"status": "inactive" if action == "deactivate" else "active"}
        before, after = await update_user(gateway, user_id, **change)
        record_user_changes(gateway, before, after, request=request, status=303)
    elif action == "reset":
        secret = secrets.token_urlsafe(12)
        await set_password(gateway, user_id, secret, must_change=True)
        record_event(gateway, "password_reset", request=request, status=303, user=user.username)
    else:
        raise HTTPError(f"unknown action {action!r}", status_code=400)
    notice = NOTICES[action].format(name=user.username)
    label = f"Temporary password for {user.username} (shown once; they must change it at login)"
    return redirect_with(request, gateway, "/admin/users", notice=notice, secret=(label, secret) if secret else None)


NOTICES = {
    "approve": "{name} approved.",
    "reject": "{name} rejected.",
    "role": "{name}: role changed.",
    "deactivate": "{name} deactivated: their sessions and tokens stopped at once.",
    "activate": "{name} activated.",
    "reset": "{name}: password reset.",
}


async def _keys_page(
    request: Request,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    gateway = console_of(request).gateway
    rows, _ = await list_keys(gateway, include_revoked=True, limit=500)
    keys = [key_view(gateway, r) for r in rows]
    context = {"keys": keys, "platforms": sorted(gateway.adapters), "form": form or {}, "errors": errors or {}}
    return console_of(request).render(request, "keys.html", context, status_code=status_code)


@requires("users.manage")
async def keys_page(request: Request) -> Response:
    return await _keys_page(request)


@requires("users.manage")
async def create_key_view(request: Request) -> Response:
    """A new key; its secret is shown once, by the page this redirects to (``admin_ui.flash``)."""
    gateway = console_of(request).gateway
    form = await request.form()
    typed = {k: text_field(form, k) for k in ("name", "scopes", "platform", "expires")}
    scopes = [s for s in typed["scopes"].replace(",", " ").split() if s]
    try:
        row, key = await create_key(
            gateway, typed["name"] or "unnamed", scopes, platform=typed["platform"] or None,
            expires_at=_end_of_day(typed["expires"]), created_by=uuid.UUID(caller(request).id),
        )
    except HTTPError as exc:
        if not field_errors(exc):
            raise
        errors = field_errors(exc)
        if "expires_at" in errors:  # the form's day field
            errors["expires"] = errors.pop("expires_at")
        return await _keys_page(request, form=typed, errors=errors, status_code=exc.status_code)
    record_event(gateway, "api_key_created", request=request, status=303, key=row.prefix)
    label = f"The new key {row.name} (shown this once; copy it now)"
    return redirect_with(request, gateway, "/admin/keys", notice=f"Key {row.name} created.", secret=(label, key))


def _end_of_day(day: str) -> datetime | None:
    """The key's expiry from the form's day (UTC): it works through that whole day."""
    if not day:
        return None
    try:
        return datetime.combine(date.fromisoformat(day) + timedelta(days=1), time(0), tzinfo=UTC)
    except (ValueError, OverflowError) as err:
        raise HTTPError("invalid expiry", status_code=422, errors=[{"field": "expires", "message": "a day, YYYY-MM-DD"}]) from err


GRACE_CHOICES = {"0": 0, "3600": 3600, "86400": 86400, "604800": 604800}


@requires("users.manage")
async def rotate_key_view(request: Request) -> Response:
    """A new key for the same name, scopes and platform; the old one stops after the grace chosen. Shown once."""
    gateway = console_of(request).gateway
    form = await request.form()
    grace = GRACE_CHOICES.get(text_field(form, "grace") or "0")
    if grace is None:
        raise HTTPError("unknown grace period", status_code=422, errors=[{"field": "grace", "message": "choose one"}])
    old, new, key = await rotate_key(gateway, path_uuid(request), grace_seconds=grace, created_by=uuid.UUID(caller(request).id))
    record_event(
        gateway, "api_key_rotated", request=request, status=303,
        key_prefix=old.prefix, new_key_prefix=new.prefix, name=new.name, grace_seconds=grace,
    )
    label = f"The new key {new.name} (shown this once; copy it now)"
    stops = "now" if not grace else f"in {grace // 3600} hour{'s' if grace != 3600 else ''}"
    return redirect_with(request, gateway, "/admin/keys", notice=f"Key {new.name} rotated: the old one stops {stops}.", secret=(label, key))


@requires("users.manage")
async def revoke_key_view(request: Request) -> Response:
    gateway = console_of(request).gateway
    row = await revoke_key(gateway, path_uuid(request))
    record_event(gateway, "api_key_revoked", request=request, status=303, key=row.prefix)
    return redirect_with(request, gateway, "/admin/keys", notice=f"Key {row.name} revoked.")
