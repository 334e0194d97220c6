"""API tests of deals: list queries, add, details, update, bulk delete, and the deal's activities and persons."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from conftest import Api, assert_error
from starlette.testclient import TestClient

from tests.fixture_data import RESOURCE_MISSING, by_id, fixture

LEAD_SOURCE = "39c4b01fa288e17a6f1d3044b94af98c2282e368"  # enum deal field, options 105-109
SETUP_FEE = "180bc30c772287879e43837406ced0113b7d16a3"  # monetary deal field


def live_deals() -> list[dict[str, Any]]:
    return [deal for deal in fixture("deals") if deal["status"] != "deleted"]


def ids(records: list[dict[str, Any]]) -> list[int]:
    return [record["id"] for record in records]


def seconds_between(earlier: str, later: str) -> int:
    pattern = "%Y-%m-%d %H:%M:%S"
    return int((datetime.strptime(later, pattern) - datetime.strptime(earlier, pattern)).total_seconds())


@pytest.fixture
def tenant_of(client: TestClient) -> Iterator[Callable[[str], Api]]:
    """An Api for a mapped token (a shared tenant), whose account is reset afterwards so no other test sees it."""
    used: list[str] = []

    def make(token: str) -> Api:
        used.append(token)
        return Api(client, token)

    yield make
    tenants = client.app.state["tenants"]  # type: ignore[attr-defined]
    for token in used:
        tenants.reset(token)


# --- getDeals -----------------------------------------------------------------------------------------------------


def test_get_deals__default_lists_every_deal_but_the_deleted_ones_by_id(api: Api) -> None:
    deals = api.data("GET", "/deals")

    assert ids(deals) == ids(live_deals())


def test_get_deals__status_deleted_lists_exactly_the_deleted_deals(api: Api) -> None:
    deals = api.data("GET", "/deals", params={"status": "deleted"})

    assert ids(deals) == [4, 7, 25, 32, 43, 51]
    assert {deal["status"] for deal in deals} == {"deleted"}


def test_get_deals__status_won_lists_only_won_deals(api: Api) -> None:
    deals = api.data("GET", "/deals", params={"status": "won"})

    assert ids(deals) == [deal["id"] for deal in fixture("deals") if deal["status"] == "won"]


def test_get_deals__stage_id_lists_only_that_stage(api: Api) -> None:
    deals = api.data("GET", "/deals", params={"stage_id": 5})

    assert ids(deals) == [deal["id"] for deal in live_deals() if deal["stage_id"] == 5]
    assert ids(deals)  # the fixture has deals in stage 5, so the filter had something to keep


def test_get_deals__unknown_stage_id_is_404(api: Api) -> None:
    assert_error(api.get("/deals", params={"stage_id": 999}), 404, RESOURCE_MISSING, "stage_id")


def test_get_deals__user_id_lists_only_that_owners_deals(api: Api) -> None:
    deals = api.data("GET", "/deals", params={"user_id": 3})

    assert ids(deals) == [deal["id"] for deal in live_deals() if deal["user_id"] == 3]
    assert {deal["user_id"]["value"] for deal in deals} == {3}


def test_get_deals__owned_by_you_lists_the_token_users_deals(api: Api) -> None:
    deals = api.data("GET", "/deals", params={"owned_by_you": 1})

    assert ids(deals) == [deal["id"] for deal in live_deals() if deal["user_id"] == 1]


def test_get_deals__owned_by_you_follows_the_tokens_user(tenant_of: Callable[[str], Api]) -> None:
    maria = tenant_of("token-for-maria")

    deals = maria.data("GET", "/deals", params={"owned_by_you": 1})

    assert ids(deals) == [deal["id"] for deal in live_deals() if deal["user_id"] == 2]


def test_get_deals__first_page_has_more_and_next_start(api: Api) -> None:
    body = api.get("/deals", params={"start": 0, "limit": 20}).json()

    assert ids(body["data"]) == ids(live_deals())[:20]
    assert body["additional_data"]["pagination"] == {
        "start": 0,
        "limit": 20,
        "more_items_in_collection": True,
        "next_start": 20,
    }


def test_get_deals__last_page_has_no_next_start(api: Api) -> None:
    total = len(live_deals())

    body = api.get("/deals", params={"start": total - 4, "limit": 10}).json()

    assert ids(body["data"]) == ids(live_deals())[-4:]
    assert body["additional_data"]["pagination"] == {
        "start": total - 4,
        "limit": 10,
        "more_items_in_collection": False,
    }


def test_get_deals__following_next_start_visits_every_deal_once(api: Api) -> None:
    seen: list[int] = []
    params: dict[str, Any] = {"start": 0, "limit": 7}
    while True:
        body = api.get("/deals", params=params).json()
        seen += ids(body["data"])
        pagination = body["additional_data"]["pagination"]
        if not pagination["more_items_in_collection"]:
            break
        params["start"] = pagination["next_start"]

    assert seen == ids(live_deals())


def test_get_deals__limit_above_500_is_400_naming_limit(api: Api) -> None:
    assert_error(api.get("/deals", params={"limit": 501}), 400, "limit", "500")


def test_get_deals__sort_value_desc_orders_by_value_descending(api: Api) -> None:
    deals = api.data("GET", "/deals", params={"sort": "value DESC"})

    values = [deal["value"] for deal in deals]
    assert values == sorted((deal["value"] for deal in live_deals()), reverse=True)
    assert sorted(ids(deals)) == ids(live_deals())


def test_get_deals__sort_by_name_then_value_desc_breaks_name_ties_by_value(api: Api) -> None:
    cheap = api.data("POST", "/deals", json={"name": "aaa twin", "value": 10, "person_id": 1})["id"]
    dear = api.data("POST", "/deals", json={"name": "AAA twin", "value": 99, "person_id": 1})["id"]

    deals = api.data("GET", "/deals", params={"sort": "name ASC, value DESC"})

    assert ids(deals)[:2] == [dear, cheap]
    names = [deal["name"].casefold() for deal in deals]
    assert names == sorted(names)


def test_get_deals__sort_by_a_custom_field_puts_deals_without_a_value_last(api: Api) -> None:
    deals = api.data("GET", "/deals", params={"sort": f"{SETUP_FEE} DESC", "limit": 500})

    with_fee = [deal for deal in live_deals() if deal.get(SETUP_FEE) is not None]
    expected = sorted((deal[SETUP_FEE] for deal in with_fee), reverse=True)
    assert with_fee, "the fixtures give some deals a setup fee"
    assert [deal[SETUP_FEE] for deal in deals[: len(with_fee)]] == expected
    assert all(deal.get(SETUP_FEE) is None for deal in deals[len(with_fee) :])


def test_get_deals__unknown_sort_field_is_400_naming_it(api: Api) -> None:
    assert_error(api.get("/deals", params={"sort": "flavour ASC"}), 400, "sort", "flavour")


def test_get_deals__related_objects_hold_exactly_what_the_page_refers_to(api: Api) -> None:
    # Daniel's deals: some were created by Mikko, so creators and owners differ.
    page = [deal for deal in live_deals() if deal["user_id"] == 3][:5]
    assert {deal["creator_user_id"] for deal in page} != {3}

    related = api.get("/deals", params={"user_id": 3, "limit": 5}).json()["related_objects"]

    def keys(*fields: str) -> set[str]:
        return {str(deal[field]) for deal in page for field in fields if deal[field] is not None}

    assert set(related) == {"user", "person", "organization", "stage", "pipeline"}
    assert set(related["user"]) == keys("user_id", "creator_user_id")
    assert set(related["person"]) == keys("person_id")
    assert set(related["organization"]) == keys("org_id")
    assert set(related["stage"]) == keys("stage_id")
    assert set(related["pipeline"]) == keys("pipeline_id")


def test_get_deals__related_user_is_the_users_summary(api: Api) -> None:
    user = by_id("users")[2]

    related = api.get("/deals", params={"user_id": 2, "limit": 1}).json()["related_objects"]

    assert related["user"]["2"]["name"] == user["name"]
    assert related["user"]["2"]["email"] == user["email"]


# --- addDeal --------------------------------------------------------------------------------------------------------


def test_add_deal__answers_201_with_the_new_deal(api: Api) -> None:
    response = api.post("/deals", json={"name": "Lathe refit", "person_id": 1})

    assert response.status_code == 201, response.text
    deal = response.json()["data"]
    assert deal["name"] == "Lathe refit"
    assert deal["id"] == max(record["id"] for record in fixture("deals")) + 1


def test_add_deal__fills_the_documented_defaults(api: Api) -> None:
    deal = api.data("POST", "/deals", json={"name": "Defaults", "person_id": 1})

    first_pipeline = min(fixture("pipelines"), key=lambda pipeline: pipeline["order_nbr"])
    first_stage = min(
        (stage for stage in fixture("stages") if stage["pipeline_id"] == first_pipeline["id"]),
        key=lambda stage: stage["order_nbr"],
    )
    assert deal["status"] == "open"
    assert deal["value"] == 0
    assert deal["currency"] == by_id("users")[1]["default_currency"]
    assert deal["user_id"]["value"] == 1
    assert deal["creator_user_id"]["value"] == 1
    assert deal["stage_id"] == first_stage["id"]
    assert deal["pipeline_id"] == first_pipeline["id"]
    assert deal["won_time"] is None and deal["close_time"] is None and deal["lost_time"] is None


def test_add_deal__owner_and_creator_are_the_tokens_user(tenant_of: Callable[[str], Api]) -> None:
    maria = tenant_of("token-for-maria")

    deal = maria.data("POST", "/deals", json={"name": "Maria's", "person_id": 1})

    assert deal["user_id"]["value"] == 2
    assert deal["creator_user_id"]["value"] == 2
    assert deal["owner_name"] == by_id("users")[2]["name"]


def test_add_deal__currency_defaults_to_the_tokens_users_currency(tenant_of: Callable[[str], Api]) -> None:
    daniel = tenant_of("token-for-daniel")

    deal = daniel.data("POST", "/deals", json={"name": "Daniel's", "person_id": 1})

    assert deal["currency"] == by_id("users")[3]["default_currency"] == "USD"


def test_add_deal__given_user_id_owns_the_deal_but_the_token_user_creates_it(api: Api) -> None:
    deal = api.data("POST", "/deals", json={"name": "Owned by Sanna", "person_id": 1, "user_id": 4})

    assert deal["user_id"]["value"] == 4
    assert deal["creator_user_id"]["value"] == 1


def test_add_deal__pipeline_id_follows_stage_id(api: Api) -> None:
    deal = api.data("POST", "/deals", json={"name": "Staged", "person_id": 1, "stage_id": 9})

    assert deal["stage_id"] == 9
    assert deal["pipeline_id"] == by_id("stages")[9]["pipeline_id"] == 2


def test_add_deal__pipeline_alone_means_its_first_stage(api: Api) -> None:
    deal = api.data("POST", "/deals", json={"name": "Piped", "person_id": 1, "pipeline_id": 2})

    first = min((s for s in fixture("stages") if s["pipeline_id"] == 2), key=lambda stage: stage["order_nbr"])
    assert deal["pipeline_id"] == 2
    assert deal["stage_id"] == first["id"]


def test_add_deal__without_name_is_named_after_the_organization(api: Api) -> None:
    deal = api.data("POST", "/deals", json={"org_id": 3, "person_id": 1})

    assert deal["name"] == by_id("organizations")[3]["name"] + " deal"


def test_add_deal__without_name_or_org_is_named_after_the_person(api: Api) -> None:
    deal = api.data("POST", "/deals", json={"person_id": 5})

    assert deal["name"] == by_id("persons")[5]["name"] + " deal"


def test_add_deal__value_as_decimal_string_is_stored_as_number(api: Api) -> None:
    deal = api.data("POST", "/deals", json={"name": "String value", "person_id": 1, "value": "1500.50"})

    assert deal["value"] == 1500.5
    assert deal["value_formatted"] == "€1,500.50"


def test_add_deal__value_as_number_is_stored(api: Api) -> None:
    deal = api.data("POST", "/deals", json={"name": "Number value", "person_id": 1, "value": 2750})

    assert deal["value"] == 2750
    assert deal["value_formatted"] == "€2,750"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("person_id", 999),
        ("org_id", 999),
        ("stage_id", 999),
        ("pipeline_id", 999),
        ("user_id", 999),
        ("currency", "XYZ"),
    ],
)
def test_add_deal__unknown_reference_is_404_naming_the_field(api: Api, field: str, value: Any) -> None:
    body = {"name": "Dangling", "person_id": 1, field: value}

    response = api.post("/deals", json=body)

    assert_error(response, 404, RESOURCE_MISSING, field, str(value))
    assert len(api.data("GET", "/deals")) == len(live_deals())


def test_add_deal__without_person_or_organization_is_400(api: Api) -> None:
    response = api.post("/deals", json={"name": "Nobody's"})

    # The spec's anyOf(person_id | org_id) rejects it; its message does not name the two fields (see report).
    assert_error(response, 400, "Invalid request")
    assert len(api.data("GET", "/deals")) == len(live_deals())


def test_add_deal__with_status_won_sets_won_close_and_first_won_times(api: Api) -> None:
    deal = api.data("POST", "/deals", json={"name": "Won at once", "person_id": 1, "status": "won"})

    assert deal["status"] == "won"
    assert deal["won_time"] is not None
    assert deal["won_time"] == deal["close_time"] == deal["first_won_time"] == deal["add_time"]
    assert deal["lost_time"] is None


def test_add_deal__enum_custom_field_is_stored_and_returned(api: Api) -> None:
    deal = api.data("POST", "/deals", json={"name": "Fair lead", "person_id": 1, LEAD_SOURCE: 106})

    assert deal[LEAD_SOURCE] == 106
    assert api.data("GET", f"/deals/{deal['id']}")[LEAD_SOURCE] == 106


def test_add_deal__unknown_enum_option_is_400_naming_the_field(api: Api) -> None:
    response = api.post("/deals", json={"name": "Bad lead", "person_id": 1, LEAD_SOURCE: 999})

    assert_error(response, 400, LEAD_SOURCE, "Lead source", "999")


def test_add_deal__monetary_custom_field_and_its_currency_round_trip(api: Api) -> None:
    body = {"name": "With fee", "person_id": 1, SETUP_FEE: 450, f"{SETUP_FEE}_currency": "SEK"}

    deal_id = api.data("POST", "/deals", json=body)["id"]

    deal = api.data("GET", f"/deals/{deal_id}")
    assert deal[SETUP_FEE] == 450
    assert deal[f"{SETUP_FEE}_currency"] == "SEK"


def test_add_deal__appears_in_the_list(api: Api) -> None:
    deal_id = api.data("POST", "/deals", json={"name": "Listed", "person_id": 1})["id"]

    assert ids(api.data("GET", "/deals"))[-1] == deal_id


# --- getDeal --------------------------------------------------------------------------------------------------------


def test_get_deal__names_person_organization_and_owner(api: Api) -> None:
    stored = by_id("deals")[6]

    deal = api.data("GET", "/deals/6")

    assert deal["person_name"] == by_id("persons")[stored["person_id"]]["name"]
    assert deal["org_name"] == by_id("organizations")[stored["org_id"]]["name"]
    assert deal["owner_name"] == by_id("users")[stored["user_id"]]["name"]
    assert deal["person_id"]["value"] == stored["person_id"]
    assert deal["org_id"]["value"] == stored["org_id"]


def test_get_deal__stage_order_nbr_is_the_stages(api: Api) -> None:
    deal = api.data("GET", "/deals/6")

    assert deal["stage_order_nbr"] == by_id("stages")[by_id("deals")[6]["stage_id"]]["order_nbr"]


def test_get_deal__weighted_value_uses_the_deals_own_probability(api: Api) -> None:
    stored = by_id("deals")[1]  # probability 50 in stage 4 (60)

    deal = api.data("GET", "/deals/1")

    assert deal["weighted_value"] == stored["value"] * stored["probability"] / 100
    assert deal["weighted_value_currency"] == stored["currency"]


def test_get_deal__weighted_value_uses_the_stage_probability_when_the_deal_has_none(api: Api) -> None:
    stored = by_id("deals")[3]  # no probability, stage 3 (40%), pipeline 1 uses probabilities
    assert stored["probability"] is None

    deal = api.data("GET", "/deals/3")

    expected = stored["value"] * by_id("stages")[stored["stage_id"]]["deal_probability"] / 100
    assert deal["weighted_value"] == expected == 6220
    assert deal["weighted_value_formatted"] == "€6,220"


def test_get_deal__weighted_value_is_the_value_in_a_pipeline_without_probabilities(api: Api) -> None:
    stored = by_id("deals")[2]  # pipeline 2 has deal_probability 0; stage 8 would say 30%
    assert by_id("pipelines")[stored["pipeline_id"]]["deal_probability"] == 0

    deal = api.data("GET", "/deals/2")

    assert deal["weighted_value"] == stored["value"]


def test_get_deal__value_formatted_uses_the_currency_symbol(api: Api) -> None:
    assert api.data("GET", "/deals/2")["value_formatted"] == "€18,549.75"
    assert api.data("GET", "/deals/16")["value_formatted"] == "$26,000"
    assert api.data("GET", "/deals/35")["value_formatted"] == "£90,000"


def _next_and_last(deal_id: int) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    activities = [a for a in fixture("activities") if a["deal_id"] == deal_id and a.get("active_flag", True)]

    def due(activity: dict[str, Any]) -> tuple[str, str, int]:
        return (activity["due_date"] or "9999-12-31", activity["due_time"] or "", activity["id"])

    undone = sorted((a for a in activities if not a["done"]), key=due)
    done = sorted((a for a in activities if a["done"]), key=due)
    return (undone[0] if undone else None), (done[-1] if done else None)


@pytest.mark.parametrize("deal_id", [6, 26, 60])
def test_get_deal__next_and_last_activity_are_earliest_undone_and_latest_done(api: Api, deal_id: int) -> None:
    upcoming, last = _next_and_last(deal_id)
    assert upcoming is not None and last is not None

    deal = api.data("GET", f"/deals/{deal_id}")

    assert deal["next_activity"]["id"] == deal["next_activity_id"] == upcoming["id"]
    assert deal["next_activity_date"] == upcoming["due_date"]
    assert deal["next_activity_subject"] == upcoming["subject"]
    assert deal["last_activity"]["id"] == deal["last_activity_id"] == last["id"]
    assert deal["last_activity_date"] == last["due_date"]


def test_get_deal__without_done_activities_has_no_last_activity(api: Api) -> None:
    upcoming, last = _next_and_last(9)
    assert upcoming is not None and last is None

    deal = api.data("GET", "/deals/9")

    assert deal["next_activity"]["id"] == upcoming["id"]
    assert deal["last_activity"] is None
    assert deal["last_activity_id"] is None


def test_get_deal__age_runs_from_add_time_to_now(api: Api) -> None:
    added = by_id("deals")[1]["add_time"]
    before = api.data("PUT", "/deals/1", json={})["update_time"]

    age = api.data("GET", "/deals/1")["age"]

    after = api.data("PUT", "/deals/1", json={})["update_time"]
    assert seconds_between(added, before) <= age["total_seconds"] <= seconds_between(added, after)
    assert age["y"] == 0


def test_get_deal__average_time_to_won_spans_add_to_won_time(api: Api) -> None:
    # Deal 19: added 2026-07-14 15:45:28, won 2026-11-16 13:19:33 -> 4 months to 2026-11-14 15:45:28, then 1d 21:34:05.
    deal = api.data("GET", "/deals/19")

    assert deal["average_time_to_won"] == {
        "y": 0,
        "m": 4,
        "d": 1,
        "h": 21,
        "i": 34,
        "s": 5,
        "total_seconds": seconds_between("2026-07-14 15:45:28", "2026-11-16 13:19:33"),
    }


def test_get_deal__average_time_to_won_keeps_a_late_day_of_the_month(api: Api) -> None:
    body = {
        "name": "Month ends",
        "person_id": 1,
        "add_time": "2026-01-30 10:00:00",
        "status": "won",
        "won_time": "2026-04-30 10:00:00",
    }
    deal_id = api.data("POST", "/deals", json=body)["id"]

    deal = api.data("GET", f"/deals/{deal_id}")

    # 30 Jan -> 30 Apr is exactly three months, not three months and two days.
    assert deal["average_time_to_won"] == {
        "y": 0,
        "m": 3,
        "d": 0,
        "h": 0,
        "i": 0,
        "s": 0,
        "total_seconds": seconds_between("2026-01-30 10:00:00", "2026-04-30 10:00:00"),
    }


def test_get_deal__average_time_to_won_is_zero_for_an_open_deal(api: Api) -> None:
    deal = api.data("GET", "/deals/3")

    assert deal["average_time_to_won"] == {"y": 0, "m": 0, "d": 0, "h": 0, "i": 0, "s": 0, "total_seconds": 0}


def test_get_deal__closed_deal_stayed_in_its_stage_from_add_to_close(api: Api) -> None:
    stored = by_id("deals")[19]

    stay = api.data("GET", "/deals/19")["stay_in_pipeline_stages"]

    assert stay == {
        "times_in_stages": {str(stored["stage_id"]): seconds_between(stored["add_time"], stored["close_time"])},
        "order_of_stages": [stored["stage_id"]],
    }


def test_get_deal__stay_in_pipeline_stages_splits_at_the_stage_change(api: Api) -> None:
    added = "2026-01-05 08:00:00"
    deal_id = api.data("POST", "/deals", json={"name": "Mover", "person_id": 1, "stage_id": 1, "add_time": added})["id"]
    moved = api.data("PUT", f"/deals/{deal_id}", json={"stage_id": 2})["stage_change_time"]
    closed = api.data("PUT", f"/deals/{deal_id}", json={"status": "won"})["close_time"]

    stay = api.data("GET", f"/deals/{deal_id}")["stay_in_pipeline_stages"]

    assert stay == {
        "times_in_stages": {"1": seconds_between(added, moved), "2": seconds_between(moved, closed)},
        "order_of_stages": [1, 2],
    }


def test_get_deal__unknown_id_is_404(api: Api) -> None:
    assert_error(api.get("/deals/999"), 404, "Deal", "999")


def test_get_deal__deleted_id_is_404(api: Api) -> None:
    assert_error(api.get("/deals/4"), 404, "Deal", "4")


# --- updateDeal -----------------------------------------------------------------------------------------------------


def test_update_deal__changes_only_the_given_fields(api: Api) -> None:
    before = api.data("GET", "/deals/3")

    after = api.data("PUT", "/deals/3", json={"name": "Renamed kit order"})

    assert after["name"] == "Renamed kit order"
    bookkeeping = {"name", "update_time", "last_updated_by_user_id"}
    assert {key: value for key, value in after.items() if key not in bookkeeping} == {
        key: before[key] for key in after if key not in bookkeeping
    }


def test_update_deal__records_who_updated_it(api: Api) -> None:
    assert by_id("deals")[3].get("last_updated_by_user_id") is None

    deal = api.data("PUT", "/deals/3", json={"value": 100})

    assert deal["last_updated_by_user_id"] == 1


def test_update_deal__read_after_write_equals_the_response(api: Api) -> None:
    updated = api.data("PUT", "/deals/3", json={"value": "999.99", "probability": 25, "stage_id": 4})

    details = api.data("GET", "/deals/3")

    assert {key: details[key] for key in updated} == updated
    assert updated["weighted_value"] == round(999.99 * 25 / 100, 2)


def test_update_deal__open_to_won_sets_won_close_and_first_won_time(api: Api) -> None:
    deal = api.data("PUT", "/deals/3", json={"status": "won"})

    assert deal["status"] == "won"
    assert deal["won_time"] is not None
    assert deal["won_time"] == deal["close_time"] == deal["first_won_time"] == deal["update_time"]
    assert deal["lost_time"] is None


def test_update_deal__won_to_open_clears_won_and_close_time_but_keeps_first_won_time(api: Api) -> None:
    first_won = by_id("deals")[19]["first_won_time"]

    deal = api.data("PUT", "/deals/19", json={"status": "open"})

    assert deal["status"] == "open"
    assert deal["won_time"] is None
    assert deal["close_time"] is None
    assert deal["first_won_time"] == first_won


def test_update_deal__winning_again_keeps_the_first_won_time(api: Api) -> None:
    first_won = by_id("deals")[19]["first_won_time"]
    api.data("PUT", "/deals/19", json={"status": "open"})

    deal = api.data("PUT", "/deals/19", json={"status": "won"})

    assert deal["won_time"] == deal["update_time"] != first_won
    assert deal["first_won_time"] == first_won


def test_update_deal__lost_sets_lost_and_close_time(api: Api) -> None:
    deal = api.data("PUT", "/deals/3", json={"status": "lost", "lost_reason": "Budget cut"})

    assert deal["status"] == "lost"
    assert deal["lost_time"] is not None
    assert deal["lost_time"] == deal["close_time"] == deal["update_time"]
    assert deal["won_time"] is None
    assert deal["lost_reason"] == "Budget cut"


def test_update_deal__stage_change_sets_stage_change_time(api: Api) -> None:
    assert by_id("deals")[3]["stage_id"] == 3

    deal = api.data("PUT", "/deals/3", json={"stage_id": 4})

    assert deal["stage_id"] == 4
    assert deal["stage_change_time"] == deal["update_time"] != by_id("deals")[3]["stage_change_time"]


def test_update_deal__same_stage_keeps_stage_change_time(api: Api) -> None:
    deal = api.data("PUT", "/deals/3", json={"stage_id": 3})

    assert deal["stage_change_time"] == by_id("deals")[3]["stage_change_time"]


def test_update_deal__stage_of_another_pipeline_moves_the_pipeline(api: Api) -> None:
    assert by_id("deals")[3]["pipeline_id"] == 1

    deal = api.data("PUT", "/deals/3", json={"stage_id": 9})

    assert deal["stage_id"] == 9
    assert deal["pipeline_id"] == by_id("stages")[9]["pipeline_id"] == 2


def test_update_deal__pipeline_alone_moves_to_its_first_stage(api: Api) -> None:
    deal = api.data("PUT", "/deals/3", json={"pipeline_id": 2})

    first = min((s for s in fixture("stages") if s["pipeline_id"] == 2), key=lambda stage: stage["order_nbr"])
    assert (deal["pipeline_id"], deal["stage_id"]) == (2, first["id"])


def test_update_deal__status_deleted_deletes_the_deal(api: Api) -> None:
    api.data("PUT", "/deals/3", json={"status": "deleted"})

    assert_error(api.get("/deals/3"), 404, "Deal", "3")
    assert 3 in ids(api.data("GET", "/deals", params={"status": "deleted"}))


def test_update_deal__unknown_id_is_404(api: Api) -> None:
    assert_error(api.put("/deals/999", json={"name": "Ghost"}), 404, "Deal", "999")


def test_update_deal__deleted_id_is_404(api: Api) -> None:
    assert_error(api.put("/deals/4", json={"name": "Ghost"}), 404, "Deal", "4")


def test_update_deal__unknown_stage_is_404_naming_stage_id(api: Api) -> None:
    assert_error(api.put("/deals/3", json={"stage_id": 999}), 404, RESOURCE_MISSING, "stage_id")
    assert api.data("GET", "/deals/3")["stage_id"] == by_id("deals")[3]["stage_id"]


def test_update_deal__empty_name_is_400_naming_name(api: Api) -> None:
    assert_error(api.put("/deals/3", json={"name": ""}), 400, "name")


# --- deleteDeals ----------------------------------------------------------------------------------------------------


def test_delete_deals__reports_the_deleted_ids(api: Api) -> None:
    assert api.data("DELETE", "/deals", params={"ids": "1,2,3"}) == {"id": [1, 2, 3]}


def test_delete_deals__deleted_deals_leave_the_default_list(api: Api) -> None:
    api.data("DELETE", "/deals", params={"ids": "1,2"})

    listed = ids(api.data("GET", "/deals"))

    assert 1 not in listed and 2 not in listed
    assert len(listed) == len(live_deals()) - 2


def test_delete_deals__deleted_deals_are_listed_as_deleted(api: Api) -> None:
    api.data("DELETE", "/deals", params={"ids": "1,2"})

    deleted = api.data("GET", "/deals", params={"status": "deleted"})

    assert sorted(ids(deleted)) == [1, 2, 4, 7, 25, 32, 43, 51]


def test_delete_deals__deleted_deal_reads_as_404(api: Api) -> None:
    api.data("DELETE", "/deals", params={"ids": "1"})

    assert_error(api.get("/deals/1"), 404, "Deal", "1")


def test_delete_deals__one_unknown_id_is_404_and_deletes_nothing(api: Api) -> None:
    assert_error(api.delete("/deals", params={"ids": "1,999,2"}), 404, "Deal", "999")

    assert ids(api.data("GET", "/deals")) == ids(live_deals())


def test_delete_deals__an_already_deleted_id_is_404_and_deletes_nothing(api: Api) -> None:
    assert_error(api.delete("/deals", params={"ids": "1,4"}), 404, "Deal", "4")

    assert ids(api.data("GET", "/deals")) == ids(live_deals())


# --- getDealActivities, getDealPersons -----------------------------------------------------------------------------


def _deal_activity_ids(deal_id: int, done: int | None = None) -> list[int]:
    activities = [a for a in fixture("activities") if a["deal_id"] == deal_id and a.get("active_flag", True)]
    activities.sort(key=lambda a: (a["due_date"] or "9999-12-31", a["due_time"] or "", a["id"]))
    return [a["id"] for a in activities if done is None or a["done"] == done]


def test_get_deal_activities__lists_the_deals_activities_by_due_date(api: Api) -> None:
    activities = api.data("GET", "/deals/6/activities")

    assert ids(activities) == _deal_activity_ids(6) == [9, 7, 8]
    assert {activity["deal_id"] for activity in activities} == {6}


@pytest.mark.parametrize("done", [0, 1])
def test_get_deal_activities__done_filters_by_done(api: Api, done: int) -> None:
    activities = api.data("GET", "/deals/6/activities", params={"done": done})

    assert ids(activities) == _deal_activity_ids(6, done)
    assert {activity["done"] for activity in activities} == {done}


def test_get_deal_activities__exclude_leaves_out_the_given_ids(api: Api) -> None:
    activities = api.data("GET", "/deals/6/activities", params={"exclude": "7,9"})

    assert ids(activities) == [8]


def test_get_deal_activities__unknown_deal_is_404(api: Api) -> None:
    assert_error(api.get("/deals/999/activities"), 404, "Deal", "999")


def test_get_deal_persons__contains_the_deals_person(api: Api) -> None:
    persons = api.data("GET", "/deals/6/persons")

    person_id = by_id("deals")[6]["person_id"]
    assert person_id in ids(persons)
    assert next(p for p in persons if p["id"] == person_id)["name"] == by_id("persons")[person_id]["name"]


def test_get_deal_persons__adds_the_participants_of_its_activities(api: Api) -> None:
    participants = {
        participant["person_id"]
        for activity in fixture("activities")
        if activity["deal_id"] == 12
        for participant in activity["participants"] or []
    }

    persons = api.data("GET", "/deals/12/persons")

    assert ids(persons)[0] == by_id("deals")[12]["person_id"]
    assert set(ids(persons)) == participants | {by_id("deals")[12]["person_id"]} == {35, 36}


def test_get_deal_persons__unknown_deal_is_404(api: Api) -> None:
    assert_error(api.get("/deals/999/persons"), 404, "Deal", "999")
