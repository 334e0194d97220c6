"""Products attached to a deal."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mock_server.http import envelope
from mock_server.http.tenant import current_account


async def get_deal_products(id: int, start: int = 0, limit: int = 100, include_product_data: float = 0) -> Response:
    account = current_account()
    related = account.related()
    result, totals = account.deal_products.listing(id, start, limit, bool(include_product_data), related)
    return envelope.page(result, related=related.build(), additional=totals)


async def add_deal_product(id: int, body: dict[str, Any]) -> Response:
    products = current_account().deal_products
    line = products.render(products.attach(id, body))
    line["product_attachment_id"] = line["id"]
    return envelope.one(line)


async def update_deal_product(id: int, product_attachment_id: int, body: dict[str, Any] | None = None) -> Response:
    products = current_account().deal_products
    return envelope.one(products.render(products.modify(id, product_attachment_id, body or {})))


async def delete_deal_product(id: int, product_attachment_id: int) -> Response:
    return envelope.deleted(current_account().deal_products.detach(id, product_attachment_id))
