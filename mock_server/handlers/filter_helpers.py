"""Filter helpers: the operators, relative dates and address components filters accept."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mock_server.errors import NotImplementedYet


async def get_filter_helpers(**_: Any) -> Response:
    raise NotImplementedYet("getFilterHelpers is not served by this version of the mock yet.")
