"""Notes."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mock_server.domain.collection import paginate
from mock_server.errors import Invalid
from mock_server.http import envelope
from mock_server.http.tenant import current_account


async def get_notes(
    user_id: int | None = None,
    deal_id: int | None = None,
    person_id: int | None = None,
    org_id: int | None = None,
    start: int = 0,
    limit: int = 100,
    sort: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    pinned_to_deal_flag: float | None = None,
    pinned_to_organization_flag: float | None = None,
    pinned_to_person_flag: float | None = None,
) -> Response:
    if start_date and end_date and end_date < start_date:
        raise Invalid(f"end_date {end_date} is before start_date {start_date}.")
    notes = current_account().notes
    found = notes.query(
        user_id=user_id,
        links={"deal_id": deal_id, "person_id": person_id, "org_id": org_id},
        pinned={
            "deal_id": _flag(pinned_to_deal_flag),
            "person_id": _flag(pinned_to_person_flag),
            "org_id": _flag(pinned_to_organization_flag),
        },  # fmt: skip
        start_date=start_date,
        end_date=end_date,
        sort=sort,
    )
    return envelope.page(paginate(found, start, limit, notes.render))


async def get_note(id: int) -> Response:
    notes = current_account().notes
    return envelope.one(notes.render(notes.get(id)))


async def add_note(body: dict[str, Any]) -> Response:
    notes = current_account().notes
    return envelope.one(notes.render(notes.create(body)))


async def update_note(id: int, body: dict[str, Any] | None = None) -> Response:
    notes = current_account().notes
    return envelope.one(notes.render(notes.modify(id, body or {})))


async def delete_note(id: int) -> Response:
    return envelope.deleted(current_account().notes.remove(id)["id"])


def _flag(value: float | None) -> int | None:
    return None if value is None else int(value)
