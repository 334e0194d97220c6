"""Saved filters."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mock_server.http import envelope
from mock_server.http.tenant import current_account


async def get_filters(type: str | None = None) -> Response:
    filters = current_account().filters
    return envelope.one([filters.render(record) for record in filters.of_type(type)])


async def add_filter(body: dict[str, Any]) -> Response:
    filters = current_account().filters
    return envelope.one(filters.render(filters.create(body), details=True))


async def get_filter(id: int) -> Response:
    filters = current_account().filters
    return envelope.one(filters.render(filters.get(id), details=True))


async def update_filter(id: int, body: dict[str, Any]) -> Response:
    filters = current_account().filters
    return envelope.one(filters.render(filters.modify(id, body), details=True))


async def delete_filter(id: int) -> Response:
    return envelope.deleted(current_account().filters.remove([id])[0])


async def delete_filters(ids: list[int]) -> Response:
    return envelope.deleted(current_account().filters.remove(ids))
