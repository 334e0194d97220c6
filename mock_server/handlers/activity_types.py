"""Activity types."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mock_server.http import envelope
from mock_server.http.tenant import current_account


async def get_activity_types() -> Response:
    types = current_account().activity_types
    return envelope.one([types.render(record) for record in types.ordered()])


async def add_activity_type(body: dict[str, Any]) -> Response:
    types = current_account().activity_types
    return envelope.one(types.render(types.create(body)))


async def update_activity_type(id: int, body: dict[str, Any] | None = None) -> Response:
    types = current_account().activity_types
    return envelope.one(types.render(types.modify(id, body or {})))


async def delete_activity_type(id: int) -> Response:
    types = current_account().activity_types
    return envelope.one(types.render(types.remove([id])[0]))


async def delete_activity_types(ids: list[int]) -> Response:
    return envelope.deleted([record["id"] for record in current_account().activity_types.remove(ids)])
