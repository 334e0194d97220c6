"""Activities and activity fields."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from starlette.responses import Response

from mock_server.domain.collection import paginate
from mock_server.http import envelope
from mock_server.http.tenant import current_account


async def get_activities(
    user_id: int | None = None,
    filter_id: int | None = None,
    type: list[str] | None = None,
    limit: int = 100,
    start: int = 0,
    start_date: str | None = None,
    end_date: str | None = None,
    done: float | None = None,
) -> Response:
    account = current_account()
    activities = account.activities.query(
        user_id=user_id,
        types=type,
        start_date=start_date,
        end_date=end_date,
        done=None if done is None else int(done),
    )
    if filter_id is not None:
        activities = account.filters.apply(filter_id, "activity", activities)
    related = account.related()
    render = account.activities.kept_renderer(related)
    result = paginate(activities, start, limit, lambda activity: (render(activity), None))
    # Each activity's render is encoded once while it is kept: the page joins their bytes.
    return envelope.page(replace(result, items=envelope.kept_json(result.items)), related=related.build())


async def add_activity(body: dict[str, Any]) -> Response:
    account = current_account()
    activity = account.activities.create(body)
    return _one(activity, status=201)


async def get_activity(id: int) -> Response:
    account = current_account()
    related = account.related()
    return envelope.one(account.activities.render(account.activities.get(id), related), related=related.build())


async def update_activity(id: int, body: dict[str, Any] | None = None) -> Response:
    return _one(current_account().activities.modify(id, body or {}))


async def delete_activities(ids: list[int]) -> Response:
    return envelope.deleted(current_account().activities.remove(ids))


async def get_activity_fields() -> Response:
    fields = current_account().activity_fields.ordered()
    return envelope.page(paginate(fields, 0, max(len(fields), 1), copy.deepcopy))


def _one(activity: dict[str, Any], status: int = 200) -> Response:
    account = current_account()
    related = account.related()
    more = account.activities.more_scheduled_in_context(activity)
    return envelope.one(
        account.activities.render(activity, related),
        status=status,
        related=related.build(),
        additional={"more_activities_scheduled_in_context": more},
    )


async def delete_activity(id: int) -> Response:
    return envelope.deleted(current_account().activities.remove([id])[0])
