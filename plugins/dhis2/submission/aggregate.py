"""Turning an aggregate submission into the exact dataValueSet that DHIS2 will receive.

Two bodies are accepted. The dhis2gw body names values by source code::

    {"orgUnit": "DiszpKrYNg8", "period": "202401", "dataSet": "pBOMPrpg1QX",
     "dataValues": {"ANC1": 12, "ANC4": 7}}

and a native dataValueSet names them by uid (a code in ``dataElement`` is mapped too)::

    {"dataValues": [{"dataElement": "…", "period": "…", "orgUnit": "…", "value": "3"}]}

Codes are looked up in the data-value mappings (by code and data set), org unit codes in
the org-unit mappings. Under ``mapping_scheme = "uid"`` (dhis2gw's ``mapping_scheme: UID``)
the keys of a dhis2gw body are data-element uids, looked up by the mappings' data element
(which give the option combos). Every problem is reported with the field it is in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from plugins.dhis2.mappings import store
from plugins.dhis2.submission import periods
from plugins.dhis2.submission.problems import InvalidSubmission, NothingMapped
from plugins.dhis2.uids import is_uid

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from plugins.dhis2.settings import InstanceSettings

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NATIVE_VALUE_KEYS = ("comment", "followup", "storedBy")


@dataclass
class Prepared:
    """The dataValueSet to send, the source code of each value, and what was left out."""

    data_value_set: dict[str, Any]
    codes: list[str | None]
    # Where each value came from in the submission ("dataValues.ANC1", "dataValues[3]").
    origins: list[str]
    unmapped: list[dict[str, Any]] = field(default_factory=list)
    format: str = "dhis2gw"

    @property
    def size(self) -> int:
        return len(self.data_value_set["dataValues"])


def scalar_text(value: Any) -> str | None:
    """A submitted value as DHIS2 wants it (text); ``None`` if it is not a single value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    return None


class _Checker:
    def __init__(self, instance: InstanceSettings) -> None:
        self.instance = instance
        self.errors: list[dict[str, Any]] = []

    def error(self, name: str, message: str) -> None:
        self.errors.append({"field": name, "message": message})

    def uid(self, name: str, value: Any, *, required: bool) -> str | None:
        if value is None or value == "":
            if required:
                self.error(name, "is required")
            return None
        if not is_uid(value):
            self.error(name, f"{value!r} is not a DHIS2 uid (a letter, then 10 letters or digits)")
            return None
        return str(value)

    def period(self, name: str, value: Any, *, required: bool) -> str | None:
        if value is None or value == "":
            if required:
                self.error(name, "is required")
            return None
        if periods.period_type(value) is None:
            self.error(name, periods.explain(value))
            return None
        return str(value)

    def date(self, name: str, value: Any) -> str | None:
        if value is None:
            return None
        try:
            if not isinstance(value, str) or not _DATE.match(value):
                raise ValueError
            date.fromisoformat(value)
        except ValueError:
            self.error(name, f"{value!r} is not a date (YYYY-MM-DD)")
            return None
        return value


async def _org_unit(conn: AsyncConnection, check: _Checker, name: str, value: Any, instance_name: str) -> str | None:
    """An org unit uid, or a code of the org-unit mappings (or anything, under another id scheme)."""
    if value is None or value == "":
        check.error(name, "is required")
        return None
    if not isinstance(value, str):
        check.error(name, "must be a string")
        return None
    if is_uid(value) or check.instance.scheme_for("orgUnit") != "UID":
        return value
    found = await store.org_units_for(conn, [value], instance_name)
    if value in found:
        return found[value]
    check.error(name, f"{value!r} is not a DHIS2 uid and no org-unit mapping has this code")
    return None


async def prepare(
    conn: AsyncConnection,
    body: Any,
    *,
    instance_name: str,
    instance: InstanceSettings,
    unmapped: str,
    mapping_scheme: str | None = None,
    mapping_scope: tuple[str, str] | None = None,
) -> Prepared:
    """Validate and map ``body`` (dhis2gw or native); raises ``InvalidSubmission`` (``NothingMapped``
    when no value has a mapping).

    ``mapping_scheme``: what the keys of a dhis2gw body are, ``code`` or ``uid`` (default: the
    instance's). ``mapping_scope``: map with the data-value mappings of this ``(instance_name,
    source_name)`` only (the dhis2gw API's); ``None``: every mapping.
    """
    if not isinstance(body, dict):
        raise InvalidSubmission(
            "the body must be a JSON object", [{"field": "(body)", "message": "expected an object"}]
        )
    values = body.get("dataValues")
    if isinstance(values, dict):
        scheme = mapping_scheme or instance.mapping_scheme
        prepared = await _from_dhis2gw(
            conn, body, instance_name, instance, unmapped, by_element=scheme == "uid", mapping_scope=mapping_scope
        )
    elif isinstance(values, list):
        prepared = await _from_native(conn, body, instance_name, instance, unmapped, mapping_scope)
    else:
        raise InvalidSubmission(
            "dataValues is missing",
            [{"field": "dataValues", "message": "expected an object of code → value, or a list of data values"}],
        )
    _check_targets(prepared)
    return prepared


async def _from_dhis2gw(
    conn: AsyncConnection,
    body: dict[str, Any],
    instance_name: str,
    instance: InstanceSettings,
    unmapped: str,
    *,
    by_element: bool,
    mapping_scope: tuple[str, str] | None = None,
) -> Prepared:
    check = _Checker(instance)
    dataset = check.uid("dataSet", body.get("dataSet"), required=True)
    period = check.period("period", body.get("period"), required=True)
    org_unit = await _org_unit(conn, check, "orgUnit", body.get("orgUnit"), instance_name)
    complete = check.date("completeDate", body.get("completeDate"))
    aoc = check.uid("attributeOptionCombo", body.get("attributeOptionCombo"), required=False)
    raw_values: dict[str, Any] = body["dataValues"]
    if not raw_values:
        check.error("dataValues", "has no values")
    texts: dict[str, str] = {}
    for code, value in raw_values.items():
        text = scalar_text(value)
        if text is None:
            check.error(f"dataValues.{code}", "must be a number, a string or a boolean")
        else:
            texts[code] = text
    if check.errors:
        raise InvalidSubmission("the submission is invalid", check.errors)
    assert dataset is not None
    if by_element:
        mappings = await store.data_value_mappings_by_element(conn, texts, dataset, scope=mapping_scope)
    else:
        mappings = await store.data_value_mappings_for(conn, texts, dataset, scope=mapping_scope)
    data_values: list[dict[str, Any]] = []
    codes: list[str | None] = []
    origins: list[str] = []
    missing: list[dict[str, Any]] = []
    what = "data element" if by_element else "code"
    for code, text in texts.items():
        rows = mappings.get(code)
        if not rows:
            missing.append({"code": code, "message": f"no mapping for {what} {code!r} in data set {dataset}"})
            continue
        combos = sorted({(r.category_option_combo or "default", r.attribute_option_combo or "default") for r in rows})
        if by_element and len(combos) > 1:
            # dhis2gw kept whichever came last; a value keyed by its data element cannot say which.
            listed = ", ".join(coc if aoc == "default" else f"{coc}/{aoc}" for coc, aoc in combos)
            check.error(
                f"dataValues.{code}",
                f"data element {code!r} is mapped with {len(combos)} option combos in data set {dataset} "
                f"({listed}): key these values by code",
            )
            continue
        row = rows[0]
        item: dict[str, Any] = {"dataElement": row.data_element}
        if row.category_option_combo:
            item["categoryOptionCombo"] = row.category_option_combo
        if row.attribute_option_combo:
            item["attributeOptionCombo"] = row.attribute_option_combo
        item["value"] = text
        data_values.append(item)
        codes.append(code)
        origins.append(f"dataValues.{code}")
    if check.errors:
        raise InvalidSubmission("the submission is invalid", check.errors)
    _apply_unmapped_policy(missing, unmapped, lambda m: f"dataValues.{m['code']}", bool(data_values))
    data_value_set: dict[str, Any] = {"dataSet": dataset}
    if complete:
        data_value_set["completeDate"] = complete
    data_value_set.update(period=period, orgUnit=org_unit)
    if aoc:
        data_value_set["attributeOptionCombo"] = aoc
    data_value_set["dataValues"] = data_values
    return Prepared(data_value_set, codes, origins, missing, "dhis2gw")


async def _from_native(
    conn: AsyncConnection,
    body: dict[str, Any],
    instance_name: str,
    instance: InstanceSettings,
    unmapped: str,
    mapping_scope: tuple[str, str] | None = None,
) -> Prepared:
    check = _Checker(instance)
    dataset = check.uid("dataSet", body.get("dataSet"), required=False)
    top_period = check.period("period", body.get("period"), required=False)
    top_org_unit = None
    if body.get("orgUnit") not in (None, ""):
        top_org_unit = await _org_unit(conn, check, "orgUnit", body.get("orgUnit"), instance_name)
    complete = check.date("completeDate", body.get("completeDate"))
    top_aoc = check.uid("attributeOptionCombo", body.get("attributeOptionCombo"), required=False)
    items: list[Any] = body["dataValues"]
    if not items:
        check.error("dataValues", "has no values")
    by_uid = instance.scheme_for("dataElement") != "UID"
    codes_wanted = {
        i["dataElement"]
        for i in items
        if isinstance(i, dict) and isinstance(i.get("dataElement"), str) and not is_uid(i["dataElement"]) and not by_uid
    }
    mappings = (
        await store.data_value_mappings_for(conn, codes_wanted, dataset, scope=mapping_scope) if codes_wanted else {}
    )
    data_values: list[dict[str, Any]] = []
    codes: list[str | None] = []
    origins: list[str] = []
    missing: list[dict[str, Any]] = []
    for index, raw in enumerate(items):
        where = f"dataValues[{index}]"
        if not isinstance(raw, dict):
            check.error(where, "must be an object")
            continue
        before = len(check.errors)
        element = raw.get("dataElement")
        coc = check.uid(f"{where}.categoryOptionCombo", raw.get("categoryOptionCombo"), required=False)
        aoc = check.uid(f"{where}.attributeOptionCombo", raw.get("attributeOptionCombo"), required=False)
        code: str | None = None
        if not isinstance(element, str) or not element:
            check.error(f"{where}.dataElement", "is required")
        elif not is_uid(element) and not by_uid:
            rows = mappings.get(element, [])
            if len(rows) > 1:
                sets = ", ".join(sorted({r.dataset for r in rows}))
                check.error(
                    f"{where}.dataElement", f"code {element!r} is mapped in several data sets ({sets}): give dataSet"
                )
            elif not rows:
                missing.append({"code": element, "index": index, "message": f"no mapping for code {element!r}"})
                continue
            else:
                code, row = element, rows[0]
                element = row.data_element
                coc = coc or row.category_option_combo
                aoc = aoc or row.attribute_option_combo
        period = raw.get("period") or top_period
        if raw.get("period"):
            period = check.period(f"{where}.period", raw.get("period"), required=True)
        elif body.get("period") in (None, ""):
            check.error(f"{where}.period", "is required (here or at the top level)")
        org_unit = top_org_unit
        if raw.get("orgUnit") not in (None, ""):
            org_unit = await _org_unit(conn, check, f"{where}.orgUnit", raw.get("orgUnit"), instance_name)
        elif top_org_unit is None and body.get("orgUnit") in (None, ""):
            check.error(f"{where}.orgUnit", "is required (here or at the top level)")
        value = scalar_text(raw.get("value"))
        if value is None:
            check.error(f"{where}.value", "is required: a number, a string or a boolean")
        if len(check.errors) > before:
            continue
        item: dict[str, Any] = {"dataElement": element}
        if raw.get("period"):
            item["period"] = period
        if raw.get("orgUnit") not in (None, ""):
            item["orgUnit"] = org_unit
        if coc:
            item["categoryOptionCombo"] = coc
        if aoc:
            item["attributeOptionCombo"] = aoc
        item["value"] = value
        for key in _NATIVE_VALUE_KEYS:
            if key in raw and raw[key] is not None:
                item[key] = raw[key]
        data_values.append(item)
        codes.append(code)
        origins.append(where)
    if check.errors:
        raise InvalidSubmission("the submission is invalid", check.errors)
    _apply_unmapped_policy(missing, unmapped, lambda m: f"dataValues[{m['index']}].dataElement", bool(data_values))
    data_value_set: dict[str, Any] = {}
    if dataset:
        data_value_set["dataSet"] = dataset
    if complete:
        data_value_set["completeDate"] = complete
    if top_period:
        data_value_set["period"] = top_period
    if top_org_unit:
        data_value_set["orgUnit"] = top_org_unit
    if top_aoc:
        data_value_set["attributeOptionCombo"] = top_aoc
    data_value_set["dataValues"] = data_values
    return Prepared(data_value_set, codes, origins, missing, "native")


def _apply_unmapped_policy(missing: list[dict[str, Any]], policy: str, where: Any, anything_left: bool) -> None:
    if not missing:
        return
    errors = [{"field": where(m), "code": m["code"], "message": m["message"]} for m in missing]
    listed = ", ".join(str(m["code"]) for m in missing[:20]) + (", …" if len(missing) > 20 else "")
    if not anything_left:
        raise NothingMapped(f"none of the codes has a mapping ({listed}); nothing to send", errors)
    if policy == "reject":
        raise InvalidSubmission(f"{len(missing)} code(s) have no mapping ({listed}); nothing was accepted", errors)


def _check_targets(prepared: Prepared) -> None:
    """Two values landing on the same DHIS2 cell would silently overwrite each other."""
    top = prepared.data_value_set
    seen: dict[tuple[Any, ...], int] = {}
    errors: list[dict[str, Any]] = []
    for index, (item, origin) in enumerate(zip(top["dataValues"], prepared.origins, strict=True)):
        key = (
            item["dataElement"],
            item.get("categoryOptionCombo"),
            item.get("attributeOptionCombo", top.get("attributeOptionCombo")),
            item.get("period", top.get("period")),
            item.get("orgUnit", top.get("orgUnit")),
        )
        if key in seen:
            other = prepared.origins[seen[key]]
            errors.append(
                {
                    "field": origin,
                    "message": f"sets the same DHIS2 value as {other} "
                    f"(data element {key[0]}, category option combo {key[1] or 'default'})",
                }
            )
        else:
            seen[key] = index
    if errors:
        raise InvalidSubmission("two values target the same DHIS2 value", errors)
