"""API tests of the deals summary: totals per currency, weighted totals and converted grand totals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Api, assert_error
from starlette.testclient import TestClient

from tests.fixture_data import RESOURCE_MISSING, fixture, weighted


def live_deals() -> list[dict[str, Any]]:
    return [dict(deal) for deal in fixture("deals") if deal["status"] != "deleted"]


def deals_by_id() -> dict[int, dict[str, Any]]:
    return {deal["id"]: dict(deal) for deal in fixture("deals")}


def money(code: str, amount: float) -> str:
    currency = next(currency for currency in fixture("currencies") if currency["code"] == code)
    amount = round(amount, currency["decimal_points"])
    digits = 0 if float(amount).is_integer() else currency["decimal_points"]
    return f"{'-' if amount < 0 else ''}{currency['symbol']}{abs(amount):,.{digits}f}"


def to(target: str, code: str, amount: float) -> float:
    rates = fixture("company")["exchange_rates"]["rates"]
    return amount * rates[code] / rates[target]


def expected_summary(deals: list[dict[str, Any]], target: str) -> dict[str, Any]:
    """The summary recomputed from fixture records, in fixture (id) order, currencies in code order."""
    sums: dict[str, list[float]] = {}
    for deal in deals:
        entry = sums.setdefault(deal["currency"], [0.0, 0.0, 0])
        entry[0] += deal["value"]
        entry[1] += weighted(deal)
        entry[2] += 1
    sums = dict(sorted(sums.items()))
    values = {}
    weighted_values = {}
    for code, (value, weight, count) in sums.items():
        converted = round(to(target, code, value), 2)
        values[code] = {
            "value": round(value, 2),
            "count": count,
            "value_converted": converted,
            "value_formatted": money(code, value),
            "value_converted_formatted": money(target, converted),
        }
        weighted_values[code] = {"value": round(weight, 2), "count": count, "value_formatted": money(code, weight)}
    total = round(sum(to(target, code, entry[0]) for code, entry in sums.items()), 2)
    weighted_total = round(sum(to(target, code, entry[1]) for code, entry in sums.items()), 2)
    return {
        "total_count": len(deals),
        "values_total": values,
        "weighted_values_total": weighted_values,
        "total_currency_converted_value": total,
        "total_weighted_currency_converted_value": weighted_total,
        "total_currency_converted_value_formatted": money(target, total),
        "total_weighted_currency_converted_value_formatted": money(target, weighted_total),
    }


def user_currency(user_id: int) -> str:
    return str(next(user for user in fixture("users") if user["id"] == user_id)["default_currency"])


@pytest.fixture
def daniel(client: TestClient) -> Iterator[Api]:
    """The tenant of the mapped token of user 3 (default currency USD), reset before and after the test."""
    tenants = client.app.state["tenants"]  # type: ignore[attr-defined]
    tenants.reset("token-for-daniel")
    yield Api(client, "token-for-daniel")
    tenants.reset("token-for-daniel")


def test_summary__totals_every_not_deleted_deal_in_the_token_users_currency(api: Api) -> None:
    summary = api.data("GET", "/deals/summary")

    assert summary == expected_summary(live_deals(), user_currency(fixture("company")["api_user_id"]))


def test_summary__converts_to_the_default_currency_of_the_tokens_user(daniel: Api) -> None:
    summary = daniel.data("GET", "/deals/summary")

    assert user_currency(3) == "USD"
    assert summary == expected_summary(live_deals(), "USD")


def test_summary__status_won_counts_only_won_deals(api: Api) -> None:
    summary = api.data("GET", "/deals/summary", params={"status": "won"})

    won = [deal for deal in live_deals() if deal["status"] == "won"]
    assert summary == expected_summary(won, "EUR")


def test_summary__user_id_counts_only_that_users_deals(api: Api) -> None:
    summary = api.data("GET", "/deals/summary", params={"user_id": 2})

    assert summary == expected_summary([deal for deal in live_deals() if deal["user_id"] == 2], "EUR")


def test_summary__stage_id_counts_only_deals_in_that_stage(api: Api) -> None:
    summary = api.data("GET", "/deals/summary", params={"stage_id": 8})

    assert summary == expected_summary([deal for deal in live_deals() if deal["stage_id"] == 8], "EUR")


def test_summary__parameters_combine(api: Api) -> None:
    summary = api.data("GET", "/deals/summary", params={"status": "open", "user_id": 1, "stage_id": 6})

    deals = [deal for deal in live_deals() if (deal["status"], deal["user_id"], deal["stage_id"]) == ("open", 1, 6)]
    assert summary == expected_summary(deals, "EUR")


def test_summary__no_matching_deals_is_zero_with_empty_maps(api: Api) -> None:
    summary = api.data("GET", "/deals/summary", params={"stage_id": 10, "status": "lost", "user_id": 4})

    assert summary["total_count"] == 0
    assert summary["values_total"] == {} and summary["weighted_values_total"] == {}
    assert summary["total_currency_converted_value"] == 0
    assert summary["total_currency_converted_value_formatted"] == money("EUR", 0)


def test_summary__follows_changes_made_through_the_api(api: Api) -> None:
    api.data("DELETE", "/deals", params={"ids": "1"})
    added = api.data("POST", "/deals", json={"name": "Krona deal", "person_id": 1, "value": 5000, "currency": "SEK"})

    summary = api.data("GET", "/deals/summary")

    deals = [deal for deal in live_deals() if deal["id"] != 1]
    deals.append({"value": 5000, "currency": "SEK", "probability": None, "stage_id": added["stage_id"],
                  "pipeline_id": added["pipeline_id"]})  # fmt: skip
    assert summary == expected_summary(deals, "EUR")


def test_summary__weighted_values_match_the_deals_weighted_value(api: Api) -> None:
    deals = api.data("GET", "/deals", params={"status": "open"})
    summary = api.data("GET", "/deals/summary", params={"status": "open"})

    for code, entry in summary["weighted_values_total"].items():
        in_code = [deal for deal in deals if deal["currency"] == code]
        assert entry["value"] == pytest.approx(sum(deal["weighted_value"] for deal in in_code), abs=0.005)
        assert entry["count"] == len(in_code)


def test_summary__unknown_user_id_is_404(api: Api) -> None:
    assert_error(api.get("/deals/summary", params={"user_id": 999}), 404, RESOURCE_MISSING, "user_id")


def test_summary__unknown_stage_id_is_404(api: Api) -> None:
    assert_error(api.get("/deals/summary", params={"stage_id": 999}), 404, RESOURCE_MISSING, "stage_id")


def test_summary__unknown_filter_id_is_404(api: Api) -> None:
    assert_error(api.get("/deals/summary", params={"filter_id": 999}), 404, RESOURCE_MISSING, "filter_id")


def test_summary__filter_of_another_type_is_400(api: Api) -> None:
    activity_filter = next(record for record in fixture("filters") if record["type"] != "deals")

    assert_error(api.get("/deals/summary", params={"filter_id": activity_filter["id"]}), 400, "filter_id")


def test_summary__filter_id_counts_the_deals_the_filtered_list_shows(api: Api) -> None:
    listed = api.data("GET", "/deals", params={"filter_id": 1, "limit": 500})
    summary = api.data("GET", "/deals/summary", params={"filter_id": 1})

    records = deals_by_id()
    assert 0 < len(listed) < len(live_deals())
    assert summary == expected_summary([records[deal["id"]] for deal in listed], "EUR")


def test_summary__user_id_is_ignored_when_filter_id_is_given(api: Api) -> None:
    filtered = api.data("GET", "/deals/summary", params={"filter_id": 1})

    assert api.data("GET", "/deals/summary", params={"filter_id": 1, "user_id": 2}) == filtered
