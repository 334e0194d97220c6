"""API tests of pipelines: list, details with deal totals, writes, delete rules and a pipeline's deals."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, assert_error
from tests.fixture_data import fixture


def open_deals(pipeline_id: int) -> list[dict[str, Any]]:
    return [deal for deal in fixture("deals") if deal["pipeline_id"] == pipeline_id and deal["status"] == "open"]


def test_get_pipelines__lists_the_fixture_pipelines_in_order(api: Api) -> None:
    pipelines = api.data("GET", "/pipelines")

    expected = sorted(fixture("pipelines"), key=lambda pipeline: (pipeline["order_nbr"], pipeline["id"]))
    assert [(p["id"], p["name"], p["deal_probability"]) for p in pipelines] == [
        (p["id"], p["name"], p["deal_probability"]) for p in expected
    ]
    assert pipelines[0]["url_title"] == "tool-equipment-sales"


def test_get_pipeline__totals_open_deals_per_stage_and_currency(api: Api) -> None:
    pipeline = api.data("GET", "/pipelines/1")

    summary = pipeline["deals_summary"]
    deals = open_deals(1)
    assert summary["total_count"] == len(deals)
    for stage_id in {deal["stage_id"] for deal in deals}:
        in_stage = [deal for deal in deals if deal["stage_id"] == stage_id]
        for currency in {deal["currency"] for deal in in_stage}:
            entry = summary["per_stages"][str(stage_id)][currency]
            counted = [deal for deal in in_stage if deal["currency"] == currency]
            assert entry["count"] == len(counted)
            assert entry["value"] == sum(deal["value"] for deal in counted)
    assert sum(entry["count"] for entry in summary["per_currency_full"].values()) == len(deals)


def test_get_pipeline__unknown_is_404(api: Api) -> None:
    assert_error(api.get("/pipelines/999"), 404, "Pipeline with id 999")


def test_add_pipeline__is_listed_last_and_takes_new_deals_once_it_has_a_stage(api: Api) -> None:
    pipeline = api.data("POST", "/pipelines", json={"name": "Rentals", "deal_probability": 0})
    assert pipeline["order_nbr"] == max(p["order_nbr"] for p in fixture("pipelines")) + 1
    assert api.data("GET", "/pipelines")[-1]["id"] == pipeline["id"]

    assert_error(api.post("/deals", json={"person_id": 1, "pipeline_id": pipeline["id"]}), 404, "pipeline_id")
    stage = api.data("POST", "/stages", json={"name": "Booked", "pipeline_id": pipeline["id"]})
    deal = api.data("POST", "/deals", json={"person_id": 1, "pipeline_id": pipeline["id"]})
    assert (deal["pipeline_id"], deal["stage_id"]) == (pipeline["id"], stage["id"])


def test_add_pipeline__without_a_name_is_400(api: Api) -> None:
    assert_error(api.post("/pipelines", json={"deal_probability": 1}), 400, "name")


def test_update_pipeline__changes_name_order_and_probability_use(api: Api) -> None:
    updated = api.data("PUT", "/pipelines/2", json={"name": "Service", "order_nbr": 0, "deal_probability": 1})

    assert (updated["name"], updated["order_nbr"], updated["deal_probability"]) == ("Service", 0, 1)
    assert api.data("GET", "/pipelines")[0]["id"] == 2
    # A deal without a pipeline goes to the first pipeline by order.
    assert api.data("POST", "/deals", json={"person_id": 1})["pipeline_id"] == 2


def test_delete_pipeline__holding_deals_is_400_and_changes_nothing(api: Api) -> None:
    response = api.delete("/pipelines/2")

    assert_error(response, 400, "Pipeline 2 still holds deals")
    assert api.data("GET", "/pipelines/2")["active_flag"] is True
    assert [stage["id"] for stage in api.data("GET", "/stages?pipeline_id=2")]


def test_delete_pipeline__an_empty_one_goes_with_its_stages(api: Api) -> None:
    pipeline = api.data("POST", "/pipelines", json={"name": "Spare"})
    stage = api.data("POST", "/stages", json={"name": "Only", "pipeline_id": pipeline["id"]})

    assert api.data("DELETE", f"/pipelines/{pipeline['id']}") == {"id": pipeline["id"]}

    assert_error(api.get(f"/pipelines/{pipeline['id']}"), 404)
    assert_error(api.get(f"/stages/{stage['id']}"), 404)
    assert pipeline["id"] not in [p["id"] for p in api.data("GET", "/pipelines")]


def test_delete_pipeline__whose_deals_are_deleted_is_allowed(api: Api) -> None:
    pipeline = api.data("POST", "/pipelines", json={"name": "Short-lived"})
    api.data("POST", "/stages", json={"name": "Only", "pipeline_id": pipeline["id"]})
    deal = api.data("POST", "/deals", json={"person_id": 1, "pipeline_id": pipeline["id"]})
    assert_error(api.delete(f"/pipelines/{pipeline['id']}"), 400, str(deal["id"]))

    api.data("DELETE", f"/deals/{deal['id']}")

    assert api.data("DELETE", f"/pipelines/{pipeline['id']}") == {"id": pipeline["id"]}


def test_get_pipeline_deals__defaults_to_the_token_users_open_deals(api: Api) -> None:
    user_id = fixture("company")["api_user_id"]
    deals = api.data("GET", "/pipelines/1/deals?limit=500")

    expected = [deal["id"] for deal in open_deals(1) if deal["user_id"] == user_id]
    assert [deal["id"] for deal in deals] == expected


def test_get_pipeline_deals__everyone_stage_and_summary(api: Api) -> None:
    response = api.get("/pipelines/1/deals?everyone=1&stage_id=4&get_summary=1&limit=500")
    assert response.status_code == 200, response.text
    body = response.json()

    assert [deal["id"] for deal in body["data"]] == [deal["id"] for deal in open_deals(1) if deal["stage_id"] == 4]
    assert body["additional_data"]["deals_summary"]["total_count"] == len(open_deals(1))
    assert_error(api.get("/pipelines/1/deals?stage_id=999"), 404, "stage_id")
