"""Privacy (admin): erase everything held about a person, after a confirmation; export it; past requests."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from admin_ui.console import console_of
from admin_ui.flash import redirect_with
from admin_ui.views.common import caller, field_errors, text_field
from core.auth.permissions import requires
from core.errors import HTTPError
from core.operations import erasure, subject_export


async def _page(
    request: Request, *, participant: str = "", errors: dict[str, str] | None = None, status_code: int = 200
) -> Response:
    console = console_of(request)
    context = {
        "requests": await subject_export.recent_requests(console.gateway, str(request.base_url)),
        "participant": participant,
        "errors": errors or {},
    }
    return console.render(request, "privacy.html", context, status_code=status_code)


@requires("privacy.manage")
async def privacy_page(request: Request) -> Response:
    return await _page(request)


@requires("privacy.manage")
async def erase(request: Request) -> Response:
    """First a page asking to confirm, naming the person; then the erasure and the page with what it erased."""
    console = console_of(request)
    form = await request.form()
    typed = text_field(form, "participant")
    try:
        participant = erasure.checked_participant(typed)
    except HTTPError as exc:
        return await _page(request, participant=typed, errors=field_errors(exc), status_code=exc.status_code)
    if form.get("confirmed") != "yes":
        return console.render(request, "privacy_confirm.html", {"participant": participant})
    result = await erasure.erase_participant(console.gateway, participant, caller(request), request=request)
    changed = ", ".join(f"{table} {n}" for table, n in result["tables"].items() if n) or "nothing was left to erase"
    notice = f"Erased: {changed}; {result['cancelled_deliveries']} waiting deliveries cancelled."
    return redirect_with(request, console.gateway, "/admin/privacy", notice=notice)


@requires("privacy.manage")
async def export(request: Request) -> Response:
    """Start an export; the list below the form shows it, with its download link once done."""
    console = console_of(request)
    form = await request.form()
    typed = text_field(form, "participant")
    try:
        await subject_export.request_export(console.gateway, typed, caller(request), request=request)
    except HTTPError as exc:
        return await _page(request, participant=typed, errors=field_errors(exc), status_code=exc.status_code)
    return redirect_with(request, console.gateway, "/admin/privacy", notice="Export started; reload for its link.")
