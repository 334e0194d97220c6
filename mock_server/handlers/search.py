"""Search: deals only, and across item types."""

from __future__ import annotations

from starlette.responses import Response

from mock_server.domain import search
from mock_server.http import envelope
from mock_server.http.tenant import current_account


async def search_deals(
    term: str,
    fields: list[str] | None = None,
    exact_match: bool = False,
    person_id: int | None = None,
    organization_id: int | None = None,
    status: str = "all_not_deleted",
    start: int = 0,
    limit: int = 100,
) -> Response:
    result = search.search_deals(
        current_account(),
        search.Matcher(term, exact_match),
        fields=fields,
        person_id=person_id,
        organization_id=organization_id,
        status=status,
        start=start,
        limit=limit,
    )
    # A page of hits is a kept, shared render (see `search.KeptSearch`): it is encoded once while it is kept.
    return envelope.one({"items": envelope.shared_json(result.items)}, additional={"pagination": result.pagination()})


async def search_item(
    term: str,
    item_types: list[str] | None = None,
    fields: list[str] | None = None,
    search_for_related_items: bool = False,
    exact_match: bool = False,
    include_fields: list[str] | None = None,
    start: int = 0,
    limit: int = 100,
) -> Response:
    # `include_fields` is accepted: the optional fields it names are not part of the spec's search item shapes.
    result = search.search_items(
        current_account(),
        search.Matcher(term, exact_match),
        item_types=item_types,
        fields=fields,
        related=search_for_related_items,
        start=start,
        limit=limit,
    )
    data = result.data()
    data["items"] = envelope.shared_json(data["items"])
    return envelope.one(data, additional={"pagination": result.page.pagination()})
