"""mock_server.http.validation: compiled validators decide, `jsonschema` words the rejects as before."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import yaml
from connexion.json_schema import Draft4RequestValidator, resolve_refs
from jsonschema import Draft4Validator
from starlette.datastructures import QueryParams

from mock_server import SPEC_PATH
from mock_server.app import create_app
from mock_server.http import validation
from mock_server.http.validation import FORMATS, CompiledValidator, LenientURIParser, nullable_as_null_type
from mock_server.settings import Settings
from tests.conftest import Api, assert_error

SPEC = resolve_refs(yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8")))
UPDATE_DEAL = SPEC["paths"]["/deals/{id}"]["put"]["requestBody"]["content"]["application/json"]["schema"]
ADD_ACTIVITY = SPEC["paths"]["/activities"]["post"]["requestBody"]["content"]["application/json"]["schema"]


class NeverAsked:
    """An explainer that fails the test if the compiled validator's verdict of a valid value is second-guessed."""

    def iter_errors(self, _value: Any) -> Iterator[Any]:
        raise AssertionError("a valid value was validated twice")


@pytest.mark.parametrize(
    "body",
    [{"name": "A deal", "value": "12.50"}, {"value": 3, "channel": None}, {"origin_id": None, "status": "won"}, {}],
)
def test_compiled_validator__valid_values_are_not_validated_again(body: dict[str, Any]) -> None:
    assert CompiledValidator(UPDATE_DEAL, NeverAsked()).error(body) is None


@pytest.mark.parametrize(
    ("schema", "body"),
    [
        (UPDATE_DEAL, {"name": ""}),
        (UPDATE_DEAL, {"value": "ten"}),
        (UPDATE_DEAL, {"status": "sideways"}),
        (UPDATE_DEAL, {"channel": "web"}),
        (UPDATE_DEAL, {"probability": 101}),
        (UPDATE_DEAL, {"expected_close_date": "2026-02-30"}),
        (UPDATE_DEAL, {"won_time": "2026-02-27T10:00:00"}),
        (UPDATE_DEAL, [1, 2]),
        (ADD_ACTIVITY, {"subject": "Call", "due_date": "2026-13-01"}),
    ],
)
def test_compiled_validator__rejects_what_jsonschema_rejects_with_its_words(schema: dict[str, Any], body: Any) -> None:
    explainer = Draft4RequestValidator(schema, format_checker=FORMATS)

    error = CompiledValidator(schema, explainer).error(body)

    assert error is not None
    assert error.message == next(iter(explainer.iter_errors(body))).message
    assert list(error.absolute_path) == list(next(iter(explainer.iter_errors(body))).absolute_path)


def test_compiled_validator__a_reject_jsonschema_does_not_confirm_passes() -> None:
    # The compiled validator checks e-mail addresses fully; the `jsonschema` checker only looks for an "@".
    schema = {"type": "string", "format": "email"}
    validator = CompiledValidator(schema, Draft4Validator(schema, format_checker=FORMATS))

    assert not validator.compiled.is_valid("name@")
    assert validator.error("name@") is None


def test_nullable_as_null_type__null_only_where_the_schema_says_nullable() -> None:
    schema = {
        "type": "object",
        "properties": {
            "loose": {"type": "integer", "nullable": True},
            "strict": {"type": "integer"},
            "choice": {"type": "string", "enum": ["a", "b"], "nullable": True},
        },
    }
    validator = CompiledValidator(schema, Draft4RequestValidator(schema, format_checker=FORMATS))

    assert nullable_as_null_type(schema)["properties"]["loose"]["type"] == ["integer", "null"]
    assert validator.error({"loose": None, "choice": None}) is None
    assert validator.error({"strict": None}) is not None
    assert schema["properties"]["loose"]["type"] == "integer"  # the spec's own schema is left as it was


def test_nullable_as_null_type__a_sub_schema_standing_in_many_places_is_converted_once_and_alike() -> None:
    shared = {"type": "string", "nullable": True}  # a `$ref` resolved in place: one object, many places
    schema = {"type": "object", "properties": {"a": shared, "b": {"type": "array", "items": shared}}}

    converted = nullable_as_null_type(schema)

    assert (
        converted["properties"]["a"]
        == converted["properties"]["b"]["items"]
        == {"type": ["string", "null"], "nullable": True}
    )
    assert converted["properties"]["a"] is converted["properties"]["b"]["items"]  # one copy for the one original
    assert shared == {"type": "string", "nullable": True}


def test_the_spec_components_are_compiled_with_a_body_only_while_a_ref_needs_them() -> None:
    components = {"schemas": {"Name": {"type": "string"}}}
    resolved = {"type": "object", "properties": {"name": {"type": "string"}}, "components": components}
    pointing = {"type": "object", "properties": {"name": {"$ref": "#/components/schemas/Name"}},
                "components": components}  # fmt: skip

    assert "components" not in validation.without_unused_components(resolved)
    assert validation.without_unused_components(pointing) is pointing
    for schema in (resolved, pointing):
        validator = CompiledValidator(schema, Draft4Validator(schema))
        assert validator.compiled is not None
        assert validator.compiled.is_valid({"name": "a"}) and not validator.compiled.is_valid({"name": 7})


def test_api__a_nullable_body_field_takes_null_and_a_typed_one_names_itself(api: Api) -> None:
    assert api.data("PUT", "/deals/1", json={"channel": None, "origin_id": None})["id"] == 1

    assert_error(api.put("/deals/1", json={"channel": "web"}), 400, "body field 'channel'", "'web'")


def test_api__a_bad_query_parameter_is_named(api: Api) -> None:
    assert_error(api.get("/deals", params={"limit": "0"}), 400, "query parameter 'limit'")


def test_a_schema_that_holds_itself_is_validated_without_the_compiled_validator() -> None:
    from jsonschema import Draft4Validator

    from mock_server.http.validation import CompiledValidator

    node: dict[str, Any] = {"type": "object", "properties": {"name": {"type": "string"}}}
    node["properties"]["children"] = {"type": "array", "items": node}  # a `$ref` to itself, resolved in place
    validator = CompiledValidator(node, Draft4Validator(node))
    assert validator.compiled is None
    assert validator.error({"name": "a", "children": [{"name": "b", "children": []}]}) is None
    error = validator.error({"name": "a", "children": [{"name": 7}]})
    assert error is not None and list(error.absolute_path) == ["children", 0, "name"]


def test_uri_parser__deep_object_keys_are_read_only_where_a_parameter_has_that_style() -> None:
    deep = {"name": "where", "in": "query", "style": "deepObject", "explode": True,
            "schema": {"type": "object", "additionalProperties": {"type": "string"}}}  # fmt: skip
    flat = {"name": "term", "in": "query", "schema": {"type": "string"}}

    with_deep = LenientURIParser([deep, flat], {})
    assert with_deep.resolve_query({"where[status]": ["open"], "term": ["Oy"]}) == {
        "where": {"status": "open"}, "term": "Oy"}  # fmt: skip
    without = LenientURIParser([flat], {})
    assert without.resolve_query({"where[status]": ["open"], "term": ["Oy"]}) == {
        "where[status]": ["open"], "term": "Oy"}  # fmt: skip


@pytest.mark.parametrize("threaded_from", [validation.THREADED_PARSE_BYTES, 64])
def test_a_body_that_arrives_in_many_messages_is_parsed_whole(
    monkeypatch: pytest.MonkeyPatch, threaded_from: int
) -> None:
    monkeypatch.setattr(validation, "THREADED_PARSE_BYTES", threaded_from)
    app = create_app(Settings())

    async def run() -> tuple[int, str, str]:
        # httpx's ASGI transport hands the app each piece of a streamed body as a message of its own.
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock") as client:
            state = (await client.get("/__mock__/tenants/chunked/state")).json()
            state["records"]["deals"][0]["name"] = "Sent in pieces"
            raw = json.dumps(state).encode()

            async def pieces() -> AsyncIterator[bytes]:
                for start in range(0, len(raw), 1000):
                    yield raw[start : start + 1000]

            headers = {"content-type": "application/json", "content-length": str(len(raw))}
            answer = await client.put("/__mock__/tenants/chunked/state", content=pieces(), headers=headers)
            deal = await client.get(f"/v1/deals/{state['records']['deals'][0]['id']}",
                                    headers={"x-api-token": "chunked"})  # fmt: skip
            return answer.status_code, answer.text, deal.json()["data"]["name"]

    status, text, name = asyncio.run(run())
    assert status == 200, text
    assert name == "Sent in pieces"


@pytest.mark.parametrize("threaded_from", [validation.THREADED_PARSE_BYTES, 64])
def test_a_body_sent_in_chunks_without_a_length_is_read_as_sent(
    monkeypatch: pytest.MonkeyPatch, threaded_from: int
) -> None:
    monkeypatch.setattr(validation, "THREADED_PARSE_BYTES", threaded_from)
    app = create_app(Settings())

    async def run() -> tuple[httpx.Response, httpx.Response, str]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock") as client:

            def chunked(raw: bytes) -> AsyncIterator[bytes]:
                async def pieces() -> AsyncIterator[bytes]:
                    for start in range(0, len(raw), 100):
                        yield raw[start : start + 100]

                return pieces()

            # No length given: httpx sends `Transfer-Encoding: chunked`, as a client streaming a body does.
            headers = {"content-type": "application/json", "x-api-token": "chunked"}
            created = await client.post("/v1/deals", content=chunked(b'{"name": "Streamed", "org_id": 1}'),
                                        headers=headers)  # fmt: skip
            state = (await client.get("/__mock__/tenants/chunked/state")).json()
            state["records"]["deals"][0]["name"] = "Imported in chunks"
            imported = await client.put("/__mock__/tenants/chunked/state", content=chunked(json.dumps(state).encode()),
                                        headers=headers)  # fmt: skip
            deal = await client.get(f"/v1/deals/{state['records']['deals'][0]['id']}", headers=headers)
            return created, imported, deal.json()["data"]["name"]

    created, imported, name = asyncio.run(run())
    assert created.status_code == 201, created.text
    assert created.json()["data"]["name"] == "Streamed"
    assert imported.status_code == 200, imported.text
    assert name == "Imported in chunks"


@pytest.mark.parametrize(
    "query",
    [b"", b"term=Oy", b"ids=1,2&ids=3&limit=", b"a=1&b=2&a=3", b"name=%C3%85sa+Oy&x=%26", b"flag&=&k=v=w", b"a=1;b=2"],
)
def test_query_lists__the_lists_connexion_reads_from_starlettes_query_parameters(query: bytes) -> None:
    params = QueryParams(query)

    assert validation.query_lists(query) == {name: params.getlist(name) for name in params}
    assert list(validation.query_lists(query)) == list(params)  # names in the order first sent
