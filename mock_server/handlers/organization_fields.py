"""Organization fields, built-in and custom."""

from __future__ import annotations

import copy
from typing import Any

from starlette.responses import Response

from mock_server.domain.collection import paginate
from mock_server.http import envelope
from mock_server.http.tenant import current_account


async def get_organization_fields(start: int = 0, limit: int = 100) -> Response:
    return envelope.page(paginate(current_account().organization_fields.ordered(), start, limit, copy.deepcopy))


async def add_organization_field(body: dict[str, Any]) -> Response:
    return envelope.one(copy.deepcopy(current_account().organization_fields.create(body)))


async def get_organization_field(id: int) -> Response:
    return envelope.one(copy.deepcopy(current_account().organization_fields.get(id)))


async def update_organization_field(id: int, body: dict[str, Any]) -> Response:
    return envelope.one(copy.deepcopy(current_account().organization_fields.modify(id, body)))


async def delete_organization_field(id: int) -> Response:
    return envelope.deleted(current_account().organization_fields.remove(id)["id"])


async def delete_organization_fields(ids: list[int]) -> Response:
    return envelope.deleted([field["id"] for field in current_account().organization_fields.remove_many(ids)])
