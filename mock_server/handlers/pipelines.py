"""Pipelines and stages, with the deals in them and their deal totals."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.responses import Response

from mock_server.domain.account import Account
from mock_server.domain.collection import Record, paginate
from mock_server.domain.pipelines import deals_summary
from mock_server.http import envelope
from mock_server.http.tenant import current_account

# The keys a pipeline's or a stage's deals show as plain ids, not as the objects other deal answers expand them into.
STRICT_IDS = ("creator_user_id", "user_id", "person_id", "org_id")


async def get_pipelines(start: int = 0, limit: int = 100) -> Response:
    pipelines = current_account().pipelines
    return envelope.page(paginate(pipelines.ordered(), start, limit, pipelines.render))


async def get_pipeline(id: int) -> Response:
    account = current_account()
    pipeline = account.pipelines.render(account.pipelines.get(id))
    pipeline["deals_summary"] = deals_summary(account, _in_pipeline(account, id))
    return envelope.one(pipeline)


async def add_pipeline(body: dict[str, Any]) -> Response:
    pipelines = current_account().pipelines
    return envelope.one(pipelines.render(pipelines.create(body)))


async def update_pipeline(id: int, body: dict[str, Any] | None = None) -> Response:
    pipelines = current_account().pipelines
    return envelope.one(pipelines.render(pipelines.modify(id, body or {})))


async def delete_pipeline(id: int) -> Response:
    return envelope.deleted(current_account().pipelines.remove(id)["id"])


async def get_pipeline_deals(
    id: int,
    filter_id: int | None = None,
    user_id: int | None = None,
    everyone: float | None = None,
    stage_id: int | None = None,
    start: int = 0,
    limit: int = 100,
    get_summary: float | None = None,
) -> Response:
    account = current_account()
    account.pipelines.get(id)
    if stage_id is not None:
        account.stages.require("stage_id", stage_id)
    deals = (deal for deal in _in_pipeline(account, id) if stage_id is None or deal["stage_id"] == stage_id)
    additional = {"deals_summary": deals_summary(account, _in_pipeline(account, id))} if get_summary else None
    return _deal_page(account, deals, filter_id, user_id, everyone, start, limit, additional)


async def get_stages(pipeline_id: int | None = None, start: int = 0, limit: int = 100) -> Response:
    stages = current_account().stages
    return envelope.page(paginate(stages.ordered(pipeline_id), start, limit, stages.render))


async def get_stage(id: int, everyone: float | None = None) -> Response:
    account = current_account()
    stage = account.stages.render(account.stages.get(id))
    deals = account.deals.where("stage_id", id)
    if not everyone:
        deals = [deal for deal in deals if deal["user_id"] == account.user_id]
    stage["deals_summary"] = deals_summary(account, deals)
    return envelope.one(stage)


async def add_stage(body: dict[str, Any]) -> Response:
    stages = current_account().stages
    return envelope.one(stages.render(stages.create(body)))


async def update_stage(id: int, body: dict[str, Any] | None = None) -> Response:
    stages = current_account().stages
    return envelope.one(stages.render(stages.modify(id, body or {})))


async def delete_stage(id: int) -> Response:
    return envelope.deleted(current_account().stages.remove([id])[0])


async def delete_stages(ids: list[int]) -> Response:
    return envelope.deleted(current_account().stages.remove(ids))


async def get_stage_deals(
    id: int,
    filter_id: int | None = None,
    user_id: int | None = None,
    everyone: float | None = None,
    start: int = 0,
    limit: int = 100,
) -> Response:
    account = current_account()
    account.stages.get(id)
    return _deal_page(account, account.deals.where("stage_id", id), filter_id, user_id, everyone, start, limit)


def _in_pipeline(account: Account, pipeline_id: int) -> list[Record]:
    return [deal for deal in account.deals.active() if deal["pipeline_id"] == pipeline_id]


def _deal_page(
    account: Account,
    deals: Iterable[Record],
    filter_id: int | None,
    user_id: int | None,
    everyone: float | None,
    start: int,
    limit: int,
    additional: dict[str, Any] | None = None,
) -> Response:
    """Open deals: everyone's, one user's, a filter's, or (given none of these) the token's user's."""
    deals = (deal for deal in deals if deal["status"] == "open")
    if everyone:
        pass
    elif user_id is not None:
        account.users.require("user_id", user_id)
        deals = (deal for deal in deals if deal["user_id"] == user_id)
    elif filter_id is not None:
        deals = account.filters.apply(filter_id, "deals", deals)
    else:
        deals = (deal for deal in deals if deal["user_id"] == account.user_id)
    related = account.related()
    result = paginate(deals, start, limit, lambda deal: _strict(account.deals.render(deal, related)))
    return envelope.page(result, related=related.build(), additional=additional)


def _strict(deal: Record) -> Record:
    """A deal as a pipeline's or a stage's deals show it: its users, person and organization as plain ids (the
    service's "strict" deal), their records being in `related_objects`."""
    for key in STRICT_IDS:
        if isinstance(deal[key], dict):
            deal[key] = deal[key]["value"]
    return deal
