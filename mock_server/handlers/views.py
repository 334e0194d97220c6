"""The computed read views: search, summary, timeline, flow and filter helpers."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mock_server.errors import NotImplementedYet


def _not_yet(operation: str) -> NotImplementedYet:
    return NotImplementedYet(f"{operation} is not served by this version of the mock yet.")


async def search_deals(**_: Any) -> Response:
    raise _not_yet("searchDeals")


async def get_deals_summary(**_: Any) -> Response:
    raise _not_yet("getDealsSummary")


async def get_deals_timeline(**_: Any) -> Response:
    raise _not_yet("getDealsTimeline")


async def get_deal_updates(**_: Any) -> Response:
    raise _not_yet("getDealUpdates")


async def get_filter_helpers(**_: Any) -> Response:
    raise _not_yet("getFilterHelpers")


async def search_item(**_: Any) -> Response:
    raise _not_yet("searchItem")
