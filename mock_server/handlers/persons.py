"""Persons: list, add, read, update, delete, merge, search, and a person's deals and activities."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.responses import Response

from mock_server.domain import search
from mock_server.domain.collection import Record, paginate
from mock_server.domain.deal_views import sort_deals
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
    account = current_account()
    persons: Iterable[Record] = account.persons.query(
        user_id=None if filter_id is not None else user_id, first_char=first_char
    )
    if filter_id is not None:
        persons = list(account.filters.apply(filter_id, "persons", persons))
    if sort:
        persons = account.persons.sort(list(persons), sort)
    related = account.related()
    result = paginate(persons, start, limit, lambda person: account.persons.render(person, related))
    return envelope.page(result, related=related.build())


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
    return _one(current_account().persons.merge(id, body["merge_with_id"]))


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
    return await linked_deals("person_id", id, start, limit, status, sort)


async def get_person_activities(
    id: int, start: int = 0, limit: int = 100, done: float | None = None, exclude: list[int] | None = None
) -> Response:
    return await linked_activities("person_id", id, start, limit, done, exclude)


async def linked_deals(link: str, record_id: int, start: int, limit: int, status: str, sort: str | None) -> Response:
    """The deals of a person or an organization, as `GET /deals` shows them."""
    account = current_account()
    contacts = account.persons if link == "person_id" else account.organizations
    contacts.get(record_id)
    among = sorted(account.deals.index_ids(link, record_id))
    deals: Iterable[Record] = account.deals.query(
        status=status, among=(deal for deal in map(account.deals.find_any, among) if deal is not None)
    )
    if sort:
        deals = sort_deals(account, deals, sort)
    related = account.related()
    result = paginate(deals, start, limit, lambda deal: account.deals.render(deal, related))
    return envelope.page(result, related=related.build())


async def linked_activities(
    link: str, record_id: int, start: int, limit: int, done: float | None, exclude: list[int] | None
) -> Response:
    """The activities of a person or an organization, in due order, as `GET /deals/{id}/activities` shows them."""
    account = current_account()
    contacts = account.persons if link == "person_id" else account.organizations
    contacts.get(record_id)
    activities = account.activities.linked(
        link, record_id, done=None if done is None else int(done), exclude=exclude or ()
    )
    related = account.related()
    result = paginate(activities, start, limit, lambda activity: account.activities.render(activity, related))
    return envelope.page(result, related=related.build())


def _one(person: Record, status: int = 200) -> Response:
    account = current_account()
    related = account.related()
    return envelope.one(account.persons.render(person, related), status=status, related=related.build())
