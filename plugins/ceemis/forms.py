"""The multipart form CEEMIS expects, from a helpline case and the configured field map."""

from __future__ import annotations

from typing import Any


def lookup(data: Any, path: str) -> Any:
    """The value at a dotted ``path`` of ``data``; a list stands for its first item unless an index is given."""
    value = data
    for part in path.split("."):
        if isinstance(value, list):
            if part.isdigit():
                index = int(part)
                value = value[index] if index < len(value) else None
                continue
            value = value[0] if value else None
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    if isinstance(value, list):
        value = value[0] if value else None
    return value


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return text or None


def case_form(
    case: dict[str, Any], field_map: dict[str, list[str]], defaults: dict[str, str], *, fill_defaults: bool = True
) -> dict[str, str]:
    """CEEMIS form fields of ``case``: each mapped helpline field that has a value, then the
    ``defaults`` for form fields still empty (``fill_defaults``: a create sends them all)."""
    form: dict[str, str] = {}
    for source, targets in field_map.items():
        value = _text(lookup(case, source))
        if value is None:
            continue
        for target in targets:
            form.setdefault(target, value)
    if fill_defaults:
        for name, value in defaults.items():
            form.setdefault(name, value)
    return form


def update_form(
    update: dict[str, Any],
    case_id: str,
    field_map: dict[str, list[str]],
    defaults: dict[str, str],
    *,
    case: dict[str, str] | None = None,
    from_case: list[str] | tuple[str, ...] = (),
) -> dict[str, str]:
    """The form of an update: ``caseid`` and ``status`` (the update's, else the default), the
    mapped fields the update changes, and each ``from_case`` field it leaves unset, from the
    ``case``'s form (else the default): CEEMIS refuses an update without them."""
    form = case_form(update, field_map, defaults, fill_defaults=False)
    form["caseid"] = case_id
    status = _text(update.get("status")) or defaults.get("status")
    if status is not None:
        form["status"] = status
    for name in from_case:
        value = (case or {}).get(name) or defaults.get(name)
        if name not in form and value:
            form[name] = value
    return form
