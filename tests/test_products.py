"""API tests of products and product fields: lists, prices per currency, custom fields, search, filters, deals."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mock_server.data import fixtures
from tests.conftest import Api, admin, assert_error
from tests.fixture_data import FIXTURES, fixture

HEX_KEY = re.compile(r"^[0-9a-f]{40}$")


def add_product(api: Api, **body: Any) -> dict[str, Any]:
    product: dict[str, Any] = api.data("POST", "/products", json={"name": "Torque Sensor", **body})
    return product


def test_get_products__lists_the_fixture_products_with_their_owner_and_prices(api: Api) -> None:
    products = api.data("GET", "/products?limit=500")

    assert [product["id"] for product in products] == [product["id"] for product in fixture("products")]
    first, stored = products[0], fixture("products")[0]
    assert first["prices"] == stored["prices"]
    assert first["owner_id"]["value"] == stored["owner_id"]


def test_get_products__by_owner_first_char_ids_and_summary(api: Api) -> None:
    stored = fixture("products")
    owned = api.data("GET", "/products?user_id=2&limit=500")
    assert [p["id"] for p in owned] == [p["id"] for p in stored if p["owner_id"] == 2]

    letter = stored[0]["name"][0].lower()
    by_letter = api.data("GET", f"/products?first_char={letter}&limit=500")
    assert [p["id"] for p in by_letter] == [p["id"] for p in stored if p["name"].lower().startswith(letter)]

    response = api.get("/products?ids=2,3&get_summary=true&limit=1")
    assert [p["id"] for p in response.json()["data"]] == [2]
    assert response.json()["additional_data"]["summary"] == {"total_count": 2}


def test_add_product__defaults_to_a_zero_price_in_the_company_currency(api: Api) -> None:
    product = add_product(api)

    currency = fixture("company")["default_currency"]
    assert product["prices"] == [{"currency": currency, "price": 0, "cost": 0, "overhead_cost": 0}]
    assert product["owner_id"]["value"] == fixture("company")["api_user_id"]
    assert api.data("GET", f"/products/{product['id']}") == product


def test_add_product__keeps_one_price_per_currency(api: Api) -> None:
    prices = [{"currency": "EUR", "price": 10, "cost": 4}, {"currency": "USD", "price": 11.5}]

    product = add_product(api, prices=prices)

    assert product["prices"] == [
        {"currency": "EUR", "price": 10, "cost": 4, "overhead_cost": 0},
        {"currency": "USD", "price": 11.5, "cost": 0, "overhead_cost": 0},
    ]


@pytest.mark.parametrize(
    ("prices", "status", "named"),
    [
        ([{"currency": "EUR", "price": 1}, {"currency": "EUR", "price": 2}], 400, "prices[1].currency"),
        ([{"currency": "XYZ", "price": 1}], 404, "prices[0].currency"),
        ([{"price": 1}], 400, "currency"),
        ([{"currency": "EUR", "price": "cheap"}], 400, "price"),
        ("EUR 10", 400, "prices"),
    ],
)
def test_add_product__bad_prices_are_refused_naming_the_field(api: Api, prices: Any, status: int, named: str) -> None:
    count = len(api.data("GET", "/products?limit=500"))

    assert_error(api.post("/products", json={"name": "Bad", "prices": prices}), status, named)
    assert len(api.data("GET", "/products?limit=500")) == count


def test_update_product__replaces_prices_and_changes_what_deals_show(api: Api) -> None:
    updated = api.data(
        "PUT", "/products/1", json={"name": "Spindle Kit XL", "prices": [{"currency": "EUR", "price": 9}]}
    )

    assert updated["prices"] == [{"currency": "EUR", "price": 9, "cost": 0, "overhead_cost": 0}]
    line = next(line for line in fixture("deal_products") if line["product_id"] == 1)
    lines = api.data("GET", f"/deals/{line['deal_id']}/products?include_product_data=1")
    assert {entry["product"]["name"] for entry in lines if entry["product_id"] == 1} == {"Spindle Kit XL"}


def test_update_product__unknown_owner_is_404(api: Api) -> None:
    assert_error(api.put("/products/1", json={"owner_id": 999}), 404, "owner_id")


def test_delete_product__hides_it_and_keeps_deal_lines(api: Api) -> None:
    line = next(line for line in fixture("deal_products") if line["product_id"] == 2)

    assert api.data("DELETE", "/products/2") == {"id": 2}

    assert_error(api.get("/products/2"), 404)
    assert 2 not in [product["id"] for product in api.data("GET", "/products?limit=500")]
    assert 2 in [entry["product_id"] for entry in api.data("GET", f"/deals/{line['deal_id']}/products")]
    assert_error(api.post(f"/deals/{line['deal_id']}/products", json={"product_id": 2, "item_price": 1,
                                                                      "quantity": 1}), 404, "product_id")  # fmt: skip


def test_get_product_deals__the_deals_with_a_line_of_it(api: Api) -> None:
    deal_ids = {line["deal_id"] for line in fixture("deal_products") if line["product_id"] == 2}
    expected = [deal["id"] for deal in fixture("deals") if deal["id"] in deal_ids and deal["status"] != "deleted"]

    assert [deal["id"] for deal in api.data("GET", "/products/2/deals?limit=500")] == expected
    assert_error(api.get("/products/999/deals"), 404)


def test_search_products__finds_new_and_changed_products_at_once(api: Api) -> None:
    product = add_product(api, code="TQ-77")

    found = api.data("GET", "/products/search?term=TQ-77")["items"]
    assert [hit["item"]["id"] for hit in found] == [product["id"]]

    api.data("PUT", f"/products/{product['id']}", json={"code": "RENAMED-1"})
    assert api.data("GET", "/products/search?term=TQ-77")["items"] == []
    by_name = api.data("GET", "/products/search?term=Torque&fields=name")["items"]
    assert product["id"] in [hit["item"]["id"] for hit in by_name]
    assert_error(api.get("/products/search?term=T"), 400, "term")


def test_item_search_sees_a_new_product(api: Api) -> None:
    product = add_product(api, name="Gyroscopic Balancer")

    hits = api.data("GET", "/itemSearch?term=Gyroscopic&item_types=product")["items"]
    assert [hit["item"]["id"] for hit in hits] == [product["id"]]


def test_product_fields__built_ins_then_custom_with_values_on_products(api: Api) -> None:
    fields = api.data("GET", "/productFields")
    assert [field["key"] for field in fields] == [field["key"] for field in fixture("product_fields")]

    field = api.data("POST", "/productFields", json={"name": "Voltage", "field_type": "double"})
    assert HEX_KEY.match(field["key"]) and api.data("GET", f"/productFields/{field['id']}") == field

    product = add_product(api, **{field["key"]: 230})
    assert product[field["key"]] == 230
    assert_error(api.post("/products", json={"name": "X", field["key"]: "high"}), 400, "Voltage")

    renamed = api.data("PUT", f"/productFields/{field['id']}", json={"name": "Volts"})
    assert renamed["name"] == "Volts"
    assert api.data("DELETE", f"/productFields/{field['id']}") == {"id": field["id"]}
    assert field["key"] not in api.data("GET", f"/products/{product['id']}")
    assert_error(api.get(f"/productFields/{field['id']}"), 404)


def test_product_fields__built_in_cannot_be_deleted(api: Api) -> None:
    assert_error(api.delete("/productFields/13002"), 400, "built-in")


def test_filters_of_type_products_apply_to_the_product_list(api: Api) -> None:
    conditions = {"glue": "and", "conditions": [
        {"glue": "and", "conditions": [{"object": "product", "field_id": "13003", "operator": "LIKE '$%'",
                                        "value": "NW-"}]},
        {"glue": "or", "conditions": []},
    ]}  # fmt: skip
    saved = api.data("POST", "/filters", json={"name": "Northwind codes", "type": "products", "conditions": conditions})
    new = add_product(api, code="NW-NEW-1")

    listed = api.data("GET", f"/products?filter_id={saved['id']}&limit=500")

    expected = [p["id"] for p in fixture("products") if (p["code"] or "").startswith("NW-")] + [new["id"]]
    assert [product["id"] for product in listed] == expected
    assert_error(api.get("/products?filter_id=1"), 400, "filter_id")


def test_a_fixture_folder_without_product_fields_loads_with_none(tmp_path: Path) -> None:
    for source in FIXTURES.iterdir():
        if source.stem != "product_fields":
            shutil.copy(source, tmp_path / source.name)

    loaded = fixtures.load(tmp_path)

    assert loaded.records["product_fields"] == []
    assert fixtures.load(FIXTURES).records["product_fields"] == fixture("product_fields")


def test_search_products__finds_values_of_searchable_custom_fields(api: Api) -> None:
    field = api.data("POST", "/productFields", json={"name": "Material", "field_type": "varchar"})
    product = add_product(api, **{field["key"]: "Zirconia ceramic"})

    hits = api.data("GET", "/products/search?term=zirconia&fields=custom_fields")["items"]
    assert [(hit["item"]["id"], hit["item"]["custom_fields"]) for hit in hits] == [
        (product["id"], ["Zirconia ceramic"])
    ]
    assert api.data("GET", "/products/search?term=zirconia&fields=name")["items"] == []


def test_state_export_and_import_keep_the_catalog(client: TestClient, api: Api) -> None:
    field = api.data("POST", "/productFields", json={"name": "Grade", "field_type": "varchar"})
    product = add_product(api, **{field["key"]: "A2"})
    pipeline = api.data("POST", "/pipelines", json={"name": "Exported"})
    note = api.data("POST", "/notes", json={"content": "Exported note", "deal_id": 60})
    state = admin(client, "GET", f"/tenants/{api.token}/state")
    other = Api(client, api.token + "-copy")

    admin(client, "PUT", f"/tenants/{other.token}/state", json=state)

    assert other.data("GET", f"/products/{product['id']}")[field["key"]] == "A2"
    assert other.data("GET", f"/productFields/{field['id']}")["name"] == "Grade"
    assert other.data("GET", f"/pipelines/{pipeline['id']}")["name"] == "Exported"
    assert other.data("GET", f"/notes/{note['id']}")["content"] == "Exported note"
    assert other.data("POST", "/productFields", json={"name": "Next", "field_type": "text"})["id"] > field["id"]
