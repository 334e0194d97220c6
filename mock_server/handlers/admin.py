"""The control plane under /__mock__."""

from __future__ import annotations

from starlette.responses import Response

from mock_server import __version__, envelope


async def mock_health() -> Response:
    return envelope.respond({"status": "ok", "version": __version__})
