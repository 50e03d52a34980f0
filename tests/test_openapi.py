"""/openapi.json is complete enough to generate clients from: codes, answer schemas, typed parameters."""

from __future__ import annotations


async def test_routes_declare_the_success_codes_they_really_answer(client) -> None:  # type: ignore[no-untyped-def]
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "201" in paths["/api/users"]["post"]["responses"] and "200" not in paths["/api/users"]["post"]["responses"]
    assert "204" in paths["/api/deliveries/{id}"]["delete"]["responses"]
    assert "202" in paths["/api/conversations/{id}/messages"]["post"]["responses"]
    assert "201" in paths["/api/api-keys"]["post"]["responses"]


async def test_answers_of_the_api_have_schemas(client) -> None:  # type: ignore[no-untyped-def]
    doc = (await client.get("/openapi.json")).json()
    created = doc["paths"]["/api/users"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert {"id", "username", "role"} <= set(created["required"])
    listed = doc["paths"]["/api/deliveries"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert listed["required"] == ["items", "next", "newer"]
    assert listed["properties"]["newer"] == {"type": ["string", "null"]}
    users = doc["paths"]["/api/users"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert users["required"] == ["items", "next"]  # users and keys page one way only
    assert "content" not in doc["paths"]["/api/deliveries/{id}"]["delete"]["responses"]["204"]


async def test_integer_path_parameters_are_integers(client) -> None:  # type: ignore[no-untyped-def]
    doc = (await client.get("/openapi.json")).json()
    [param] = doc["paths"]["/api/logs/{id}"]["get"]["parameters"]
    assert param["schema"]["type"] == "integer"


async def test_model_references_resolve_within_the_document(client) -> None:  # type: ignore[no-untyped-def]
    text = (await client.get("/openapi.json")).text
    assert "#/$defs/" not in text


async def test_each_list_answer_matches_its_declared_page_schema(client) -> None:  # type: ignore[no-untyped-def]
    """What the lists answer carries every key their schema requires, and no key it does not declare."""
    from core.testing import user_headers

    doc = (await client.get("/openapi.json")).json()
    headers = await user_headers(client.gateway, "operator")
    for path in ("/api/messages", "/api/deliveries", "/api/conversations", "/api/logs"):
        schema = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        answer = (await client.get(path, headers=headers)).json()
        assert set(answer) == set(schema["properties"]) == set(schema["required"]), path
