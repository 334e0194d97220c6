"""Filter helpers: the operators, relative dates and address components filters accept."""

from __future__ import annotations

from starlette.responses import Response

from mock_server.domain import filtering
from mock_server.http import envelope


async def get_filter_helpers() -> Response:
    # The same for every tenant: read from the tables the filter evaluator itself uses.
    return envelope.one(filtering.helpers())
