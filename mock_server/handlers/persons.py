"""Persons: list, add, read, update, delete, merge, search, and a person's deals and activities."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mock_server.domain import search
from mock_server.domain.collection import Record
from mock_server.handlers.contacts import contact, contact_page, linked_activities, linked_deals
from mock_server.http import envelope
from mock_server.http.tenant import current_account


async def get_persons(
    user_id: int | None = None,
    filter_id: int | None = None,
    first_char: str | None = None,
    start: int = 0,
    limit: int = 100,
    sort: str | None = None,
) -> Response:
    persons = current_account().persons
    return contact_page(persons, "persons", user_id, filter_id, first_char, start, limit, sort)


async def add_person(body: dict[str, Any]) -> Response:
    return _one(current_account().persons.create(body), status=201)


async def get_person(id: int) -> Response:
    return _one(current_account().persons.get(id))


async def update_person(id: int, body: dict[str, Any] | None = None) -> Response:
    return _one(current_account().persons.modify(id, body or {}))


async def delete_person(id: int) -> Response:
    return envelope.deleted(current_account().persons.remove([id])[0])


async def delete_persons(ids: list[int]) -> Response:
    return envelope.deleted(current_account().persons.remove(ids))


async def merge_persons(id: int, body: dict[str, Any]) -> Response:
    """The kept person as the service answers a merge: its owner and organization as plain ids, and the merged
    person's id in `merge_what_id`."""
    account = current_account()
    related = account.related()
    kept = account.persons.render(account.persons.merge(id, body["merge_with_id"]), related)
    for key in ("owner_id", "org_id"):
        if isinstance(kept[key], dict):
            kept[key] = kept[key]["value"]
    return envelope.one({**kept, "merge_what_id": id}, related=related.build())


async def search_persons(
    term: str,
    fields: list[str] | None = None,
    exact_match: bool = False,
    organization_id: int | None = None,
    start: int = 0,
    limit: int = 100,
) -> Response:
    result = search.search_persons(
        current_account(),
        search.Matcher(term, exact_match),
        fields=fields,
        organization_id=organization_id,
        start=start,
        limit=limit,
    )
    return envelope.one({"items": envelope.shared_json(result.items)}, additional={"pagination": result.pagination()})


async def get_person_deals(
    id: int, start: int = 0, limit: int = 100, status: str = "all_not_deleted", sort: str | None = None
) -> Response:
    return linked_deals("person_id", id, start, limit, status, sort)


async def get_person_activities(
    id: int, start: int = 0, limit: int = 100, done: float | None = None, exclude: list[int] | None = None
) -> Response:
    return linked_activities("person_id", id, start, limit, done, exclude)


def _one(person: Record, status: int = 200) -> Response:
    return contact(current_account().persons, person, status)
