"""Deal fields, built-in and custom."""

from __future__ import annotations

import copy
from typing import Any

from starlette.responses import Response

from mock_server.domain.collection import paginate
from mock_server.http import envelope
from mock_server.http.tenant import current_account


async def get_deal_fields(start: int = 0, limit: int = 100) -> Response:
    return envelope.page(paginate(current_account().deal_fields.ordered(), start, limit, copy.deepcopy))


async def add_deal_field(body: dict[str, Any]) -> Response:
    return envelope.one(copy.deepcopy(current_account().deal_fields.create(body)))


async def get_deal_field(id: int) -> Response:
    return envelope.one(copy.deepcopy(current_account().deal_fields.get(id)))


async def update_deal_field(id: int, body: dict[str, Any]) -> Response:
    return envelope.one(copy.deepcopy(current_account().deal_fields.modify(id, body)))


async def delete_deal_field(id: int) -> Response:
    return envelope.deleted(current_account().deal_fields.remove(id)["id"])
