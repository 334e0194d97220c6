"""Checks of spec/openapi.yaml: structure, tool compatibility and the teeth of its schemas."""

from __future__ import annotations

import copy
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import connexion
import pytest
import schemathesis
import yaml
from connexion.middleware.main import ConnexionMiddleware
from connexion.middleware.security import SecurityMiddleware
from connexion.resolver import Resolver
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate

SPEC_PATH = Path(__file__).resolve().parent.parent / "spec" / "openapi.yaml"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}

PAGE = ("start", "limit")

# (method, path, operationId, path + query parameter names)
OPERATIONS: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("delete", "/activities", "deleteActivities", ("ids",)),
    (
        "get",
        "/activities",
        "getActivities",
        ("user_id", "filter_id", "type", *PAGE, "start_date", "end_date", "done"),
    ),
    ("post", "/activities", "addActivity", ()),
    ("get", "/activities/{id}", "getActivity", ("id",)),
    ("put", "/activities/{id}", "updateActivity", ("id",)),
    ("get", "/activityFields", "getActivityFields", ()),
    ("delete", "/activityTypes", "deleteActivityTypes", ("ids",)),
    ("get", "/activityTypes", "getActivityTypes", ()),
    ("post", "/activityTypes", "addActivityType", ()),
    ("delete", "/activityTypes/{id}", "deleteActivityType", ("id",)),
    ("put", "/activityTypes/{id}", "updateActivityType", ("id",)),
    ("get", "/currencies", "getCurrencies", ("term",)),
    ("get", "/dealFields", "getDealFields", PAGE),
    ("post", "/dealFields", "addDealField", ()),
    ("get", "/dealFields/{id}", "getDealField", ("id",)),
    ("delete", "/dealFields/{id}", "deleteDealField", ("id",)),
    ("put", "/dealFields/{id}", "updateDealField", ("id",)),
    ("get", "/deals", "getDeals", ("user_id", "filter_id", "stage_id", "status", *PAGE, "sort", "owned_by_you")),
    ("post", "/deals", "addDeal", ()),
    ("delete", "/deals", "deleteDeals", ("ids",)),
    (
        "get",
        "/deals/search",
        "searchDeals",
        ("term", "fields", "exact_match", "person_id", "organization_id", "status", *PAGE),
    ),
    ("get", "/deals/summary", "getDealsSummary", ("status", "filter_id", "user_id", "stage_id")),
    (
        "get",
        "/deals/timeline",
        "getDealsTimeline",
        (
            "start_date",
            "interval",
            "amount",
            "field_key",
            "user_id",
            "pipeline_id",
            "filter_id",
            "exclude_deals",
            "totals_convert_currency",
        ),
    ),
    ("get", "/deals/{id}", "getDeal", ("id",)),
    ("put", "/deals/{id}", "updateDeal", ("id",)),
    ("get", "/deals/{id}/activities", "getDealActivities", ("id", *PAGE, "done", "exclude")),
    ("get", "/deals/{id}/flow", "getDealUpdates", ("id", *PAGE, "all_changes", "items")),
    ("get", "/deals/{id}/persons", "getDealPersons", ("id", *PAGE)),
    ("get", "/deals/{id}/products", "getDealProducts", ("id", *PAGE, "include_product_data")),
    ("post", "/deals/{id}/products", "addDealProduct", ("id",)),
    ("put", "/deals/{id}/products/{product_attachment_id}", "updateDealProduct", ("id", "product_attachment_id")),
    ("delete", "/deals/{id}/products/{product_attachment_id}", "deleteDealProduct", ("id", "product_attachment_id")),
    ("get", "/filters", "getFilters", ("type",)),
    ("post", "/filters", "addFilter", ()),
    ("get", "/filters/helpers", "getFilterHelpers", ()),
    ("get", "/filters/{id}", "getFilter", ("id",)),
    ("put", "/filters/{id}", "updateFilter", ("id",)),
    (
        "get",
        "/itemSearch",
        "searchItem",
        ("term", "item_types", "fields", "search_for_related_items", "exact_match", "include_fields", *PAGE),
    ),
]

CREATED_201 = {"addActivity", "addDeal"}
# Operations that take no ID anywhere (path, query or body) and so never answer 404.
WITHOUT_IDS = {
    "getActivityFields",
    "getActivityTypes",
    "addActivityType",
    "getCurrencies",
    "getDealFields",
    "addDealField",
    "getFilters",
    "getFilterHelpers",
    "searchItem",
}
EXPECTED_LINKS: dict[str, set[str]] = {
    "addDeal": {
        "getDeal",
        "updateDeal",
        "deleteDeals",
        "getDealActivities",
        "getDealUpdates",
        "getDealPersons",
        "getDealProducts",
        "addDealProduct",
    },
    "addActivity": {"getActivity", "updateActivity", "deleteActivities"},
    "addActivityType": {"updateActivityType", "deleteActivityType"},
    "addDealField": {"getDealField", "updateDealField", "deleteDealField"},
    "addDealProduct": {"updateDealProduct", "deleteDealProduct"},
    "addFilter": {"getFilter", "updateFilter"},
}


@cache
def _load_spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return copy.deepcopy(_load_spec())


def _deref(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _operations(spec: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    found: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                found[operation["operationId"]] = (method, path, operation)
    return found


def _schema_validator(spec: dict[str, Any], name: str) -> OAS30Validator:
    root = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    return OAS30Validator(root, format_checker=oas30_format_checker)


def _errors(spec: dict[str, Any], name: str, instance: Any) -> list[str]:
    return [error.message for error in _schema_validator(spec, name).iter_errors(instance)]


def _sample_deal(spec: dict[str, Any]) -> dict[str, Any]:
    example = spec["paths"]["/deals"]["post"]["responses"]["201"]["content"]["application/json"]["examples"]
    return copy.deepcopy(example["created"]["value"]["data"])


def test_spec_passes_openapi_spec_validator(spec: dict[str, Any]) -> None:
    validate(spec)


def test_spec_has_exactly_the_38_operations(spec: dict[str, Any]) -> None:
    """The reference's 38, and beside them only operations marked as beyond the reference (with their source)."""
    expected = {op_id for _, _, op_id, _ in OPERATIONS}
    assert len(OPERATIONS) == 38
    operations = _operations(spec)
    beyond = {op_id for op_id, (_, _, operation) in operations.items() if operation.get("x-beyond-reference")}
    assert set(operations) - beyond == expected
    assert not beyond & expected


@pytest.mark.parametrize(("method", "path", "operation_id", "param_names"), OPERATIONS, ids=lambda v: str(v))
def test_operation_has_its_method_path_and_parameters(
    spec: dict[str, Any], method: str, path: str, operation_id: str, param_names: tuple[str, ...]
) -> None:
    operation = spec["paths"][path][method]
    assert operation["operationId"] == operation_id
    params = [_deref(spec, p) for p in spec["paths"][path].get("parameters", []) + operation.get("parameters", [])]
    assert sorted(p["name"] for p in params) == sorted(param_names)
    for param in params:
        assert param["in"] in {"path", "query"}
        if param["in"] == "path":
            assert param["required"] is True
            assert param["schema"]["type"] == "integer"


def test_every_operation_is_documented_and_tagged(spec: dict[str, Any]) -> None:
    tags = {tag["name"] for tag in spec["tags"]}
    beyond = {tag["name"] for tag in spec["tags"] if tag.get("x-beyond-reference")}
    assert tags - beyond == {
        "Activities",
        "ActivityFields",
        "ActivityTypes",
        "Currencies",
        "DealFields",
        "Deals",
        "Filters",
        "ItemSearch",
    }
    for op_id, (_, _, operation) in _operations(spec).items():
        assert operation["summary"] and operation["description"], op_id
        assert len(operation["tags"]) == 1 and operation["tags"][0] in tags, op_id


def test_spec_never_names_handlers_or_other_vendors() -> None:
    text = SPEC_PATH.read_text(encoding="utf-8")
    for forbidden in ("x-openapi-router-controller", "InfoFunc", "pipedrive"):
        assert forbidden.lower() not in text.lower()


def test_security_schemes_apply_to_every_operation(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["api_key"] == {**schemes["api_key"], "type": "apiKey", "in": "query", "name": "api_token"}
    assert schemes["api_key_header"] == {
        **schemes["api_key_header"],
        "type": "apiKey",
        "in": "header",
        "name": "x-api-token",
    }
    assert schemes["oauth2"]["type"] == "http" and schemes["oauth2"]["scheme"] == "bearer"
    assert spec["security"] == [{"api_key": []}, {"api_key_header": []}, {"oauth2": []}]
    for op_id, (_, _, operation) in _operations(spec).items():
        assert "security" not in operation, f"{op_id} overrides the global security"
    assert spec["servers"][0]["url"] == "/v1"


@pytest.mark.parametrize("operation_id", [op_id for _, _, op_id, _ in OPERATIONS])
def test_operation_answers_the_documented_statuses(spec: dict[str, Any], operation_id: str) -> None:
    _, _, operation = _operations(spec)[operation_id]
    responses = operation["responses"]
    success = "201" if operation_id in CREATED_201 else "200"
    assert [code for code in responses if code.startswith("2")] == [success]
    for code in ("401", "429", "500"):
        assert code in responses
    has_input = bool(operation.get("parameters")) or "requestBody" in operation
    assert ("400" in responses) == has_input
    assert ("404" in responses) == (operation_id not in WITHOUT_IDS)
    envelope = _deref(spec, responses[success]["content"]["application/json"]["schema"])
    assert {"success", "data"} <= set(envelope["required"])


def test_error_responses_share_the_error_schema(spec: dict[str, Any]) -> None:
    responses = spec["components"]["responses"]
    for name in ("BadRequest", "Unauthorized", "NotFound", "TooManyRequests", "ServerError"):
        content = responses[name]["content"]["application/json"]
        assert content["schema"] == {"$ref": "#/components/schemas/Error"}
        assert _errors(spec, "Error", content["example"]) == []
    headers = responses["TooManyRequests"]["headers"]
    assert set(headers) == {"Retry-After", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"}
    assert _errors(spec, "Error", {"success": True, "error": "x"}) != []


@pytest.mark.parametrize("operation_id", sorted(EXPECTED_LINKS))
def test_create_operation_links_to_the_operations_on_its_resource(spec: dict[str, Any], operation_id: str) -> None:
    _, _, operation = _operations(spec)[operation_id]
    success = "201" if operation_id in CREATED_201 else "200"
    links = operation["responses"][success]["links"]
    assert {link["operationId"] for link in links.values()} == EXPECTED_LINKS[operation_id]
    for link in links.values():
        assert link["parameters"]


def test_schemathesis_loads_all_operations_and_links() -> None:
    schema = schemathesis.openapi.from_path(str(SPEC_PATH))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(_operations(yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))))
    schema.as_state_machine()  # raises InvalidStateMachine when a link is broken


def _dummy_app() -> connexion.AsyncApp:
    async def dummy(*_args: Any, **_kwargs: Any) -> tuple[dict[str, Any], int]:
        return {"success": True, "data": None}, 200

    # The real server authenticates in its own middleware, so Connexion's is left out here too.
    middlewares = [m for m in ConnexionMiddleware.default_middlewares if m is not SecurityMiddleware]
    app = connexion.AsyncApp(__name__, middlewares=middlewares)
    app.add_api(SPEC_PATH, resolver=Resolver(function_resolver=lambda _id: dummy))
    return app


def test_connexion_loads_the_spec_without_warnings() -> None:
    async def dummy() -> None:
        return None

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        app = connexion.AsyncApp(__name__)
        app.add_api(SPEC_PATH, resolver=Resolver(function_resolver=lambda _id: dummy))


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "Size", "field_type": "enum", "options": [{"label": "S"}]}, 200),
        ({"name": "Notes", "field_type": "varchar"}, 200),
        ({"name": "Size", "field_type": "enum"}, 400),
        ({"name": "Size", "field_type": "set", "options": []}, 400),
        ({"name": "Size", "field_type": "enum", "options": None}, 400),
        ({"name": "", "field_type": "varchar"}, 400),
        ({"field_type": "varchar"}, 400),
    ],
)
def test_connexion_enforces_options_for_enum_and_set_fields(body: dict[str, Any], status: int) -> None:
    response = _dummy_app().test_client().post("/v1/dealFields", json=body)
    assert response.status_code == status


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"org_id": 1, "name": "Renewal", "value": "12.50", "dcf558aac1ae4e8c4f849ba5e668430d8df9be12": 5}, 200),
        ({"person_id": 1, "value": 12, "close_time": None}, 200),
        ({"name": "No contact"}, 400),
        ({"org_id": 1, "value": "lots"}, 400),
        ({"org_id": 1, "won_time": "2024-01-01T10:00:00Z"}, 400),
    ],
)
def test_connexion_validates_deal_bodies(body: dict[str, Any], status: int) -> None:
    response = _dummy_app().test_client().post("/v1/deals", json=body)
    assert response.status_code == status


def test_connexion_parses_comma_separated_ids() -> None:
    client = _dummy_app().test_client()
    assert client.delete("/v1/deals", params={"ids": "1,2,3"}).status_code == 200
    assert client.delete("/v1/deals", params={"ids": "1,x"}).status_code == 400
    assert client.get("/v1/deals", params={"limit": 501}).status_code == 400


def test_valid_sample_deal_passes_the_deal_schema(spec: dict[str, Any]) -> None:
    deal = _sample_deal(spec)
    assert _errors(spec, "Deal", deal) == []
    deal.update(person_id=None, org_id=None, won_time=None, probability=None)
    assert _errors(spec, "Deal", deal) == []


def test_deal_missing_name_fails_the_deal_schema(spec: dict[str, Any]) -> None:
    deal = _sample_deal(spec)
    del deal["name"]
    assert _errors(spec, "Deal", deal)


def test_deal_with_string_value_fails_the_deal_schema(spec: dict[str, Any]) -> None:
    deal = _sample_deal(spec)
    deal["value"] = "x"
    assert _errors(spec, "Deal", deal)


def test_deal_with_string_id_or_unknown_status_fails_the_deal_schema(spec: dict[str, Any]) -> None:
    for field, bad in (("id", "42"), ("status", "archived"), ("user_id", None), ("creator_user_id", {"id": 1})):
        deal = _sample_deal(spec)
        deal[field] = bad
        assert _errors(spec, "Deal", deal), field


def test_iso_datetime_fails_the_datetime_pattern(spec: dict[str, Any]) -> None:
    assert _errors(spec, "DateTime", "2024-03-01 09:30:00") == []
    assert _errors(spec, "DateTime", "2024-03-01T09:30:00Z")
    deal = _sample_deal(spec)
    deal["add_time"] = "2019-08-24T14:15:22Z"
    assert _errors(spec, "Deal", deal)


def test_response_examples_match_their_schemas(spec: dict[str, Any]) -> None:
    checked = 0
    for _, _, operation in _operations(spec).values():
        contents = [r.get("content", {}).get("application/json", {}) for r in operation["responses"].values()]
        if "requestBody" in operation:
            contents.append(operation["requestBody"]["content"]["application/json"])
        for content in contents:
            for example in content.get("examples", {}).values():
                name = content["schema"]["$ref"].rsplit("/", 1)[-1]
                assert _errors(spec, name, example["value"]) == [], name
                checked += 1
    assert checked >= 4


def test_related_objects_are_maps_keyed_by_id(spec: dict[str, Any]) -> None:
    related = {
        "stage": {"2": {"id": 2, "name": "Qualified", "order_nbr": 2, "pipeline_id": 1, "active_flag": True}},
        "pipeline": {"1": {"id": 1, "name": "Sales", "order_nbr": 1, "active_flag": True, "deal_probability": 1}},
    }
    assert _errors(spec, "RelatedObjects", related) == []
    flat_stage = {"stage": related["stage"]["2"]}
    assert _errors(spec, "RelatedObjects", flat_stage)


def test_filter_conditions_are_strict(spec: dict[str, Any]) -> None:
    condition = {"object": "deal", "field_id": "12", "operator": ">", "value": 100, "extra_value": None}
    good = {"glue": "and", "conditions": [{"glue": "and", "conditions": [condition]}, {"glue": "or", "conditions": []}]}
    assert _errors(spec, "FilterConditions", good) == []
    bad_operator = copy.deepcopy(good)
    bad_operator["conditions"][0]["conditions"][0]["operator"] = "~"
    assert _errors(spec, "FilterConditions", bad_operator)
    too_many_groups = {"glue": "and", "conditions": [{"glue": "and", "conditions": []}] * 3}
    assert _errors(spec, "FilterConditions", too_many_groups)
    extra_key = copy.deepcopy(good)
    extra_key["conditions"][0]["conditions"][0]["colour"] = "red"
    assert _errors(spec, "FilterConditions", extra_key)


def test_search_items_are_told_apart_by_type(spec: dict[str, Any]) -> None:
    product = {"id": 1, "type": "product", "name": "Widget", "code": None, "owner": {"id": 1}, "custom_fields": []}
    hit = {"result_score": 0.9, "item": product}
    assert _errors(spec, "ItemSearchHit", hit) == []
    assert _errors(spec, "ItemSearchHit", {"result_score": 0.9, "item": {**product, "type": "lead"}})
