"""API tests of products attached to deals: the list and its totals, add, update, delete, and the deal's value."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Api, assert_error

from tests.fixture_data import RESOURCE_MISSING, fixture


def lines_of(deal_id: int) -> list[dict[str, Any]]:
    lines = [dict(line) for line in fixture("deal_products") if line["deal_id"] == deal_id]
    return sorted(lines, key=lambda line: (line["order_nbr"], line["id"]))


def deal(deal_id: int) -> dict[str, Any]:
    return dict(next(record for record in fixture("deals") if record["id"] == deal_id))


def expected_sum(line: dict[str, Any]) -> float:
    """The rule of docs/behaviour.md: price × quantity × duration, less the discount, plus tax only when exclusive."""
    gross = line["item_price"] * line["quantity"] * line.get("duration", 1)
    if line.get("discount_type") == "amount":
        net = gross - line.get("discount", 0)
    else:
        net = gross * (1 - line.get("discount", 0) / 100)
    if line.get("tax_method") == "exclusive":
        net *= 1 + line.get("tax", 0) / 100
    return round(net, 2)


def enabled_total(deal_id: int) -> float:
    return round(sum(expected_sum(line) for line in lines_of(deal_id) if line["enabled_flag"]), 2)


# --- getDealProducts ------------------------------------------------------------------------------------------------


def test_get_deal_products__lists_the_deals_lines_in_order(api: Api) -> None:
    lines = api.data("GET", "/deals/46/products")

    assert [line["id"] for line in lines] == [line["id"] for line in lines_of(46)] == [13, 14, 15, 16]
    assert {line["deal_id"] for line in lines} == {46}


@pytest.mark.parametrize("deal_id", [2, 5, 20, 26, 42, 46, 48, 49, 56, 59])
def test_get_deal_products__each_line_sum_follows_the_formula(api: Api, deal_id: int) -> None:
    lines = api.data("GET", f"/deals/{deal_id}/products")

    assert {line["id"]: line["sum"] for line in lines} == pytest.approx(
        {line["id"]: expected_sum(line) for line in lines_of(deal_id)}
    )


@pytest.mark.parametrize("deal_id", [5, 26, 46])
def test_get_deal_products__totals_count_only_enabled_lines(api: Api, deal_id: int) -> None:
    fixture_lines = lines_of(deal_id)
    assert not all(line["enabled_flag"] for line in fixture_lines)  # each of these deals has a disabled line

    totals = api.get(f"/deals/{deal_id}/products").json()["additional_data"]

    assert totals["products_sum_total"] == pytest.approx(enabled_total(deal_id))
    assert totals["products_quantity_total"] == sum(line["quantity"] for line in fixture_lines if line["enabled_flag"])


def test_get_deal_products__sum_total_is_formatted_in_the_deals_currency(api: Api) -> None:
    totals = api.get("/deals/46/products").json()["additional_data"]

    # Lines 13-15 of deal 46: 1,857.40 + 2,033.10 + 1,310 (line 16 is disabled).
    assert totals["products_sum_total"] == 5200.5
    assert totals["products_sum_total_formatted"] == "€5,200.50"


def test_get_deal_products__totals_equal_the_fixture_deal_value(api: Api) -> None:
    totals = api.get("/deals/2/products").json()["additional_data"]

    assert totals["products_sum_total"] == deal(2)["value"]


def test_get_deal_products__pagination_pages_the_lines_but_totals_count_all(api: Api) -> None:
    body = api.get("/deals/46/products", params={"start": 0, "limit": 2}).json()

    assert [line["id"] for line in body["data"]] == [13, 14]
    assert body["additional_data"]["pagination"] == {
        "start": 0,
        "limit": 2,
        "more_items_in_collection": True,
        "next_start": 2,
    }
    assert body["additional_data"]["products_sum_total"] == pytest.approx(enabled_total(46))


def test_get_deal_products__without_include_product_data_has_no_product(api: Api) -> None:
    lines = api.data("GET", "/deals/26/products")

    assert all("product" not in line for line in lines)


def test_get_deal_products__include_product_data_adds_the_product(api: Api) -> None:
    products = {product["id"]: product for product in fixture("products")}

    lines = api.data("GET", "/deals/26/products", params={"include_product_data": 1})

    for line in lines:
        product = products[line["product_id"]]
        assert line["product"]["id"] == product["id"]
        assert line["product"]["name"] == product["name"] == line["name"]
        assert line["product"]["owner_id"]["value"] == product["owner_id"]


def test_get_deal_products__deal_without_lines_is_an_empty_list_with_zero_totals(api: Api) -> None:
    body = api.get("/deals/3/products").json()

    assert body["data"] == []
    assert body["additional_data"]["products_sum_total"] == 0
    assert body["additional_data"]["products_quantity_total"] == 0


def test_get_deal_products__unknown_deal_is_404(api: Api) -> None:
    assert_error(api.get("/deals/999/products"), 404, "Deal", "999")


def test_get_deal_products__deleted_deal_is_404(api: Api) -> None:
    assert_error(api.get("/deals/4/products"), 404, "Deal", "4")


# --- addDealProduct -------------------------------------------------------------------------------------------------


def test_add_deal_product__answers_the_line_with_its_attachment_id(api: Api) -> None:
    response = api.post("/deals/3/products", json={"product_id": 4, "item_price": 780, "quantity": 2})

    assert response.status_code == 200, response.text
    line = response.json()["data"]
    assert line["product_attachment_id"] == line["id"] == len(fixture("deal_products")) + 1
    assert (line["deal_id"], line["product_id"]) == (3, 4)
    assert line["name"] == next(p["name"] for p in fixture("products") if p["id"] == 4)


def test_add_deal_product__line_joins_the_list(api: Api) -> None:
    line_id = api.data("POST", "/deals/2/products", json={"product_id": 4, "item_price": 780, "quantity": 1})["id"]

    lines = api.data("GET", "/deals/2/products")

    assert [line["id"] for line in lines] == [1, 2, line_id]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # 200 × 3 = 600, less 10 % = 540
        ({"discount": 10, "discount_type": "percentage"}, 540),
        # 200 × 3 = 600, less 75 = 525
        ({"discount": 75, "discount_type": "amount"}, 525),
        # 200 × 3 × 4 months = 2,400, less 25 % = 1,800
        ({"discount": 25, "duration": 4, "duration_unit": "monthly"}, 1800),
    ],
    ids=["percentage", "amount", "duration"],
)
def test_add_deal_product__sum_applies_the_discount(api: Api, body: dict[str, Any], expected: float) -> None:
    line = api.data("POST", "/deals/3/products", json={"product_id": 4, "item_price": 200, "quantity": 3, **body})

    assert line["sum"] == expected


@pytest.mark.parametrize(
    ("tax_method", "expected"),
    [
        ("exclusive", 750),  # 600 plus 25 % tax
        ("inclusive", 600),  # the price already holds the tax
        ("none", 600),
    ],
)
def test_add_deal_product__sum_adds_tax_only_when_exclusive(api: Api, tax_method: str, expected: float) -> None:
    body = {"product_id": 4, "item_price": 200, "quantity": 3, "tax": 25, "tax_method": tax_method}

    line = api.data("POST", "/deals/3/products", json=body)

    assert line["sum"] == expected
    assert line["tax_method"] == tax_method


def test_add_deal_product__without_tax_method_is_inclusive(api: Api) -> None:
    line = api.data("POST", "/deals/3/products", json={"product_id": 4, "item_price": 200, "quantity": 3, "tax": 25})

    assert line["tax_method"] == "inclusive"
    assert line["sum"] == 600


def test_add_deal_product__deal_value_becomes_the_sum_of_its_enabled_lines(api: Api) -> None:
    assert deal(3)["value"] == 15550  # a value of its own before any product is attached

    api.data("POST", "/deals/3/products", json={"product_id": 4, "item_price": 100, "quantity": 2})
    api.data("POST", "/deals/3/products", json={"product_id": 9, "item_price": 40.5, "quantity": 1})

    assert api.data("GET", "/deals/3")["value"] == 200 + 40.5


def test_add_deal_product__adds_to_the_existing_lines_value(api: Api) -> None:
    api.data("POST", "/deals/46/products", json={"product_id": 4, "item_price": 99.5, "quantity": 2})

    assert api.data("GET", "/deals/46")["value"] == pytest.approx(enabled_total(46) + 199)


def test_add_deal_product__disabled_line_leaves_the_deal_value(api: Api) -> None:
    body = {"product_id": 4, "item_price": 500, "quantity": 1, "enabled_flag": False}

    api.data("POST", "/deals/2/products", json=body)

    assert api.data("GET", "/deals/2")["value"] == pytest.approx(enabled_total(2))


def test_add_deal_product__unknown_product_is_404_naming_product_id(api: Api) -> None:
    response = api.post("/deals/3/products", json={"product_id": 999, "item_price": 1, "quantity": 1})

    assert_error(response, 404, RESOURCE_MISSING, "product_id", "999")
    assert api.data("GET", "/deals/3/products") == []


def test_add_deal_product__unknown_deal_is_404(api: Api) -> None:
    response = api.post("/deals/999/products", json={"product_id": 4, "item_price": 1, "quantity": 1})

    assert_error(response, 404, "Deal", "999")


# --- updateDealProduct ----------------------------------------------------------------------------------------------


def test_update_deal_product__changes_the_line_and_its_sum(api: Api) -> None:
    # Line 1 of deal 2: 185 × 8, less 10 %, tax method none.
    line = api.data("PUT", "/deals/2/products/1", json={"quantity": 8})

    assert line["quantity"] == 8
    assert line["sum"] == 185 * 8 * 0.9 == 1332
    assert line["item_price"] == 185  # untouched


def test_update_deal_product__is_read_back_in_the_list(api: Api) -> None:
    updated = api.data("PUT", "/deals/2/products/1", json={"item_price": 200, "comments": "Renegotiated"})

    listed = next(line for line in api.data("GET", "/deals/2/products") if line["id"] == 1)

    assert listed == updated


def test_update_deal_product__recomputes_the_deal_value(api: Api) -> None:
    line_2 = expected_sum(lines_of(2)[1])

    api.data("PUT", "/deals/2/products/1", json={"quantity": 8})

    assert api.data("GET", "/deals/2")["value"] == pytest.approx(1332 + line_2)


def test_update_deal_product__disabling_a_line_drops_it_from_value_and_totals(api: Api) -> None:
    line_2 = expected_sum(lines_of(2)[1])

    api.data("PUT", "/deals/2/products/1", json={"enabled_flag": False})

    assert api.data("GET", "/deals/2")["value"] == pytest.approx(line_2)
    totals = api.get("/deals/2/products").json()["additional_data"]
    assert totals["products_sum_total"] == pytest.approx(line_2)


def test_update_deal_product__line_of_another_deal_is_404(api: Api) -> None:
    assert lines_of(5)[0]["id"] == 3

    assert_error(api.put("/deals/2/products/3", json={"quantity": 2}), 404, "Product attachment", "3")
    assert next(line for line in api.data("GET", "/deals/5/products") if line["id"] == 3)["quantity"] == 2


def test_update_deal_product__unknown_line_is_404(api: Api) -> None:
    assert_error(api.put("/deals/2/products/999", json={"quantity": 2}), 404, "Product attachment", "999")


def test_update_deal_product__unknown_product_is_404_naming_product_id(api: Api) -> None:
    response = api.put("/deals/2/products/1", json={"product_id": 999})

    assert_error(response, 404, RESOURCE_MISSING, "product_id", "999")


# --- deleteDealProduct ----------------------------------------------------------------------------------------------


def test_delete_deal_product__answers_the_line_id(api: Api) -> None:
    assert api.data("DELETE", "/deals/2/products/1") == {"id": 1}


def test_delete_deal_product__line_leaves_the_list(api: Api) -> None:
    api.data("DELETE", "/deals/2/products/1")

    assert [line["id"] for line in api.data("GET", "/deals/2/products")] == [2]


def test_delete_deal_product__deal_value_is_recomputed(api: Api) -> None:
    api.data("DELETE", "/deals/46/products/13")

    remaining = [line for line in lines_of(46) if line["id"] != 13 and line["enabled_flag"]]
    assert api.data("GET", "/deals/46")["value"] == pytest.approx(sum(expected_sum(line) for line in remaining))


def test_delete_deal_product__deleted_line_is_404_afterwards(api: Api) -> None:
    api.data("DELETE", "/deals/2/products/1")

    assert_error(api.delete("/deals/2/products/1"), 404, "Product attachment", "1")


def test_delete_deal_product__line_of_another_deal_is_404(api: Api) -> None:
    assert_error(api.delete("/deals/2/products/3"), 404, "Product attachment", "3")

    assert 3 in [line["id"] for line in api.data("GET", "/deals/5/products")]


def test_deal_products__related_objects_hold_the_deal(api: Api) -> None:
    body = api.get("/deals/2/products").json()
    assert "2" in body["related_objects"]["deal"]
