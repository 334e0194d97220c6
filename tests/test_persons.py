"""Persons over HTTP: list, add, read, update, delete, merge, search, a person's deals and activities, and person
fields. Expectations are computed from the fixture files, not from the mock's code."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Api, assert_error

from contract_tests.harness import Harness
from mock_server.app import create_app
from mock_server.domain.collection import Record
from mock_server.domain.persons import Persons
from mock_server.settings import Settings
from tests.fixture_data import RESOURCE_MISSING, by_id, fixture
from tests.planted import RewriteJSON
from tests.test_state import as_json, fresh_account, round_trip

TOKEN = "persons-harness-token"


def active_persons() -> list[dict[str, Any]]:
    return [person for person in fixture("persons") if person["active_flag"]]


def deals_of(person_id: int) -> list[dict[str, Any]]:
    return [deal for deal in fixture("deals") if deal["person_id"] == person_id and deal["active_flag"]]


def activities_of(person_id: int) -> list[dict[str, Any]]:
    return [a for a in fixture("activities") if a["person_id"] == person_id and a["active_flag"]]


def busiest_person() -> int:
    """The fixture person with the most deals and activities, so that counts and moves are not trivially zero."""
    return max(active_persons(), key=lambda person: (len(deals_of(person["id"])), len(activities_of(person["id"]))))[
        "id"
    ]


def add_person(api: Api, **body: Any) -> dict[str, Any]:
    data: dict[str, Any] = api.data("POST", "/persons", json={"name": "Anna Berg", **body})
    return data


# --- list -----------------------------------------------------------------------------------------------------------


def test_get_persons__lists_every_active_fixture_person_in_id_order(api: Api) -> None:
    data = api.data("GET", "/persons", params={"limit": 500})

    assert [person["id"] for person in data] == sorted(person["id"] for person in active_persons())


def test_get_persons__pages_with_start_and_limit(api: Api) -> None:
    response = api.get("/persons", params={"start": 2, "limit": 3}).json()

    expected = sorted(person["id"] for person in active_persons())[2:5]
    assert [person["id"] for person in response["data"]] == expected
    assert response["additional_data"]["pagination"] == {
        "start": 2,
        "limit": 3,
        "more_items_in_collection": True,
        "next_start": 5,
    }


def test_get_persons__user_id_keeps_the_owners_persons(api: Api) -> None:
    data = api.data("GET", "/persons", params={"user_id": 2, "limit": 500})

    assert [person["id"] for person in data] == [person["id"] for person in active_persons() if person["owner_id"] == 2]


def test_get_persons__first_char_is_not_case_sensitive(api: Api) -> None:
    data = api.data("GET", "/persons", params={"first_char": "j", "limit": 500})

    expected = [person["id"] for person in active_persons() if person["name"][0].lower() == "j"]
    assert expected and [person["id"] for person in data] == expected


def test_get_persons__sort_by_name_descending(api: Api) -> None:
    data = api.data("GET", "/persons", params={"sort": "name DESC", "limit": 500})

    assert [person["name"] for person in data] == sorted(
        (person["name"] for person in active_persons()), key=str.casefold, reverse=True
    )


def test_get_persons__sort_by_an_unknown_key_is_400(api: Api) -> None:
    assert_error(api.get("/persons", params={"sort": "shoe_size ASC"}), 400, "sort", "shoe_size")


def test_get_persons__filter_of_type_persons_applies_and_sees_a_new_person(api: Api) -> None:
    name_field = next(field["id"] for field in fixture("person_fields") if field["key"] == "name")
    condition = {"object": "person", "field_id": str(name_field), "operator": "LIKE '$%'", "value": "Zed"}
    body = {"glue": "and", "conditions": [{"glue": "and", "conditions": [condition]}, {"glue": "or", "conditions": []}]}
    saved = api.data("POST", "/filters", json={"name": "Zed people", "type": "persons", "conditions": body})
    assert api.data("GET", "/persons", params={"filter_id": saved["id"]}) == []

    person = add_person(api, name="Zed Zimmer")

    assert [found["id"] for found in api.data("GET", "/persons", params={"filter_id": saved["id"]})] == [person["id"]]


def test_get_persons__filter_on_a_derived_count(api: Api) -> None:
    field = next(field["id"] for field in fixture("person_fields") if field["key"] == "open_deals_count")
    condition = {"object": "person", "field_id": str(field), "operator": ">", "value": 0}
    body = {"glue": "and", "conditions": [{"glue": "and", "conditions": [condition]}, {"glue": "or", "conditions": []}]}
    saved = api.data("POST", "/filters", json={"name": "With open deals", "type": "persons", "conditions": body})

    data = api.data("GET", "/persons", params={"filter_id": saved["id"], "limit": 500})

    expected = [
        person["id"] for person in active_persons() if any(deal["status"] == "open" for deal in deals_of(person["id"]))
    ]
    assert expected and [person["id"] for person in data] == expected


def test_get_persons__a_deal_filter_is_400(api: Api) -> None:
    deal_filter = next(record for record in fixture("filters") if record["type"] == "deals")

    assert_error(api.get("/persons", params={"filter_id": deal_filter["id"]}), 400, "filter_id", "'deals'")


# --- read, derived fields -------------------------------------------------------------------------------------------


def test_get_person__counts_its_deals_and_activities_on_read(api: Api) -> None:
    person_id = busiest_person()
    deals, activities = deals_of(person_id), activities_of(person_id)

    person = api.data("GET", f"/persons/{person_id}")

    assert person["open_deals_count"] == sum(deal["status"] == "open" for deal in deals)
    assert person["closed_deals_count"] == sum(deal["status"] in ("won", "lost") for deal in deals)
    assert person["won_deals_count"] == sum(deal["status"] == "won" for deal in deals)
    assert person["activities_count"] == len(activities)
    assert person["done_activities_count"] == sum(activity["done"] for activity in activities)
    undone = sorted(
        (a for a in activities if not a["done"]), key=lambda a: (a["due_date"] or "9999", a["due_time"] or "", a["id"])
    )
    assert person["next_activity_date"] == (undone[0]["due_date"] if undone else None)


def test_get_person__counts_follow_a_new_deal_and_activity_at_once(api: Api) -> None:
    person = add_person(api)
    assert (person["open_deals_count"], person["activities_count"], person["next_activity_date"]) == (0, 0, None)

    api.data("POST", "/deals", json={"name": "First order", "person_id": person["id"]})
    api.data("POST", "/activities", json={"subject": "Call", "person_id": person["id"], "due_date": "2030-01-02"})

    again = api.data("GET", f"/persons/{person['id']}")
    assert (again["open_deals_count"], again["activities_count"], again["next_activity_date"]) == (1, 1, "2030-01-02")


def test_get_person__unknown_id_is_404(api: Api) -> None:
    assert_error(api.get("/persons/999999"), 404, "Person", "999999")


# --- add and update -------------------------------------------------------------------------------------------------


def test_add_person__answers_201_owned_by_the_tokens_user_and_visible_to_its_group(api: Api) -> None:
    response = api.post("/persons", json={"name": "Anna Maria Berg", "email": "anna@example.com", "org_id": 1})

    assert response.status_code == 201
    person = response.json()["data"]
    company = fixture("company")
    assert person["owner_id"]["value"] == company["api_user_id"]
    assert person["visible_to"] == "3"
    assert (person["first_name"], person["last_name"]) == ("Anna", "Maria Berg")
    assert person["email"] == [{"value": "anna@example.com", "primary": True, "label": "work"}]
    assert person["org_id"]["value"] == 1 and person["org_name"] == by_id("organizations")[1]["name"]
    assert set(response.json()["related_objects"]["organization"]) == {"1"}
    assert api.data("GET", f"/persons/{person['id']}")["name"] == "Anna Maria Berg"


def test_add_person__another_tokens_user_owns_its_persons(api: Api, client: Any) -> None:
    maria = Api(client, "token-for-maria")
    person = maria.data("POST", "/persons", json={"name": "Owned by Maria"})

    assert person["owner_id"]["value"] == 2


def test_add_person__contact_lists_keep_one_primary(api: Api) -> None:
    person = add_person(
        api,
        phone=[{"value": "+358 1", "label": "mobile"}, {"value": "+358 2", "primary": False}],
    )

    assert person["phone"] == [
        {"value": "+358 1", "primary": True, "label": "mobile"},
        {"value": "+358 2", "primary": False, "label": "work"},
    ]


def test_add_person__two_primary_emails_is_400_naming_email(api: Api) -> None:
    emails = [{"value": "a@example.com", "primary": True}, {"value": "b@example.com", "primary": True}]

    assert_error(api.post("/persons", json={"name": "X", "email": emails}), 400, "email", "primary")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "X", "email": [{"primary": True}]},
        {"name": "X", "phone": 5},
        {"name": "X", "email": [{"value": 7}]},
        {"name": ""},
        {"email": "a@example.com"},
        {"name": "X", "visible_to": "2"},
    ],
    ids=["email-entry-without-value", "phone-number", "email-value-number", "empty-name", "no-name", "visible_to"],
)
def test_add_person__bad_body_is_400_and_adds_nothing(api: Api, body: dict[str, Any]) -> None:
    before = len(api.data("GET", "/persons", params={"limit": 500}))

    body_error = assert_error(api.post("/persons", json=body), 400)

    assert body_error["error"]
    assert len(api.data("GET", "/persons", params={"limit": 500})) == before


@pytest.mark.parametrize(("field", "value"), [("org_id", 999999), ("owner_id", 999999)])
def test_add_person__unknown_reference_is_404_naming_it(api: Api, field: str, value: int) -> None:
    assert_error(api.post("/persons", json={"name": "X", field: value}), 404, RESOURCE_MISSING, field)


def test_update_person__changes_the_given_fields_only(api: Api) -> None:
    person = add_person(api, email="anna@example.com", org_id=1)

    updated = api.data("PUT", f"/persons/{person['id']}", json={"name": "Anna Lind", "org_id": None})

    assert (updated["name"], updated["first_name"], updated["last_name"]) == ("Anna Lind", "Anna", "Lind")
    assert updated["org_id"] is None
    assert updated["email"] == person["email"]
    assert api.data("GET", f"/persons/{person['id']}")["name"] == "Anna Lind"


def test_custom_person_field__value_is_checked_kept_and_dropped_with_its_field(api: Api) -> None:
    field = api.data("POST", "/personFields", json={"name": "Shoe size", "field_type": "double"})
    assert_error(api.post("/persons", json={"name": "X", field["key"]: "big"}), 400, "Shoe size")

    person = add_person(api, **{field["key"]: 42})
    assert api.data("GET", f"/persons/{person['id']}")[field["key"]] == 42

    api.data("DELETE", f"/personFields/{field['id']}")
    assert field["key"] not in api.data("GET", f"/persons/{person['id']}")


# --- delete ---------------------------------------------------------------------------------------------------------


def test_delete_person__soft_deletes_and_keeps_its_deals_pointing_at_it(api: Api) -> None:
    person_id = busiest_person()
    deal = deals_of(person_id)[0]

    assert api.data("DELETE", f"/persons/{person_id}") == {"id": person_id}

    assert_error(api.get(f"/persons/{person_id}"), 404)
    assert person_id not in [person["id"] for person in api.data("GET", "/persons", params={"limit": 500})]
    shown = api.get(f"/deals/{deal['id']}").json()
    assert shown["data"]["person_id"]["value"] == person_id
    assert shown["related_objects"]["person"][str(person_id)]["name"] == by_id("persons")[person_id]["name"]


def test_delete_persons__deletes_in_bulk(api: Api) -> None:
    ids = [add_person(api)["id"], add_person(api)["id"]]

    assert api.data("DELETE", "/persons", params={"ids": ",".join(map(str, ids))}) == {"id": ids}

    for person_id in ids:
        assert_error(api.get(f"/persons/{person_id}"), 404)


def test_delete_persons__one_unknown_id_is_404_and_deletes_none(api: Api) -> None:
    person = add_person(api)

    assert_error(api.delete("/persons", params={"ids": f"{person['id']},999999"}), 404, "999999")

    assert api.data("GET", f"/persons/{person['id']}")["active_flag"] is True


# --- merge ----------------------------------------------------------------------------------------------------------


def test_merge_persons__moves_deals_activities_and_notes_and_combines_contacts(api: Api) -> None:
    merged_id = busiest_person()
    kept = add_person(api, email="kept@example.com", org_id=None)
    merged_before = api.data("GET", f"/persons/{merged_id}")
    notes = [note["id"] for note in fixture("notes") if note["person_id"] == merged_id]

    result = api.data("PUT", f"/persons/{merged_id}/merge", json={"merge_with_id": kept["id"]})

    assert result["id"] == kept["id"] and result["name"] == kept["name"]
    assert result["org_id"] == by_id("persons")[merged_id]["org_id"]  # an empty value is filled; a plain id here
    assert result["merge_what_id"] == merged_id
    emails = [entry["value"] for entry in result["email"]]
    assert emails[0] == "kept@example.com" and len(emails) == 1 + len(merged_before["email"])
    assert [entry["primary"] for entry in result["email"]].count(True) == 1
    assert result["open_deals_count"] == merged_before["open_deals_count"]
    assert result["activities_count"] == merged_before["activities_count"]
    deal_ids = {deal["id"] for deal in api.data("GET", f"/persons/{kept['id']}/deals", params={"limit": 500})}
    assert deal_ids == {deal["id"] for deal in deals_of(merged_id) if deal["status"] != "deleted"}
    assert result["notes_count"] == len(notes)
    assert_error(api.get(f"/persons/{merged_id}"), 404)


def test_merge_persons__with_itself_is_400_naming_merge_with_id(api: Api) -> None:
    assert_error(api.put("/persons/1/merge", json={"merge_with_id": 1}), 400, "merge_with_id")


def test_merge_persons__unknown_target_is_404_and_changes_nothing(api: Api) -> None:
    person_id = busiest_person()

    assert_error(api.put(f"/persons/{person_id}/merge", json={"merge_with_id": 999999}), 404, "merge_with_id")

    assert api.data("GET", f"/persons/{person_id}")["open_deals_count"] == sum(
        deal["status"] == "open" for deal in deals_of(person_id)
    )


# --- search ---------------------------------------------------------------------------------------------------------


def test_search_persons__finds_a_new_person_at_once_and_an_updated_one_by_its_new_name(api: Api) -> None:
    person = add_person(api, name="Quirinus Quist", email="qq@example.com")

    found = api.data("GET", "/persons/search", params={"term": "quirinus"})["items"]
    assert [hit["item"]["id"] for hit in found] == [person["id"]]

    api.data("PUT", f"/persons/{person['id']}", json={"name": "Xaverius Quist"})
    assert api.data("GET", "/persons/search", params={"term": "quirinus"})["items"] == []
    by_email = api.data("GET", "/persons/search", params={"term": "qq@example.com", "fields": "email"})["items"]
    assert [hit["item"]["name"] for hit in by_email] == ["Xaverius Quist"]


def test_search_persons__organization_id_narrows_and_an_unknown_one_is_404(api: Api) -> None:
    one = add_person(api, name="Orla Search", org_id=1)
    add_person(api, name="Orla Search", org_id=2)

    found = api.data("GET", "/persons/search", params={"term": "Orla Search", "organization_id": 1})["items"]

    assert [hit["item"]["id"] for hit in found] == [one["id"]]
    assert_error(api.get("/persons/search", params={"term": "Orla", "organization_id": 999999}), 404)


def test_search_persons__exact_match_and_short_terms(api: Api) -> None:
    add_person(api, name="Ek")

    assert_error(api.get("/persons/search", params={"term": "E"}), 400, "term")
    exact = api.data("GET", "/persons/search", params={"term": "ek", "exact_match": "true"})["items"]
    assert [hit["item"]["name"] for hit in exact] == ["Ek"]


def test_search_persons__finds_a_searchable_custom_value_and_names_it(api: Api) -> None:
    field = api.data("POST", "/personFields", json={"name": "Nickname", "field_type": "varchar"})
    person = add_person(api, **{field["key"]: "Zebulon"})

    found = api.data("GET", "/persons/search", params={"term": "zebulon"})["items"]
    by_name_only = api.data("GET", "/persons/search", params={"term": "zebulon", "fields": "name"})["items"]

    assert [(hit["item"]["id"], hit["item"]["custom_fields"]) for hit in found] == [(person["id"], ["Zebulon"])]
    assert by_name_only == []


def test_item_search__sees_a_new_person(api: Api) -> None:
    person = add_person(api, name="Ottoline Unique")

    items = api.data("GET", "/itemSearch", params={"term": "ottoline", "item_types": "person"})["items"]

    assert [hit["item"]["id"] for hit in items] == [person["id"]]


# --- a person's deals and activities --------------------------------------------------------------------------------


def test_get_person_deals__lists_its_deals_by_status(api: Api) -> None:
    person_id = busiest_person()

    data = api.data("GET", f"/persons/{person_id}/deals", params={"limit": 500})
    won = api.data("GET", f"/persons/{person_id}/deals", params={"status": "won", "limit": 500})

    listed = [deal for deal in deals_of(person_id) if deal["status"] != "deleted"]
    assert [deal["id"] for deal in data] == sorted(deal["id"] for deal in listed)
    assert [deal["id"] for deal in won] == sorted(deal["id"] for deal in listed if deal["status"] == "won")


def test_get_person_activities__lists_them_in_due_order_and_filters_done(api: Api) -> None:
    person_id = busiest_person()

    data = api.data("GET", f"/persons/{person_id}/activities", params={"limit": 500})
    done = api.data("GET", f"/persons/{person_id}/activities", params={"limit": 500, "done": 1})

    assert sorted(a["id"] for a in data) == sorted(a["id"] for a in activities_of(person_id))
    keys = [(a["due_date"] or "9999-12-31", a["due_time"] or "", a["id"]) for a in data]
    assert keys == sorted(keys)
    assert {a["id"] for a in done} == {a["id"] for a in activities_of(person_id) if a["done"]}


def test_get_person_deals__unknown_person_is_404(api: Api) -> None:
    assert_error(api.get("/persons/999999/deals"), 404)
    assert_error(api.get("/persons/999999/activities"), 404)


# --- person fields --------------------------------------------------------------------------------------------------


def test_get_person_fields__lists_the_fixture_fields_by_order(api: Api) -> None:
    data = api.data("GET", "/personFields", params={"limit": 500})

    assert [field["key"] for field in data] == [
        field["key"] for field in sorted(fixture("person_fields"), key=lambda field: (field["order_nbr"], field["id"]))
    ]


def test_person_field__add_update_delete_and_bulk_delete(api: Api) -> None:
    made = api.data("POST", "/personFields", json={"name": "Tier", "field_type": "enum", "options": [{"label": "A"}]})
    other = api.data("POST", "/personFields", json={"name": "Nickname", "field_type": "varchar"})
    assert len(made["key"]) == 40 and made["options"][0]["label"] == "A"

    renamed = api.data("PUT", f"/personFields/{made['id']}", json={"name": "Level"})
    assert renamed["name"] == "Level" and api.data("GET", f"/personFields/{made['id']}")["name"] == "Level"

    built_in = fixture("person_fields")[0]["id"]
    assert_error(api.delete("/personFields", params={"ids": f"{made['id']},{built_in}"}), 400, "built-in")
    assert api.data("GET", f"/personFields/{made['id']}")["active_flag"] is True

    deleted = api.data("DELETE", "/personFields", params={"ids": f"{made['id']},{other['id']}"})
    assert deleted == {"id": [made["id"], other["id"]]}
    assert_error(api.get(f"/personFields/{other['id']}"), 404)


# --- state export and import ---------------------------------------------------------------------------------------


def test_round_trip__keeps_new_persons_their_custom_fields_merges_and_deletes() -> None:
    account = fresh_account(seed=3)
    field = account.person_fields.create({"name": "Hobby", "field_type": "varchar"})
    org_field = account.organization_fields.create({"name": "Size", "field_type": "double"})
    org = account.organizations.create({"name": "Round Trip Oy", org_field["key"]: 12})
    kept = account.persons.create({"name": "Kept Person", "org_id": org["id"], field["key"]: "chess"})
    merged = account.persons.create({"name": "Merged Person", "email": "merged@example.com"})
    account.persons.merge(merged["id"], kept["id"])
    account.persons.remove([1])

    imported = round_trip(account)

    assert as_json(imported) == as_json(account)
    assert imported.persons.render(imported.persons.get(kept["id"])) == account.persons.render(kept)
    assert imported.persons.find(1) is None and imported.persons.find_any(1) is not None
    assert imported.persons.create({"name": "Next"})["id"] == account.persons.create({"name": "Next"})["id"]
    again = imported.person_fields.create({"name": "Next field", "field_type": "varchar"})
    assert again["key"] == account.person_fields.create({"name": "Next field", "field_type": "varchar"})["key"]


# --- the contract harness -------------------------------------------------------------------------------------------


def harness_app() -> Any:
    return create_app(Settings(tokens=frozenset({TOKEN})))


def test_harness__a_persons_list_without_a_required_field_fails_response_schema_conformance() -> None:
    def drop_count(document: dict[str, Any]) -> None:
        for person in document["data"]:
            person.pop("open_deals_count", None)

    report = Harness(RewriteJSON(harness_app(), "GET", r"/v1/persons", drop_count), TOKEN).run(
        ["getPersons"], max_examples=5
    )

    assert "response_schema_conformance" in report.failed_checks


def test_harness__a_made_up_person_for_an_unknown_id_fails_fintesk_unknown_id_is_404(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = Persons.get

    def get_or_invent(self: Persons, person_id: int) -> Record:
        return self.find(person_id) or {**original(self, 1), "id": person_id}

    monkeypatch.setattr(Persons, "get", get_or_invent)

    report = Harness(harness_app(), TOKEN).call("getPerson", path_parameters={"id": 2})

    assert report.failed_checks == {"fintesk_unknown_id_is_404"}


def test_harness__the_clean_mock_passes_every_check_on_the_persons_operations() -> None:
    operations = ["getPersons", "addPerson", "getPerson", "updatePerson", "deletePerson", "deletePersons",
                  "mergePersons", "searchPersons", "getPersonDeals", "getPersonActivities", "getPersonFields",
                  "addPersonField", "getPersonField", "updatePersonField", "deletePersonField",
                  "deletePersonFields"]  # fmt: skip

    report = Harness(harness_app(), TOKEN).run(operations, max_examples=10)

    assert sum(report.requests.values()) > 100
    assert report.findings == []
