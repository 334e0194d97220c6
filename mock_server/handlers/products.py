"""Products, their fields, search and the deals they are sold in."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from starlette.responses import Response

from mock_server.domain import search
from mock_server.domain.collection import Record, paginate
from mock_server.http import envelope
from mock_server.http.tenant import current_account


async def get_products(
    user_id: int | None = None,
    filter_id: int | None = None,
    ids: list[int] | None = None,
    first_char: str | None = None,
    get_summary: bool = False,
    start: int = 0,
    limit: int = 100,
) -> Response:
    account = current_account()
    products: Iterable[Record] = account.products.query(user_id=user_id, ids=ids, first_char=first_char)
    if filter_id is not None:
        products = account.filters.apply(filter_id, "products", products)
    if get_summary:
        products = list(products)
    related = account.related()

    def render(product: Record) -> Record:
        related.add("user", product["owner_id"])
        return account.products.render(product)

    result = paginate(products, start, limit, render)
    additional = {"summary": {"total_count": len(products)}} if isinstance(products, list) else None
    return envelope.page(result, related=related.build(), additional=additional)


async def get_product(id: int) -> Response:
    products = current_account().products
    return envelope.one(products.render(products.get(id)))


async def add_product(body: dict[str, Any]) -> Response:
    products = current_account().products
    return envelope.one(products.render(products.create(body)), status=201)


async def update_product(id: int, body: dict[str, Any] | None = None) -> Response:
    products = current_account().products
    return envelope.one(products.render(products.modify(id, body or {})))


async def delete_product(id: int) -> Response:
    return envelope.deleted(current_account().products.remove(id)["id"])


async def get_product_deals(id: int, start: int = 0, limit: int = 100, status: str = "all_not_deleted") -> Response:
    account = current_account()
    ids = account.products.deal_ids(account.products.get(id)["id"])
    deals = account.deals.query(status=status, among=(deal for deal in account.deals.all() if deal["id"] in ids))
    related = account.related()
    result = paginate(deals, start, limit, lambda deal: account.deals.render(deal, related))
    return envelope.page(result, related=related.build())


async def search_products(
    term: str,
    fields: list[str] | None = None,
    exact_match: bool = False,
    include_fields: list[str] | None = None,
    start: int = 0,
    limit: int = 100,
) -> Response:
    # `include_fields` is accepted: `product.price` is not part of the spec's product search item.
    result = search.search_items(
        current_account(),
        search.Matcher(term, exact_match),
        item_types=["product"],
        fields=fields,
        start=start,
        limit=limit,
    )
    return envelope.one(
        {"items": envelope.shared_json(result.page.items)}, additional={"pagination": result.page.pagination()}
    )


async def get_product_fields(start: int = 0, limit: int = 100) -> Response:
    return envelope.page(paginate(current_account().product_fields.ordered(), start, limit, copy.deepcopy))


async def add_product_field(body: dict[str, Any]) -> Response:
    return envelope.one(copy.deepcopy(current_account().product_fields.create(body)))


async def get_product_field(id: int) -> Response:
    return envelope.one(copy.deepcopy(current_account().product_fields.get(id)))


async def update_product_field(id: int, body: dict[str, Any]) -> Response:
    return envelope.one(copy.deepcopy(current_account().product_fields.modify(id, body)))


async def delete_product_field(id: int) -> Response:
    return envelope.deleted(current_account().product_fields.remove(id)["id"])
