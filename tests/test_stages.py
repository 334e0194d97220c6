"""API tests of stages: list by pipeline, details with deal totals, writes, delete rules and a stage's deals."""

from __future__ import annotations

from tests.conftest import Api, assert_error
from tests.fixture_data import by_id, fixture


def test_get_stages__lists_every_pipelines_stages_in_order_with_pipeline_info(api: Api) -> None:
    stages = api.data("GET", "/stages")

    pipelines = by_id("pipelines")
    expected = sorted(
        fixture("stages"),
        key=lambda s: (pipelines[s["pipeline_id"]]["order_nbr"], s["pipeline_id"], s["order_nbr"], s["id"]),
    )
    assert [stage["id"] for stage in stages] == [stage["id"] for stage in expected]
    assert stages[0]["pipeline_name"] == pipelines[expected[0]["pipeline_id"]]["name"]


def test_get_stages__of_one_pipeline_and_paged(api: Api) -> None:
    expected = [stage["id"] for stage in fixture("stages") if stage["pipeline_id"] == 2]

    page = api.request("GET", "/stages?pipeline_id=2&limit=2")
    assert [stage["id"] for stage in page.json()["data"]] == expected[:2]
    assert page.json()["additional_data"]["pagination"]["more_items_in_collection"] is (len(expected) > 2)
    assert_error(api.get("/stages?pipeline_id=999"), 404, "pipeline_id")


def test_get_stage__totals_the_token_users_or_everyones_open_deals(api: Api) -> None:
    user_id = fixture("company")["api_user_id"]
    in_stage = [deal for deal in fixture("deals") if deal["stage_id"] == 4 and deal["status"] == "open"]

    mine = api.data("GET", "/stages/4")["deals_summary"]
    everyone = api.data("GET", "/stages/4?everyone=1")["deals_summary"]

    assert mine["total_count"] == len([deal for deal in in_stage if deal["user_id"] == user_id])
    assert everyone["total_count"] == len(in_stage)
    assert set(everyone["per_stages"]) <= {"4"}


def test_add_stage__goes_last_in_its_pipeline_with_defaults(api: Api) -> None:
    stage = api.data("POST", "/stages", json={"name": "Contract signed", "pipeline_id": 1})

    last = max(s["order_nbr"] for s in fixture("stages") if s["pipeline_id"] == 1)
    assert (stage["order_nbr"], stage["deal_probability"], stage["rotten_flag"]) == (last + 1, 100, False)
    assert api.data("GET", "/stages?pipeline_id=1")[-1]["id"] == stage["id"]


def test_add_stage__unknown_pipeline_is_404_and_missing_name_400(api: Api) -> None:
    assert_error(api.post("/stages", json={"name": "X", "pipeline_id": 999}), 404, "pipeline_id")
    assert_error(api.post("/stages", json={"pipeline_id": 1}), 400, "name")


def test_update_stage__changes_rotting_and_deals_see_it(api: Api) -> None:
    updated = api.data("PUT", "/stages/1", json={"name": "Lead in", "rotten_flag": True, "rotten_days": 1})

    assert (updated["name"], updated["rotten_flag"], updated["rotten_days"]) == ("Lead in", True, 1)
    deal = next(deal for deal in fixture("deals") if deal["stage_id"] == 1 and deal["status"] == "open")
    assert api.data("GET", f"/deals/{deal['id']}")["rotten_time"] is not None


def test_update_stage__holding_deals_cannot_move_to_another_pipeline(api: Api) -> None:
    assert_error(api.put("/stages/1", json={"pipeline_id": 2}), 400, "holds deals")
    assert api.data("GET", "/stages/1")["pipeline_id"] == 1

    empty = api.data("POST", "/stages", json={"name": "Empty", "pipeline_id": 1})
    assert api.data("PUT", f"/stages/{empty['id']}", json={"pipeline_id": 2})["pipeline_id"] == 2


def test_delete_stage__holding_deals_is_400_naming_them(api: Api) -> None:
    held = [deal["id"] for deal in fixture("deals") if deal["stage_id"] == 1 and deal["status"] != "deleted"]

    assert_error(api.delete("/stages/1"), 400, "Stage 1 still holds deals", str(held[0]))
    assert api.data("GET", "/stages/1")["active_flag"] is True


def test_delete_stage__an_empty_one_is_gone_and_takes_no_deals(api: Api) -> None:
    stage = api.data("POST", "/stages", json={"name": "Empty", "pipeline_id": 1})

    assert api.data("DELETE", f"/stages/{stage['id']}") == {"id": stage["id"]}

    assert_error(api.get(f"/stages/{stage['id']}"), 404)
    assert_error(api.post("/deals", json={"person_id": 1, "stage_id": stage["id"]}), 404, "stage_id")


def test_delete_stages__checks_every_id_first(api: Api) -> None:
    first = api.data("POST", "/stages", json={"name": "A", "pipeline_id": 1})
    second = api.data("POST", "/stages", json={"name": "B", "pipeline_id": 1})

    assert_error(api.delete(f"/stages?ids={first['id']},1"), 400, "Stage 1")
    assert_error(api.delete(f"/stages?ids={first['id']},999"), 404, "999")
    assert api.data("GET", f"/stages/{first['id']}")["active_flag"] is True

    assert api.data("DELETE", f"/stages?ids={first['id']},{second['id']}") == {"id": [first["id"], second["id"]]}
    assert_error(api.get(f"/stages/{second['id']}"), 404)


def test_get_stage_deals__open_deals_by_owner_or_everyone(api: Api) -> None:
    open_in_stage = [deal for deal in fixture("deals") if deal["stage_id"] == 4 and deal["status"] == "open"]

    everyone = api.data("GET", "/stages/4/deals?everyone=1&limit=500")
    of_user = api.data("GET", "/stages/4/deals?user_id=2&limit=500")

    assert [deal["id"] for deal in everyone] == [deal["id"] for deal in open_in_stage]
    assert [deal["id"] for deal in of_user] == [deal["id"] for deal in open_in_stage if deal["user_id"] == 2]
    assert_error(api.get("/stages/999/deals"), 404)


def test_moving_a_deal_changes_the_stage_totals_at_once(api: Api) -> None:
    deal = api.data("POST", "/deals", json={"person_id": 1, "stage_id": 2, "value": 1000, "currency": "EUR"})
    before = api.data("GET", "/stages/2?everyone=1")["deals_summary"]["total_count"]

    api.data("PUT", f"/deals/{deal['id']}", json={"stage_id": 3})

    assert api.data("GET", "/stages/2?everyone=1")["deals_summary"]["total_count"] == before - 1
