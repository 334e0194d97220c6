"""Search: deals only, and across item types."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mock_server.errors import NotImplementedYet


async def search_deals(**_: Any) -> Response:
    raise NotImplementedYet("searchDeals is not served by this version of the mock yet.")


async def search_item(**_: Any) -> Response:
    raise NotImplementedYet("searchItem is not served by this version of the mock yet.")
