"""Deal reports: the summary, the timeline and a deal's flow of updates."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mock_server.errors import NotImplementedYet


async def get_deals_summary(**_: Any) -> Response:
    raise NotImplementedYet("getDealsSummary is not served by this version of the mock yet.")


async def get_deals_timeline(**_: Any) -> Response:
    raise NotImplementedYet("getDealsTimeline is not served by this version of the mock yet.")


async def get_deal_updates(**_: Any) -> Response:
    raise NotImplementedYet("getDealUpdates is not served by this version of the mock yet.")
