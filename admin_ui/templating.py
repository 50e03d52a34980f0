"""Templates: one page template per screen, and its ``{% block %}`` for an HTMX request.

Lookup order (Datasette's): the user's folder (``[plugins.admin] templates_dir``), then each
plugin's admin template folder, then the defaults shipped here. ``default:base.html`` always
names the shipped template, so an override can extend the original it replaces.
Autoescaping is on for every template, whatever its name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

DEFAULTS = Path(__file__).parent / "templates"


def build_environment(user_dir: str | None, plugin_dirs: Iterable[str]) -> jinja2.Environment:
    defaults = jinja2.FileSystemLoader(str(DEFAULTS))
    loaders: list[jinja2.BaseLoader] = []
    if user_dir:
        loaders.append(jinja2.FileSystemLoader(user_dir))
    loaders.extend(jinja2.FileSystemLoader(d) for d in plugin_dirs)
    loaders.append(defaults)
    loaders.append(jinja2.PrefixLoader({"default": defaults}, delimiter=":"))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,  # every template, whatever its extension: text from outside is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["pretty"] = pretty
    env.filters["pretty_text"] = pretty_text
    env.filters["day"] = day
    env.filters["until_day"] = until_day
    env.filters["ms"] = lambda v: "" if v is None else f"{v:,.0f} ms" if v >= 10 else f"{v:.1f} ms"
    env.filters["pct"] = lambda v: "–" if v is None else f"{v * 100:.1f} %"
    return env


def when(value: Any) -> str:
    """An ISO time as ``2024-05-01 12:30:05`` (UTC), or an empty string."""
    if value is None or value == "":
        return ""
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return at.strftime("%Y-%m-%d %H:%M:%S")


def day(value: datetime | None) -> str:
    """A filter's "From" as the day a date input shows (UTC)."""
    return value.astimezone(UTC).date().isoformat() if value is not None else ""


def until_day(value: datetime | None) -> str:
    """A filter's "Until" as the last day it includes: a bound at midnight excludes that day, so the day before."""
    if value is None:
        return ""
    at = value.astimezone(UTC)
    return (at.date() - timedelta(days=1) if at.time() == time(0) else at.date()).isoformat()


def pretty(value: Any) -> str:
    """JSON, indented (escaping is the template's business)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return str(value)
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def pretty_text(text: str) -> str:
    """A recorded body as it is shown: JSON indented (bodies are stored as sent), other text as it is."""
    if text[:1] in ("{", "["):
        try:
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            pass  # not JSON after all, or cut off at [audit] max_payload_bytes
    return text


def is_htmx(request: Request) -> bool:
    """An HTMX request that swaps part of a page (a boosted navigation wants the whole page)."""
    if request.headers.get("hx-history-restore-request") == "true":  # restoring history wants the whole page
        return False
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"


def render_page(
    env: jinja2.Environment,
    request: Request,
    name: str,
    context: Mapping[str, Any],
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The whole page, or only ``block`` of it for an HTMX request (the same template either way)."""
    template = env.get_template(name)
    if block is not None and is_htmx(request):
        ctx = template.new_context(dict(context))
        html = "".join(template.blocks[block](ctx))
    else:
        html = template.render(context)
    out = {"Cache-Control": "no-store", "Vary": "HX-Request"}
    out.update(headers or {})
    return HTMLResponse(html, status_code=status_code, headers=out)
