"""Organizations over HTTP: list, add, read, update, delete, merge, search, an organization's persons, deals and
activities, and organization fields. Expectations are computed from the fixture files."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Api, assert_error

from contract_tests.harness import Harness
from mock_server.app import create_app
from mock_server.settings import Settings
from tests.fixture_data import RESOURCE_MISSING, by_id, fixture

TOKEN = "organizations-harness-token"


def active_orgs() -> list[dict[str, Any]]:
    return [org for org in fixture("organizations") if org["active_flag"]]


def persons_of(org_id: int) -> list[dict[str, Any]]:
    return [person for person in fixture("persons") if person["org_id"] == org_id and person["active_flag"]]


def deals_of(org_id: int) -> list[dict[str, Any]]:
    return [deal for deal in fixture("deals") if deal["org_id"] == org_id and deal["active_flag"]]


def activities_of(org_id: int) -> list[dict[str, Any]]:
    return [a for a in fixture("activities") if a["org_id"] == org_id and a["active_flag"]]


def busiest_org() -> int:
    return max(active_orgs(), key=lambda org: (len(deals_of(org["id"])), len(persons_of(org["id"]))))["id"]


def add_org(api: Api, **body: Any) -> dict[str, Any]:
    data: dict[str, Any] = api.data("POST", "/organizations", json={"name": "Zeta Oy", **body})
    return data


def test_get_organizations__lists_every_active_fixture_organization(api: Api) -> None:
    data = api.data("GET", "/organizations", params={"limit": 500})

    assert [org["id"] for org in data] == sorted(org["id"] for org in active_orgs())
    assert data[0]["owner_id"]["value"] == active_orgs()[0]["owner_id"]


def test_get_organizations__user_id_first_char_and_sort(api: Api) -> None:
    owned = api.data("GET", "/organizations", params={"user_id": 2, "limit": 500})
    letter = api.data("GET", "/organizations", params={"first_char": "N", "limit": 500})
    by_people = api.data("GET", "/organizations", params={"sort": "people_count DESC, id ASC", "limit": 500})

    assert [org["id"] for org in owned] == [org["id"] for org in active_orgs() if org["owner_id"] == 2]
    assert [org["id"] for org in letter] == [org["id"] for org in active_orgs() if org["name"][0].lower() == "n"]
    counts = [(len(persons_of(org["id"])), org["id"]) for org in active_orgs()]
    assert [org["id"] for org in by_people] == [org_id for _, org_id in sorted(counts, key=lambda c: (-c[0], c[1]))]


def test_get_organizations__filter_of_type_org_sees_a_new_organization(api: Api) -> None:
    address = next(field["id"] for field in fixture("organization_fields") if field["key"] == "address")
    condition = {"object": "organization", "field_id": str(address), "operator": "LIKE '%$%'", "value": "Reykjavik"}
    body = {"glue": "and", "conditions": [{"glue": "and", "conditions": [condition]}, {"glue": "or", "conditions": []}]}
    saved = api.data("POST", "/filters", json={"name": "Iceland", "type": "org", "conditions": body})
    before = api.data("GET", "/organizations", params={"filter_id": saved["id"], "limit": 500})

    org = add_org(api, address="Laugavegur 1, 101 Reykjavik, Iceland")

    after = api.data("GET", "/organizations", params={"filter_id": saved["id"], "limit": 500})
    assert [found["id"] for found in after] == [found["id"] for found in before] + [org["id"]]


def test_get_organization__derives_people_deal_and_activity_counts(api: Api) -> None:
    org_id = busiest_org()
    deals, activities = deals_of(org_id), activities_of(org_id)

    org = api.data("GET", f"/organizations/{org_id}")

    assert org["people_count"] == len(persons_of(org_id))
    assert org["open_deals_count"] == sum(deal["status"] == "open" for deal in deals)
    assert org["closed_deals_count"] == sum(deal["status"] in ("won", "lost") for deal in deals)
    assert org["activities_count"] == len(activities)
    assert org["done_activities_count"] == sum(activity["done"] for activity in activities)


def test_add_organization__answers_201_owned_by_the_tokens_user(api: Api) -> None:
    response = api.post("/organizations", json={"name": "Zeta Oy", "address": "Street 1"})

    assert response.status_code == 201
    org = response.json()["data"]
    assert org["owner_id"]["value"] == fixture("company")["api_user_id"]
    assert (org["visible_to"], org["people_count"], org["open_deals_count"]) == ("3", 0, 0)
    assert api.data("GET", f"/organizations/{org['id']}")["address"] == "Street 1"


def test_add_organization__people_count_follows_its_persons_at_once(api: Api) -> None:
    org = add_org(api)
    person = api.data("POST", "/persons", json={"name": "Member", "org_id": org["id"]})
    assert api.data("GET", f"/organizations/{org['id']}")["people_count"] == 1

    api.data("DELETE", f"/persons/{person['id']}")

    assert api.data("GET", f"/organizations/{org['id']}")["people_count"] == 0


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"name": "  "}, 400, "name"),
        ({"address": "no name"}, 400, "name"),
        ({"name": "X", "owner_id": 999999}, 404, "owner_id"),
        ({"name": "X", "visible_to": "9"}, 400, "visible_to"),
    ],
    ids=["blank-name", "no-name", "unknown-owner", "visible_to"],
)
def test_add_organization__bad_body_adds_nothing(api: Api, body: dict[str, Any], status: int, fragment: str) -> None:
    before = len(api.data("GET", "/organizations", params={"limit": 500}))

    assert_error(api.post("/organizations", json=body), status, fragment)

    assert len(api.data("GET", "/organizations", params={"limit": 500})) == before


def test_update_organization__custom_enum_value_is_checked(api: Api) -> None:
    industry = next(field for field in fixture("organization_fields") if field["name"] == "Industry")
    org = add_org(api)

    assert_error(api.put(f"/organizations/{org['id']}", json={industry["key"]: 999}), 400, "Industry")
    updated = api.data("PUT", f"/organizations/{org['id']}", json={industry["key"]: industry["options"][0]["id"]})

    assert updated[industry["key"]] == industry["options"][0]["id"]
    assert updated["name"] == "Zeta Oy"


def test_delete_organization__keeps_its_persons_and_deals_pointing_at_it(api: Api) -> None:
    org_id = busiest_org()
    person = persons_of(org_id)[0]

    assert api.data("DELETE", f"/organizations/{org_id}") == {"id": org_id}

    assert_error(api.get(f"/organizations/{org_id}"), 404)
    assert api.data("GET", f"/persons/{person['id']}")["org_id"]["value"] == org_id
    deal = deals_of(org_id)[0]
    assert api.data("GET", f"/deals/{deal['id']}")["org_id"]["value"] == org_id


def test_delete_organizations__one_unknown_id_deletes_none(api: Api) -> None:
    org = add_org(api)

    assert_error(api.delete("/organizations", params={"ids": f"{org['id']},999999"}), 404, "999999")
    assert api.data("GET", f"/organizations/{org['id']}")["active_flag"] is True

    assert api.data("DELETE", "/organizations", params={"ids": str(org["id"])}) == {"id": [org["id"]]}
    assert_error(api.get(f"/organizations/{org['id']}"), 404)


def test_merge_organizations__moves_persons_deals_and_activities_to_the_kept_one(api: Api) -> None:
    merged_id = busiest_org()
    kept = add_org(api, address=None)
    before = api.data("GET", f"/organizations/{merged_id}")

    result = api.data("PUT", f"/organizations/{merged_id}/merge", json={"merge_with_id": kept["id"]})

    assert result["id"] == kept["id"] and result["name"] == "Zeta Oy"
    assert result["address"] == by_id("organizations")[merged_id]["address"]  # empty on the kept one: filled
    assert result["people_count"] == before["people_count"]
    assert result["open_deals_count"] == before["open_deals_count"]
    assert result["activities_count"] == before["activities_count"]
    persons = api.data("GET", f"/organizations/{kept['id']}/persons", params={"limit": 500})
    assert sorted(person["id"] for person in persons) == sorted(person["id"] for person in persons_of(merged_id))
    assert_error(api.get(f"/organizations/{merged_id}"), 404)


def test_merge_organizations__with_itself_is_400_and_unknown_target_404(api: Api) -> None:
    assert_error(api.put("/organizations/1/merge", json={"merge_with_id": 1}), 400, "merge_with_id")
    assert_error(api.put("/organizations/1/merge", json={"merge_with_id": 999999}), 404, RESOURCE_MISSING)
    assert_error(api.put("/organizations/999999/merge", json={"merge_with_id": 1}), 404, "999999")


def test_search_organizations__by_name_and_address_sees_changes_at_once(api: Api) -> None:
    org = add_org(api, name="Fjordline Logistics AS", address="Havnegata 3, Tromsø")

    by_name = api.data("GET", "/organizations/search", params={"term": "fjordline"})["items"]
    by_address = api.data("GET", "/organizations/search", params={"term": "havnegata", "fields": "address"})["items"]
    name_only = api.data("GET", "/organizations/search", params={"term": "havnegata", "fields": "name"})["items"]

    assert [hit["item"]["id"] for hit in by_name] == [org["id"]]
    assert [hit["item"]["id"] for hit in by_address] == [org["id"]]
    assert name_only == []
    api.data("PUT", f"/organizations/{org['id']}", json={"name": "Polar Freight AS"})
    assert api.data("GET", "/organizations/search", params={"term": "fjordline"})["items"] == []


def test_get_organization_persons_deals_and_activities(api: Api) -> None:
    org_id = busiest_org()

    persons = api.data("GET", f"/organizations/{org_id}/persons", params={"limit": 500})
    deals = api.data("GET", f"/organizations/{org_id}/deals", params={"limit": 500})
    activities = api.data("GET", f"/organizations/{org_id}/activities", params={"limit": 500})

    assert [person["id"] for person in persons] == sorted(person["id"] for person in persons_of(org_id))
    listed = [deal for deal in deals_of(org_id) if deal["status"] != "deleted"]
    assert [deal["id"] for deal in deals] == sorted(deal["id"] for deal in listed)
    assert sorted(a["id"] for a in activities) == sorted(a["id"] for a in activities_of(org_id))
    assert_error(api.get("/organizations/999999/persons"), 404)


def test_organization_fields__list_add_and_delete(api: Api) -> None:
    listed = api.data("GET", "/organizationFields", params={"limit": 500})
    assert {field["key"] for field in listed} == {field["key"] for field in fixture("organization_fields")}

    made = api.data("POST", "/organizationFields", json={"name": "Employees", "field_type": "double"})
    org = add_org(api, **{made["key"]: 120})
    assert api.data("GET", f"/organizations/{org['id']}")[made["key"]] == 120

    assert api.data("DELETE", f"/organizationFields/{made['id']}") == {"id": made["id"]}
    assert made["key"] not in api.data("GET", f"/organizations/{org['id']}")
    assert_error(api.delete(f"/organizationFields/{listed[0]['id']}"), 400, "built-in")


def test_harness__the_clean_mock_passes_every_check_on_the_organization_operations() -> None:
    operations = ["getOrganizations", "addOrganization", "getOrganization", "updateOrganization",
                  "deleteOrganization", "deleteOrganizations", "mergeOrganizations", "searchOrganizations",
                  "getOrganizationPersons", "getOrganizationDeals", "getOrganizationActivities",
                  "getOrganizationFields", "addOrganizationField", "getOrganizationField", "updateOrganizationField",
                  "deleteOrganizationField", "deleteOrganizationFields"]  # fmt: skip

    report = Harness(create_app(Settings(tokens=frozenset({TOKEN}))), TOKEN).run(operations, max_examples=10)

    assert sum(report.requests.values()) > 100
    assert report.findings == []
