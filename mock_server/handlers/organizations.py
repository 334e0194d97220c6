"""Organizations: list, add, read, update, delete, merge, search, and an organization's persons, deals and
activities."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mock_server.domain import search
from mock_server.domain.collection import Record, paginate
from mock_server.handlers.contacts import contact, contact_page, linked_activities, linked_deals
from mock_server.http import envelope
from mock_server.http.tenant import current_account


async def get_organizations(
    user_id: int | None = None,
    filter_id: int | None = None,
    first_char: str | None = None,
    start: int = 0,
    limit: int = 100,
    sort: str | None = None,
) -> Response:
    organizations = current_account().organizations
    return contact_page(organizations, "org", user_id, filter_id, first_char, start, limit, sort)


async def add_organization(body: dict[str, Any]) -> Response:
    return _one(current_account().organizations.create(body), status=201)


async def get_organization(id: int) -> Response:
    return _one(current_account().organizations.get(id))


async def update_organization(id: int, body: dict[str, Any] | None = None) -> Response:
    return _one(current_account().organizations.modify(id, body or {}))


async def delete_organization(id: int) -> Response:
    return envelope.deleted(current_account().organizations.remove([id])[0])


async def delete_organizations(ids: list[int]) -> Response:
    return envelope.deleted(current_account().organizations.remove(ids))


async def merge_organizations(id: int, body: dict[str, Any]) -> Response:
    return _one(current_account().organizations.merge(id, body["merge_with_id"]))


async def search_organizations(
    term: str, fields: list[str] | None = None, exact_match: bool = False, start: int = 0, limit: int = 100
) -> Response:
    result = search.search_organizations(
        current_account(), search.Matcher(term, exact_match), fields=fields, start=start, limit=limit
    )
    return envelope.one({"items": envelope.shared_json(result.items)}, additional={"pagination": result.pagination()})


async def get_organization_persons(id: int, start: int = 0, limit: int = 100) -> Response:
    account = current_account()
    related = account.related()
    persons = account.organizations.persons_of(id)
    result = paginate(persons, start, limit, lambda person: account.persons.render(person, related))
    return envelope.page(result, related=related.build())


async def get_organization_deals(
    id: int, start: int = 0, limit: int = 100, status: str = "all_not_deleted", sort: str | None = None
) -> Response:
    return linked_deals("org_id", id, start, limit, status, sort)


async def get_organization_activities(
    id: int, start: int = 0, limit: int = 100, done: float | None = None, exclude: list[int] | None = None
) -> Response:
    return linked_activities("org_id", id, start, limit, done, exclude)


def _one(org: Record, status: int = 200) -> Response:
    return contact(current_account().organizations, org, status)
