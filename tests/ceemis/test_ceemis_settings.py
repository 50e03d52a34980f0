"""``[plugins.ceemis]`` validation, and the pieces that need no gateway: field map, forms, answers."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from plugins.ceemis.answers import case_id_of, field_errors
from plugins.ceemis.forms import case_form, lookup
from plugins.ceemis.settings import DEFAULT_FIELDS, CEEMISSettings

PATTERN = re.compile(r"MGLSD\d+")


def test_an_empty_table_is_valid_and_has_the_built_in_field_map() -> None:
    settings = CEEMISSettings.model_validate({})
    assert settings.case_id_pattern == r"MGLSD\d+"
    assert settings.field_map()["narrative"] == ["mw_narative"]
    assert len(settings.field_map()) == len(DEFAULT_FIELDS)


@pytest.mark.parametrize(
    ("table", "word"),
    [
        ({"case_id_pattern": "MGLSD(\\d+"}, "regular expression"),
        ({"create_url": "not a url"}, "create_url"),
        ({"fields": {"narrative": "mw narrative"}}, "form field name"),
        ({"fields": {"clients_case..fname": "mw_name"}}, "field path"),
        ({"defaults": {"bad name": "x"}}, "form field name"),
        ({"webhooks": {"whatsapp": {}}}, "unknown webhook"),
        ({"webhooks": {"helpline": {"secret": "short"}}}, "secret"),
        ({"tokn": "x"}, "tokn"),
    ],
)
def test_a_wrong_setting_is_refused_naming_it(table: dict[str, object], word: str) -> None:
    with pytest.raises(ValidationError) as raised:
        CEEMISSettings.model_validate(table)
    assert word in str(raised.value)


def test_configured_fields_replace_or_drop_built_in_mappings() -> None:
    settings = CEEMISSettings.model_validate({"fields": {"narrative": "", "src_ts": ["call_time"]}})
    mapping = settings.field_map()
    assert "narrative" not in mapping and mapping["src_ts"] == ["call_time"]


def test_lookup_takes_the_first_item_of_a_list_unless_indexed() -> None:
    case = {"clients_case": [{"fname": "A"}, {"fname": "B"}], "tags": ["x", "y"]}
    assert lookup(case, "clients_case.fname") == "A"
    assert lookup(case, "clients_case.1.fname") == "B"
    assert lookup(case, "clients_case.5.fname") is None
    assert lookup(case, "tags") == "x"
    assert lookup(case, "missing.path") is None


def test_a_form_leaves_out_empty_values_and_fills_defaults() -> None:
    form = case_form({"narrative": "  ", "case_category": "Abuse"}, {"narrative": ["mw_narative"], "case_category": ["comp_category"]}, {"mw_narative": "n/a"})
    assert form == {"comp_category": "Abuse", "mw_narative": "n/a"}


@pytest.mark.parametrize(
    ("answer", "case_id"),
    [
        ('{"status": "success", "caseid": "MGLSD000012"}', "MGLSD000012"),
        ('{"data": {"case_id": 77}}', "77"),
        ("Case MGLSD000013 created", "MGLSD000013"),
        ('{"status": "success"}', None),
    ],
)
def test_the_case_id_is_read_from_json_or_text(answer: str, case_id: str | None) -> None:
    assert case_id_of(answer, PATTERN) == case_id


def test_field_errors_are_read_from_either_shape() -> None:
    assert field_errors('{"errors": {"mw_phone": ["required", "too short"]}}') == [
        {"field": "mw_phone", "message": "required"},
        {"field": "mw_phone", "message": "too short"},
    ]
    assert field_errors('{"errors": [{"field": "mw_name", "message": "blank"}]}') == [
        {"field": "mw_name", "message": "blank"}
    ]
    assert field_errors("Bad Request") == []
