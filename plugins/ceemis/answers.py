"""Reading CEEMIS's answers: the case id of a created case, and the field errors of a refusal."""

from __future__ import annotations

import json
import re
from typing import Any

_ID_KEYS = ("caseid", "case_id", "caseId", "case_no", "id", "reference")


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def case_id_of(text: str, pattern: re.Pattern[str]) -> str | None:
    """The case id in an answer: a JSON field (``caseid``, ``case_id``, ``id``…, also under
    ``data``), else the first text matching ``case_id_pattern``."""
    data = _json(text)
    for scope in (data, data.get("data") if isinstance(data, dict) else None):
        if isinstance(scope, dict):
            for key in _ID_KEYS:
                value = scope.get(key)
                if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
                    return str(value).strip()[:255]
    found = pattern.search(text)
    return found.group(0)[:255] if found else None


def field_errors(text: str) -> list[dict[str, str]]:
    """Field errors of a refused form, as ``[{"field", "message"}]`` (empty when there are none).

    Understood: ``{"errors": {"field": "msg" | ["msg", …]}}``, ``{"errors": [{"field", "message"}]}``
    and the same at the top level of the object.
    """
    data = _json(text)
    if not isinstance(data, dict):
        return []
    errors = data.get("errors", data.get("error"))
    out: list[dict[str, str]] = []
    if isinstance(errors, dict):
        for field, messages in errors.items():
            for message in messages if isinstance(messages, list) else [messages]:
                out.append({"field": str(field), "message": str(message)})
    elif isinstance(errors, list):
        for item in errors:
            if isinstance(item, dict):
                out.append({"field": str(item.get("field", "")), "message": str(item.get("message", item))})
            else:
                out.append({"field": "", "message": str(item)})
    return out
