"""Deals: list, add, read, update, bulk delete, and the deal's activities and persons."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from starlette.responses import Response

from mock_server.domain.collection import Record, paginate
from mock_server.domain.deal_views import deal_details, deal_persons, sort_deals
from mock_server.http import envelope
from mock_server.http.tenant import current_account


async def get_deals(
    user_id: int | None = None,
    filter_id: int | None = None,
    stage_id: int | None = None,
    status: str = "all_not_deleted",
    start: int = 0,
    limit: int = 100,
    sort: str | None = None,
    owned_by_you: float | None = None,
) -> Response:
    account = current_account()
    if owned_by_you:
        user_id = account.user_id
    if filter_id is not None:
        user_id = None  # the spec: user_id is ignored when a filter is given
    deals: Iterable[Record] = account.deals.query(status=status, user_id=user_id, stage_id=stage_id)
    if filter_id is not None:
        deals = account.filters.apply(filter_id, "deals", deals)
    if sort:
        deals = sort_deals(account, deals, sort)
    related = account.related()
    result = paginate(deals, start, limit, account.deals.kept_renderer(related))
    # Each deal's render is encoded once while it is kept: the page joins their bytes.
    items = envelope.kept_json(result.items, "rotten_time")
    return envelope.page(replace(result, items=items), related=related.build())


async def add_deal(body: dict[str, Any]) -> Response:
    account = current_account()
    related = account.related()
    deal = account.deals.render(account.deals.create(body), related)
    return envelope.one(deal, status=201, related=related.build())


async def get_deal(id: int) -> Response:
    account = current_account()
    related = account.related()
    return envelope.one(deal_details(account, account.deals.get(id), related), related=related.build(), additional={})


async def update_deal(id: int, body: dict[str, Any] | None = None) -> Response:
    account = current_account()
    related = account.related()
    deal = account.deals.render(account.deals.modify(id, body or {}), related)
    return envelope.one(deal, related=related.build())


async def delete_deals(ids: list[int]) -> Response:
    return envelope.deleted(current_account().deals.remove(ids))


async def get_deal_activities(
    id: int, start: int = 0, limit: int = 100, done: float | None = None, exclude: list[int] | None = None
) -> Response:
    account = current_account()
    account.deals.get(id)
    activities = account.activities.of_deal(id, done=None if done is None else int(done), exclude=exclude or ())
    related = account.related()
    result = paginate(activities, start, limit, lambda activity: account.activities.render(activity, related))
    return envelope.page(result, related=related.build())


async def get_deal_persons(id: int, start: int = 0, limit: int = 100) -> Response:
    account = current_account()
    related = account.related()
    result = paginate(deal_persons(account, id), start, limit, lambda person: person)
    for person in result.items:
        related.add("user", person["owner_id"]["value"])
        related.add("person", person["id"])
        related.add("organization", person["org_id"]["value"] if person["org_id"] else None)
    return envelope.page(result, related=related.build())


async def delete_deal(id: int) -> Response:
    return envelope.deleted(current_account().deals.remove([id])[0])
