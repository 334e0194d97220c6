"""Person fields, built-in and custom."""

from __future__ import annotations

import copy
from typing import Any

from starlette.responses import Response

from mock_server.domain.collection import paginate
from mock_server.http import envelope
from mock_server.http.tenant import current_account


async def get_person_fields(start: int = 0, limit: int = 100) -> Response:
    return envelope.page(paginate(current_account().person_fields.ordered(), start, limit, copy.deepcopy))


async def add_person_field(body: dict[str, Any]) -> Response:
    return envelope.one(copy.deepcopy(current_account().person_fields.create(body)))


async def get_person_field(id: int) -> Response:
    return envelope.one(copy.deepcopy(current_account().person_fields.get(id)))


async def update_person_field(id: int, body: dict[str, Any]) -> Response:
    return envelope.one(copy.deepcopy(current_account().person_fields.modify(id, body)))


async def delete_person_field(id: int) -> Response:
    return envelope.deleted(current_account().person_fields.remove(id)["id"])


async def delete_person_fields(ids: list[int]) -> Response:
    return envelope.deleted([field["id"] for field in current_account().person_fields.remove_many(ids)])
