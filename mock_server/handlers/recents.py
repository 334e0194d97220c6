"""Recent changes, for incremental syncs."""

from __future__ import annotations

from starlette.responses import Response

from mock_server.domain.recents import recents
from mock_server.http import envelope
from mock_server.http.tenant import current_account


async def get_recents(
    since_timestamp: str, items: list[str] | None = None, start: int = 0, limit: int = 100
) -> Response:
    page, last = recents(current_account(), since_timestamp, items, start, limit)
    return envelope.page(page, additional={"since_timestamp": since_timestamp, "last_timestamp_on_page": last})
