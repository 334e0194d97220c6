"""Unit tests of search matching and ranking, and API tests of searchDeals and searchItem."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server import DEFAULT_FIXTURES
from mock_server.data.fixtures import load
from mock_server.domain import search
from mock_server.domain.account import Account
from mock_server.domain.clock import Clock
from mock_server.errors import Invalid
from tests.conftest import Api, assert_error
from tests.fixture_data import RESOURCE_MISSING, by_id, fixture

LIVE = ("open", "won", "lost")


def partner_code_key() -> str:
    return next(field["key"] for field in fixture("deal_fields") if field["name"] == "Partner code")


def deal_texts(deal: dict[str, Any], fields: tuple[str, ...] = ("title", "notes", "custom_fields")) -> list[str]:
    """The texts a deal is searched by in the fixtures: name, its notes, its Partner code (the one varchar field)."""
    texts = [deal["name"]] if "title" in fields else []
    if "notes" in fields:
        texts += [note["content"] for note in fixture("notes") if note["deal_id"] == deal["id"]]
    if "custom_fields" in fields and deal.get(partner_code_key()):
        texts.append(deal[partner_code_key()])
    return texts


def matching_deal_ids(term: str, statuses: tuple[str, ...] = LIVE, **options: Any) -> set[int]:
    needle = term.casefold()
    return {
        deal["id"]
        for deal in fixture("deals")
        if deal["status"] in statuses and any(needle in text.casefold() for text in deal_texts(deal, **options))
    }


def found(api: Api, path: str) -> list[dict[str, Any]]:
    """The items of a search that must succeed, asking for the largest page."""
    separator = "&" if "?" in path else "?"
    return list(api.data("GET", f"{path}{separator}limit=500")["items"])


def found_ids(api: Api, path: str) -> set[int]:
    return {hit["item"]["id"] for hit in found(api, path)}


def found_keys(api: Api, path: str) -> set[tuple[str, int]]:
    return {(hit["item"]["type"], hit["item"]["id"]) for hit in found(api, path)}


def add_deal(api: Api, name: str, **fields: Any) -> dict[str, Any]:
    return dict(api.data("POST", "/deals", json={"name": name, "org_id": 1, **fields}))


@pytest.fixture
def account() -> Account:
    return Account(load(DEFAULT_FIXTURES), Clock(), 1)


# --- Matcher ------------------------------------------------------------------------------------------------------


def test_matcher__scores_exact_above_prefix_above_substring() -> None:
    matcher = search.Matcher("Torque")

    assert matcher.score("torque") > matcher.score("Torque wrench") > matcher.score("Big torque wrench") > 0
    assert matcher.score("Spindle") == 0


def test_matcher__exact_match_scores_only_whole_values_ignoring_case() -> None:
    matcher = search.Matcher("acme oy", exact_match=True)

    assert matcher.score("ACME OY") > 0
    assert matcher.score("Acme Oy – Annual service agreement") == 0


def test_matcher__one_character_needs_exact_match() -> None:
    with pytest.raises(Invalid, match="term"):
        search.Matcher("a")
    assert search.Matcher("a", exact_match=True).score("A") > 0


def test_matcher__blank_term_is_invalid_even_with_exact_match() -> None:
    with pytest.raises(Invalid, match="term"):
        search.Matcher("   ", exact_match=True)


def test_matcher__phone_term_matches_whatever_the_spacing() -> None:
    assert search.Matcher("409568667").phone_score("+358 40 9568667") > 0
    assert search.Matcher("+358409568667", exact_match=True).phone_score("+358 40 9568667") > 0


def test_searched__maps_field_names_to_the_item_types_they_apply_to() -> None:
    assert search.searched(["title", "name"], "deal") == {"title"}
    assert search.searched(["title", "name"], "person") == {"name"}
    assert search.searched(["code"], "organization") == frozenset()
    assert search.searched(None, "product") == {"name", "code", "custom_fields"}


def test_hit__result_score_is_within_0_and_1_and_grows_with_the_sum() -> None:
    scores = [search.Hit("deal", {"id": 1}, total).result_score for total in (0.3, 1.0, 2.6, 40.0)]

    assert all(0 < score <= 1 for score in scores)
    assert scores == sorted(scores)


# --- domain search ------------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.lists(st.one_of(st.none(), st.integers(), st.text(alphabet="aAbBß0 1-+()\0é", max_size=8)), max_size=3),
        max_size=8,
    ),
    term=st.text(alphabet="aAbBß0 1-+()\0é", min_size=1, max_size=4),
)
def test_text_index__candidates_hold_every_record_that_scores(values: list[list[object]], term: str) -> None:
    try:
        matcher = search.Matcher(term)
    except Invalid:
        return
    records = [{"id": number, "values": record_values} for number, record_values in enumerate(values)]
    index = search.TextIndex(
        records,
        lambda record: [
            *record["values"],
            *(
                "".join(char for char in value if char.isdigit())
                for value in record["values"]
                if isinstance(value, str)
            ),
        ],
    )

    candidates = [record["id"] for record in index.candidates(matcher)]

    scoring = [record["id"] for record in records
               if any(isinstance(value, str) and matcher.phone_score(value) or matcher.score(value)
                      for value in record["values"])]  # fmt: skip
    assert set(scoring) <= set(candidates)
    assert candidates == sorted(candidates)


def test_search_deals__a_renamed_deal_is_found_by_its_new_name_only(api: Api) -> None:
    assert found_ids(api, "/deals/search?term=Quibblestone") == set()
    deal = api.data("POST", "/deals", json={"name": "Quibblestone rollout", "person_id": 1})
    assert found_ids(api, "/deals/search?term=Quibblestone") == {deal["id"]}
    api.data("PUT", f"/deals/{deal['id']}", json={"name": "Zarnicombe rollout"})
    assert found_ids(api, "/deals/search?term=Quibblestone") == set()
    assert found_ids(api, "/deals/search?term=Zarnicombe") == {deal["id"]}


def test_search_deals__more_matching_fields_rank_above_fewer(account: Account) -> None:
    first, second = [deal for deal in account.deals.query() if deal["name"].startswith("Acme Oy")][:2]
    account.notes.add({"content": "Acme Oy asked for a discount.", "deal_id": second["id"], "person_id": None,
                       "org_id": None, "user_id": 1})  # fmt: skip

    page = search.search_deals(account, search.Matcher("acme oy"))

    order = [hit["item"]["id"] for hit in page.items]
    assert order.index(second["id"]) < order.index(first["id"])


@pytest.mark.parametrize("start", [13, 14, 15])
def test_search_deals__renders_only_the_page_and_knows_whether_more_follow(account: Account, start: int) -> None:
    total = len([deal for deal in account.deals.query() if "oy" in deal["name"].casefold()])
    assert total == 16  # the fixtures' "Oy" deals: the page below ends before, at and after the last hit

    page = search.search_deals(account, search.Matcher("oy"), fields=["title"], start=start, limit=2)

    assert len(page.items) == min(2, total - start)
    assert page.more is (start + 2 < total)


def test_search_items__deleted_persons_are_not_found(account: Account) -> None:
    person = account.persons.get(1)
    account.persons.change(person, {"active_flag": False})

    result = search.search_items(account, search.Matcher(person["name"]), item_types=["person"])

    assert person["id"] not in {hit["item"]["id"] for hit in result.page.items}


def test_search_items__a_deal_related_to_a_found_person_and_organization_is_listed_once(account: Account) -> None:
    result = search.search_items(account, search.Matcher("acme"), item_types=["person", "organization"], related=True)

    assert result.related_items
    keys = [(hit["item"]["type"], hit["item"]["id"]) for hit in result.related_items]
    assert len(keys) == len(set(keys))


# --- searchDeals --------------------------------------------------------------------------------------------------


def test_search_deals__finds_a_term_in_deal_names(api: Api) -> None:
    expected = matching_deal_ids("Torque wrench")

    assert expected
    assert found_ids(api, "/deals/search?term=Torque wrench") == expected


def test_search_deals__finds_a_term_in_deal_notes_and_shows_the_matching_note(api: Api) -> None:
    notes = [note for note in fixture("notes") if "Jyväskylä" in note["content"] and note["deal_id"]]

    hits = found(api, "/deals/search?term=Jyväskylä")

    assert {hit["item"]["id"] for hit in hits} == matching_deal_ids("Jyväskylä")
    assert {note["content"] for note in notes} <= {content for hit in hits for content in hit["item"]["notes"]}


def test_search_deals__finds_a_term_in_a_searchable_custom_field(api: Api) -> None:
    key = partner_code_key()
    deal = next(deal for deal in fixture("deals") if deal.get(key) and deal["status"] in LIVE)

    hits = found(api, f"/deals/search?term={deal[key]}")

    assert deal["id"] in {hit["item"]["id"] for hit in hits}
    assert next(hit for hit in hits if hit["item"]["id"] == deal["id"])["item"]["custom_fields"] == [deal[key]]


def test_search_deals__ignores_case(api: Api) -> None:
    assert found_ids(api, "/deals/search?term=ACME OY") == found_ids(api, "/deals/search?term=acme oy")
    assert found_ids(api, "/deals/search?term=ACME OY") == matching_deal_ids("acme oy")


def test_search_deals__exact_match_finds_the_whole_name_in_any_case(api: Api) -> None:
    deal = next(deal for deal in fixture("deals") if deal["status"] in LIVE)

    assert found_ids(api, f"/deals/search?term={deal['name'].upper()}&exact_match=true") == {deal["id"]}


def test_search_deals__exact_match_skips_partial_matches(api: Api) -> None:
    assert matching_deal_ids("Acme Oy")
    assert found_ids(api, "/deals/search?term=Acme Oy&exact_match=true") == set()


def test_search_deals__fields_notes_ignores_deal_names(api: Api) -> None:
    expected = matching_deal_ids("spindle", fields=("notes",))

    assert expected != matching_deal_ids("spindle")
    assert found_ids(api, "/deals/search?term=spindle&fields=notes") == expected


def test_search_deals__fields_title_ignores_notes(api: Api) -> None:
    assert found_ids(api, "/deals/search?term=spindle&fields=title") == matching_deal_ids("spindle", fields=("title",))


def test_search_deals__empty_fields_searches_every_field(api: Api) -> None:
    assert found_ids(api, "/deals/search?term=spindle&fields=") == matching_deal_ids("spindle")


def test_search_deals__ranks_exact_above_prefix_above_substring_matches(api: Api) -> None:
    substring = add_deal(api, "Big quokkafish order")
    prefix = add_deal(api, "Quokkafish order")
    exact = add_deal(api, "QUOKKAFISH")

    hits = found(api, "/deals/search?term=quokkafish")

    assert [hit["item"]["id"] for hit in hits] == [exact["id"], prefix["id"], substring["id"]]


def test_search_deals__a_match_in_more_fields_ranks_above_one_field(api: Api) -> None:
    one_field = add_deal(api, "Wombatix pumps")
    two_fields = add_deal(api, "Wombatix valves", **{partner_code_key(): "WOMBATIX-7"})

    hits = found(api, "/deals/search?term=wombatix")

    assert [hit["item"]["id"] for hit in hits] == [two_fields["id"], one_field["id"]]


def test_search_deals__items_are_sorted_by_result_score_descending(api: Api) -> None:
    scores = [hit["result_score"] for hit in found(api, "/deals/search?term=oy")]

    assert len(scores) > 1
    assert scores == sorted(scores, reverse=True)
    assert all(0 < score <= 1 for score in scores)


def test_search_deals__paginates_the_found_deals(api: Api) -> None:
    every = [hit["item"]["id"] for hit in found(api, "/deals/search?term=oy")]

    response = api.get("/deals/search?term=oy&start=2&limit=3")

    assert [hit["item"]["id"] for hit in response.json()["data"]["items"]] == every[2:5]
    assert response.json()["additional_data"]["pagination"] == {
        "start": 2, "limit": 3, "more_items_in_collection": len(every) > 5, "next_start": 5
    }  # fmt: skip


def test_search_deals__status_won_finds_only_won_deals(api: Api) -> None:
    assert found_ids(api, "/deals/search?term=oy&status=won") == matching_deal_ids("oy", statuses=("won",))


def test_search_deals__person_id_keeps_that_persons_deals(api: Api) -> None:
    deals = by_id("deals")
    expected = {deal_id for deal_id in matching_deal_ids("acme") if deals[deal_id]["person_id"] == 1}

    assert expected
    assert found_ids(api, "/deals/search?term=acme&person_id=1") == expected


def test_search_deals__organization_id_keeps_that_organizations_deals(api: Api) -> None:
    deals = by_id("deals")
    expected = {deal_id for deal_id in matching_deal_ids("service") if deals[deal_id]["org_id"] == 20}

    assert expected
    assert found_ids(api, "/deals/search?term=service&organization_id=20") == expected


def test_search_deals__unknown_person_id_is_404(api: Api) -> None:
    assert_error(api.get("/deals/search?term=acme&person_id=99999"), 404, RESOURCE_MISSING, "person_id")


def test_search_deals__unknown_organization_id_is_404(api: Api) -> None:
    assert_error(api.get("/deals/search?term=acme&organization_id=99999"), 404, RESOURCE_MISSING, "organization_id")


def test_search_deals__deleted_deals_are_not_found_by_default(api: Api) -> None:
    deleted = next(deal for deal in fixture("deals") if deal["status"] == "deleted")

    assert deleted["id"] not in found_ids(api, f"/deals/search?term={deleted['name']}")


def test_search_deals__status_deleted_finds_deleted_deals(api: Api) -> None:
    deleted = next(deal for deal in fixture("deals") if deal["status"] == "deleted")

    hits = found(api, f"/deals/search?term={deleted['name']}&status=deleted")

    assert {hit["item"]["id"] for hit in hits} == matching_deal_ids(deleted["name"], statuses=("deleted",))
    assert {hit["item"]["status"] for hit in hits} == {"deleted"}


def test_search_deals__a_deal_deleted_through_the_api_is_not_found(api: Api) -> None:
    deal = add_deal(api, "Platypusware rollout")
    api.data("DELETE", f"/deals?ids={deal['id']}")

    assert found_ids(api, "/deals/search?term=platypusware") == set()


def test_search_deals__a_deal_added_through_the_api_is_found_at_once(api: Api) -> None:
    deal = add_deal(api, "Narwhalcorp retrofit")

    assert found_ids(api, "/deals/search?term=narwhalcorp") == {deal["id"]}


def test_search_deals__one_character_term_is_400(api: Api) -> None:
    assert_error(api.get("/deals/search?term=a"), 400, "term")


def test_search_deals__one_character_term_with_exact_match_is_accepted(api: Api) -> None:
    deal = add_deal(api, "Z")

    assert found_ids(api, "/deals/search?term=z&exact_match=true") == {deal["id"]}


def test_search_deals__item_shows_the_deal_and_its_links(api: Api) -> None:
    deal = next(deal for deal in fixture("deals") if deal["status"] in LIVE and deal["person_id"] and deal["org_id"])
    person, org = by_id("persons")[deal["person_id"]], by_id("organizations")[deal["org_id"]]
    stage = by_id("stages")[deal["stage_id"]]

    item = found(api, f"/deals/search?term={deal['name']}&exact_match=true")[0]["item"]

    assert item == {
        "id": deal["id"], "type": "deal", "name": deal["name"], "value": deal["value"], "currency": deal["currency"],
        "status": deal["status"], "owner": {"id": deal["user_id"]}, "stage": {"id": stage["id"], "name": stage["name"]},
        "person": {"id": person["id"], "name": person["name"]},
        "organization": {"id": org["id"], "name": org["name"], "address": org["address"]},
        "custom_fields": [], "notes": [],
    }  # fmt: skip


# --- searchItem ---------------------------------------------------------------------------------------------------


def test_search_item__default_searches_every_kept_item_type(api: Api) -> None:
    kinds = {kind for kind, _ in found_keys(api, "/itemSearch?term=acme")}

    assert not any("acme" in f"{product['name']} {product['code']}".casefold() for product in fixture("products"))
    assert kinds == {"deal", "person", "organization"}


def test_search_item__finds_persons_by_email(api: Api) -> None:
    person = fixture("persons")[2]
    email = person["email"][-1]["value"]
    expected = {p["id"] for p in fixture("persons") if any(e["value"] == email for e in p["email"])}

    assert {id for _, id in found_keys(api, f"/itemSearch?term={email}&item_types=person")} == expected


def test_search_item__finds_persons_by_phone(api: Api) -> None:
    person = fixture("persons")[4]
    phone = person["phone"][-1]["value"]

    keys = found_keys(api, f"/itemSearch?term={phone}&item_types=person&fields=phone")

    assert ("person", person["id"]) in keys


def test_search_item__finds_persons_by_phone_digits_without_spacing(api: Api) -> None:
    person = fixture("persons")[0]
    digits = "".join(char for char in person["phone"][0]["value"] if char.isdigit())

    assert ("person", person["id"]) in found_keys(api, f"/itemSearch?term={digits}&item_types=person")


def test_search_item__person_item_lists_contacts_and_organization(api: Api) -> None:
    person = fixture("persons")[0]
    org = by_id("organizations")[person["org_id"]]

    hits = found(api, f"/itemSearch?term={person['name']}&item_types=person&exact_match=true")

    assert [hit["item"] for hit in hits] == [
        {
            "id": person["id"], "type": "person", "name": person["name"],
            "phones": [entry["value"] for entry in person["phone"]],
            "emails": [entry["value"] for entry in person["email"]],
            "owner": {"id": person["owner_id"]},
            "organization": {"id": org["id"], "name": org["name"], "address": org["address"]},
            "custom_fields": [], "notes": [],
        }
    ]  # fmt: skip


def test_search_item__finds_organizations_by_address(api: Api) -> None:
    org = fixture("organizations")[2]
    street = org["address"].split(",")[0]
    expected = {o["id"] for o in fixture("organizations") if street.casefold() in (o["address"] or "").casefold()}

    assert {id for _, id in found_keys(api, f"/itemSearch?term={street}&item_types=organization")} == expected


def test_search_item__finds_products_by_code(api: Api) -> None:
    product = fixture("products")[1]

    hits = found(api, f"/itemSearch?term={product['code'].lower()}&item_types=product")

    assert hits[0]["item"] == {
        "id": product["id"],
        "type": "product",
        "name": product["name"],
        "code": product["code"],
        "owner": {"id": product["owner_id"]},
        "custom_fields": [],
    }


def test_search_item__fields_name_does_not_search_deals(api: Api) -> None:
    assert found_keys(api, "/itemSearch?term=acme&item_types=deal&fields=name") == set()


def test_search_item__fields_title_searches_deal_names(api: Api) -> None:
    expected = {("deal", deal_id) for deal_id in matching_deal_ids("acme", fields=("title",))}

    assert found_keys(api, "/itemSearch?term=acme&fields=title") == expected


def test_search_item__lead_item_type_finds_nothing(api: Api) -> None:
    response = api.get("/itemSearch?term=acme&item_types=lead")

    assert response.status_code == 200
    assert response.json()["data"]["items"] == []


def test_search_item__one_character_term_is_400(api: Api) -> None:
    assert_error(api.get("/itemSearch?term=x"), 400, "term")


def test_search_item__include_fields_is_accepted(api: Api) -> None:
    assert found_keys(api, "/itemSearch?term=acme&include_fields=product.price,person.picture")


def test_search_item__without_related_flag_has_no_related_items(api: Api) -> None:
    assert "related_items" not in api.data("GET", "/itemSearch?term=acme")


def test_search_item__related_items_are_the_organizations_deals_and_persons(api: Api) -> None:
    org = fixture("organizations")[0]
    deals = {
        ("deal", deal["id"]) for deal in fixture("deals") if deal["org_id"] == org["id"] and deal["status"] in LIVE
    }
    persons = {("person", person["id"]) for person in fixture("persons") if person["org_id"] == org["id"]}

    data = api.data("GET", f"/itemSearch?term={org['name']}&item_types=organization&exact_match=true"
                           "&search_for_related_items=true")  # fmt: skip

    assert {(hit["item"]["type"], hit["item"]["id"]) for hit in data["related_items"]} == deals | persons


def test_search_item__related_items_do_not_count_in_pagination(api: Api) -> None:
    org = fixture("organizations")[0]

    response = api.get(f"/itemSearch?term={org['name']}&item_types=organization&exact_match=true"
                       "&search_for_related_items=true&limit=1")  # fmt: skip

    assert len(response.json()["data"]["related_items"]) > 1
    assert response.json()["additional_data"]["pagination"]["more_items_in_collection"] is False


def test_search_item__paginates_main_items(api: Api) -> None:
    every = [(hit["item"]["type"], hit["item"]["id"]) for hit in found(api, "/itemSearch?term=oy")]

    page = api.data("GET", "/itemSearch?term=oy&start=3&limit=4")["items"]

    assert [(hit["item"]["type"], hit["item"]["id"]) for hit in page] == every[3:7]


def counted_renders(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every search item rendered from here on, as (type, id)."""
    rendered: list[tuple[str, int]] = []
    for kind, render in dict(search.RENDERERS).items():

        def counting(account: Account, hit: search.Hit, render: search.Renderer = render) -> dict[str, Any]:
            rendered.append((hit.kind, hit.record["id"]))
            return render(account, hit)

        monkeypatch.setitem(search.RENDERERS, kind, counting)
    return rendered


def fresh_search(api: Api, term: str = "Oy") -> list[dict[str, Any]]:
    return list(api.data("GET", "/itemSearch", params={"term": term}, headers={"cache-control": "no-cache"})["items"])


def test_search_item__a_repeated_fresh_search_renders_nothing_again(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    first = fresh_search(api)
    rendered = counted_renders(monkeypatch)

    assert fresh_search(api) == first
    assert rendered == []


def test_search_item__a_kept_page_is_looked_up_whole_and_each_page_is_its_own(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = fresh_search(api)
    looked_up: list[int] = []
    render_hit = search.render_hit

    def counting(account: Account, hit: search.Hit, renders: Any = None) -> dict[str, Any]:
        looked_up.append(hit.record["id"])
        return render_hit(account, hit, renders)

    monkeypatch.setattr(search, "render_hit", counting)

    assert fresh_search(api) == first
    assert looked_up == []  # the page was kept with its hits: not even the kept renders are looked up again
    second = api.data("GET", "/itemSearch", params={"term": "Oy", "start": 1, "limit": 2},
                      headers={"cache-control": "no-cache"})["items"]  # fmt: skip
    assert second == first[1:3]
    assert len(looked_up) == len(second)
