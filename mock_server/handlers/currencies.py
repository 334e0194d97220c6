"""Currencies."""

from __future__ import annotations

from starlette.responses import Response

from mock_server.http import envelope
from mock_server.http.tenant import current_account


async def get_currencies(term: str | None = None) -> Response:
    return envelope.one([dict(record) for record in current_account().currencies.search(term)])
