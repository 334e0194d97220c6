"""Deal reports: the summary, the timeline and a deal's flow of updates."""

from __future__ import annotations

from datetime import date

from starlette.responses import Response

from mock_server.domain.collection import paginate
from mock_server.domain.flow import deal_flow, render_update
from mock_server.domain.reports import TimelineQuery, deals_summary, deals_timeline
from mock_server.errors import Invalid
from mock_server.http import envelope
from mock_server.http.tenant import current_account


async def get_deals_summary(
    status: str | None = None, filter_id: int | None = None, user_id: int | None = None, stage_id: int | None = None
) -> Response:
    summary = deals_summary(current_account(), status=status, filter_id=filter_id, user_id=user_id, stage_id=stage_id)
    return envelope.one(summary)


async def get_deals_timeline(
    start_date: str,
    interval: str,
    amount: int,
    field_key: str,
    user_id: int | None = None,
    pipeline_id: int | None = None,
    filter_id: int | None = None,
    exclude_deals: float | None = None,
    totals_convert_currency: str | None = None,
) -> Response:
    try:
        start = date.fromisoformat(start_date)
    except ValueError:
        raise Invalid(f"start_date: '{start_date}' is not a date; give it as YYYY-MM-DD.") from None
    query = TimelineQuery(start, interval, amount, field_key, user_id=user_id, pipeline_id=pipeline_id,
                          filter_id=filter_id, exclude_deals=bool(exclude_deals),
                          convert_to=totals_convert_currency)  # fmt: skip
    # Every deal of the account may be in it: encoded a period at a time and streamed.
    return envelope.streamed_list(deals_timeline(current_account(), query))


async def get_deal_updates(
    id: int, start: int = 0, limit: int = 100, all_changes: str | None = None, items: list[str] | None = None
) -> Response:
    account = current_account()
    entries, related = deal_flow(account, id, all_changes=all_changes == "1", items=items)
    result = paginate(entries, start, limit, lambda entry: render_update(account, entry, related))
    return envelope.page(result, related=related.build())
